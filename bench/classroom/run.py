"""Benchmark: N simulated trainees against a real ``sdnlab serve`` (HTTP + the terminal WebSocket).

Each trainee logs in, starts lab 3 (smart meters), runs ``nodes`` in the terminal, writes
and deploys a flow file, checks ``--checks`` times ``--interval`` seconds apart, submits and
stops. The N trainees log in first and then press "start" at the same instant (a barrier).
Steps of N (default 1, 5, 10, 20, 30, 40) run one after the other until a step has a
failure. Reported per step: lab-ready and check latency p50/p95, failures, wall time, the web
server's and the agent's CPU seconds and memory, the host's memory drop, and the largest N
with zero failures.

``--isolation own-ovs|shared`` picks the local backend's isolation (docs/classroom.md; the
comparison of the two is in bench/results/classroom-isolation*.json).
``--modes cold,warm`` runs the steps twice in one run: against a server without a warm pool
(``steps``), then against one started with ``--warm smart_meters=W`` (W = the largest step;
``pool.steps``). Before each warm step the bench waits until the pool is full again, so each
step is a class arriving at a server that had time to prepare; the pool's fill time and the
host memory its idle sandboxes hold are reported (``pool``). Writes bench/results/classroom.json.

    .venv/bin/python -m bench.classroom.run [--steps 1,5,10] [--interval 30] [--checks 3] [--modes cold,warm]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results" / "classroom.json"
LAB = "smart_meters"
FLOW_FILE = "flows/wan.flows"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)


def _proc_stats(pid: int) -> dict:
    """CPU seconds (user+system, with its waited-for children's) and resident memory of a process
    and its live children."""
    pids = [pid]
    try:
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    cpu = rss = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / tick
            if p == pid:  # children that ended and were waited for (lab supervisors come and go)
                cpu += (int(fields[13]) + int(fields[14])) / tick
            rss += int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, IndexError, ValueError):
            pass
    return {"cpu_s": round(cpu, 2), "rss_mib": round(rss, 1)}


def _mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """``sdnlab serve`` in a temporary state folder."""

    def __init__(self, users: int, prefix: str, warm: int = 0, isolation: str = "own-ovs"):
        self.prefix = prefix
        self.isolation = isolation
        self.state = Path(tempfile.mkdtemp(prefix="sdnlab-bench-classroom-"))
        os.chmod(self.state, 0o755)
        csv = "username,password\n" + "".join(f"t{i},password-t{i}\n" for i in range(users))
        (self.state / "users.csv").write_text(csv)
        cli = [sys.executable, "-m", "sdnlab.cli"]
        subprocess.run([*cli, "users", "import", str(self.state / "users.csv"), "--state", str(self.state)],
                       check=True, capture_output=True, timeout=600)  # fmt: skip
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.state / "serve.log", "w")  # noqa: SIM115  # open for the server's lifetime
        self.proc = subprocess.Popen(
            [*cli, "serve", "--state", str(self.state), "--port", str(self.port), "--sandbox-prefix", prefix,
             "--max-sandboxes", str(users + 5), "--isolation", isolation,
             *(["--warm", f"{LAB}={warm}"] if warm else [])],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sdnlab serve did not start: " + (self.state / "serve.log").read_text()[-1000:])

    def metric(self, name: str) -> float:
        """One sample of the server's /metrics (0 when absent)."""
        text = urllib.request.urlopen(self.url + "/metrics", timeout=10).read().decode()
        for line in text.splitlines():
            if line.startswith((name + " ", name + "{")):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def wait_pool(self, target: int, timeout: float = 900.0) -> float:
        """Seconds until the warm pool holds ``target`` ready sandboxes."""
        began = time.perf_counter()
        while self.metric("classroom_pool_ready") < target:
            if time.perf_counter() - began > timeout:
                raise RuntimeError(f"the warm pool did not reach {target} within {timeout:.0f} s")
            time.sleep(0.5)
        return round(time.perf_counter() - began, 1)

    def agent_pid(self) -> int | None:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            return int(children[0]) if children else None
        except OSError:
            return None

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.state, ignore_errors=True)
        # the server keeps running sandboxes over a restart (it reattaches them); this server's
        # state is gone with the bench, so sandboxes of trainees that failed mid-way are taken down
        from sdnlab.runtime import api, paths

        for name in paths.lab_names():
            if name.startswith(self.prefix):
                api.down(name)


def trainee(
    url: str, name: str, checks: int, interval: float, flows: str, out: dict, go: threading.Barrier
) -> None:
    """One simulated trainee; fills ``out`` with timings or the failure."""
    import httpx
    from websockets.sync.client import connect

    out.update(name=name, ready_s=None, checks_s=[], error=None)
    try:
        # idle connections are dropped before the server's keep-alive timeout (5 s) closes them:
        # a request on a connection the server is closing at that instant fails (ECONNRESET)
        limits = httpx.Limits(keepalive_expiry=2.0)
        with httpx.Client(base_url=url, timeout=300, limits=limits) as http:
            answer = http.post("/api/login", json={"username": name, "password": f"password-{name}"})
            answer.raise_for_status()
            http.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
            go.wait(timeout=300)  # every trainee presses "start" at the same instant
            started = time.perf_counter()
            answer = http.post(f"/api/labs/{LAB}/start")
            if answer.status_code != 200:
                raise RuntimeError(f"start: {answer.status_code} {answer.text[:200]}")
            out["ready_s"] = round(time.perf_counter() - started, 3)
            try:
                cookie = http.cookies.get("sdnlab_session")
                ws_url = url.replace("http://", "ws://") + "/api/session/terminal"
                with connect(ws_url, additional_headers={"Cookie": f"sdnlab_session={cookie}"}) as ws:
                    ws.send(json.dumps({"type": "input", "data": "nodes\n"}))
                    screen, deadline = "", time.time() + 60
                    while "switches:" not in screen and time.time() < deadline:
                        screen += ws.recv(timeout=60).decode(errors="replace")
                    if "switches:" not in screen:
                        raise RuntimeError("terminal: no answer to `nodes`")
                http.put(f"/api/session/files/{FLOW_FILE}", json={"content": flows}).raise_for_status()
                http.post("/api/session/deploy").raise_for_status()
                for i in range(checks):
                    if i:
                        time.sleep(interval)
                    begun = time.perf_counter()
                    http.post("/api/session/check").raise_for_status()
                    out["checks_s"].append(round(time.perf_counter() - begun, 3))
                http.post("/api/session/submit").raise_for_status()
            finally:
                http.post("/api/session/stop")
    except Exception as exc:
        go.abort()
        out["error"] = f"{type(exc).__name__}: {exc}"[:300]


def run_step(server: Server, n: int, checks: int, interval: float, flows: str) -> dict:
    """N trainees at once; their timings and the server's resource use."""
    before_web, agent = _proc_stats(server.proc.pid), server.agent_pid()
    before_agent = _proc_stats(agent) if agent else {}
    mem_before = _mem_available_mib()
    outs = [{} for _ in range(n)]
    hits_before = server.metric('classroom_pool_takes_total{outcome="hit"}')
    load_before = round(os.getloadavg()[0], 1)  # other work on the host (a shared machine)
    go = threading.Barrier(n)
    threads = [
        threading.Thread(target=trainee, args=(server.url, f"t{i}", checks, interval, flows, outs[i], go))
        for i in range(n)
    ]
    began = time.perf_counter()
    peak_drop = 0.0
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        peak_drop = max(peak_drop, mem_before - _mem_available_mib())
        time.sleep(0.5)
    wall = time.perf_counter() - began
    after_web = _proc_stats(server.proc.pid)
    after_agent = _proc_stats(agent) if agent else {}
    ready = [o["ready_s"] for o in outs if o.get("ready_s") is not None]
    check_times = [c for o in outs for c in o.get("checks_s", [])]
    failures = [f"{o['name']}: {o['error']}" for o in outs if o.get("error")]
    hits = server.metric('classroom_pool_takes_total{outcome="hit"}') - hits_before
    return {
        "isolation": server.isolation,
        "trainees": n,
        "host_load_1m_before": load_before,
        "pool_hits": int(hits),
        "failures": len(failures),
        "failure_examples": failures[:5],
        "wall_s": round(wall, 1),
        "ready_s": {
            "p50": _percentile(ready, 0.5),
            "p95": _percentile(ready, 0.95),
            "max": max(ready, default=None),
        },
        "check_s": {
            "p50": _percentile(check_times, 0.5),
            "p95": _percentile(check_times, 0.95),
            "n": len(check_times),
        },
        "web_cpu_s": round(after_web["cpu_s"] - before_web["cpu_s"], 2),
        "web_rss_mib": after_web["rss_mib"],
        "agent_cpu_s": round(after_agent.get("cpu_s", 0) - before_agent.get("cpu_s", 0), 2),
        "host_mem_drop_peak_mib": round(peak_drop, 1),
        "host_mem_per_sandbox_mib": round(peak_drop / n, 1) if n else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="1,5,10,20,30,40")
    parser.add_argument("--checks", type=int, default=3)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument(
        "--modes", default="cold,warm", help="cold (no pool), warm (a full warm pool) or both"
    )
    parser.add_argument(
        "--isolation", default="own-ovs", help="the local backend's isolation: own-ovs or shared"
    )
    parser.add_argument("--note", default="shared development machine; other work ran at the same time")
    args = parser.parse_args(argv)
    from sdnlab.labs.loader import load_lab

    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"cold", "warm"}:
        parser.error("--modes: cold, warm or cold,warm")
    flows = (load_lab(LAB).solution_dir / FLOW_FILE).read_text()
    report: dict = {
        "benchmark": "classroom",
        "lab": LAB,
        "checks_per_trainee": args.checks,
        "check_interval_s": args.interval,
        "machine": {"cpus": os.cpu_count(), "mem_total_gib": round(_mem_total_gib(), 1)},
    }
    for mode in modes:
        warm = max(steps) if mode == "warm" else 0
        mem_before = _mem_available_mib()
        server = Server(max(steps), "cbn" + secrets.token_hex(2), warm=warm, isolation=args.isolation)
        results = []
        pool: dict = {}
        try:
            if warm:
                pool["fill_s"] = server.wait_pool(warm)
                time.sleep(5)  # let the last build settle before reading memory
                pool["idle_mem_mib"] = round(mem_before - _mem_available_mib(), 1)
                pool["idle_mem_per_sandbox_mib"] = round(pool["idle_mem_mib"] / warm, 1)
            for n in steps:
                if warm:
                    server.wait_pool(warm)
                step = run_step(server, n, args.checks, args.interval, flows)
                print(json.dumps({"mode": mode, **step}), flush=True)
                results.append(step)
                if step["failures"]:
                    log = (server.state / "serve.log").read_text(errors="replace").splitlines()
                    print("\n".join(["server log (last lines):", *log[-40:]]), file=sys.stderr)
                    break
        finally:
            server.stop()
        ok = [s["trainees"] for s in results if not s["failures"]]
        if mode == "cold":
            report["steps"] = results
            report["largest_n_without_failures"] = max(ok, default=0)
        else:
            report["pool"] = {
                "warm": f"{LAB}={warm}",
                **pool,
                "steps": results,
                "largest_n_without_failures": max(ok, default=0),
            }
    report["note"] = args.note
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print(f"results in {RESULTS}")
    return 0


def _mem_total_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
