"""The VNF process: ``python -m sdnlab.vnfs.framework.runner --kind K --port inside=eth0 ...``.

It loads the VNF class and its YAML config (failing fast, before touching the network),
prepares the interfaces (up, promiscuous, offloads off so frames never exceed the MTU),
opens one socket per port and worker (one PACKET_FANOUT group per port when there are
several workers), then runs the packet loop in this process (one worker) or in forked
worker processes. Everything it reports lives in ``--state-dir``: ``meta.json`` (what runs,
pid), ``stats-w<N>.json`` per worker (counters, rewritten every second), ``log.jsonl``
(JSON-lines events). SIGHUP reloads the config file in every worker; SIGTERM stops.
With ``--controller URL`` (``sdnlab vnf run`` passes the lab's builtin controller) every
offload request is also posted to ``URL/sdnlab/offload`` on behalf of ``--host``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sdnlab.errors import SdnlabError
from sdnlab.jsonio import write_atomic
from sdnlab.vnfs.framework.config import load_yaml
from sdnlab.vnfs.framework.engine import MODES, Worker, open_ports
from sdnlab.vnfs.framework.eventlog import EventLog
from sdnlab.vnfs.framework.loader import check_vnf, load_vnf_class
from sdnlab.vnfs.framework.rest import ROOT_NETNS_ENV, JsonPoster
from sdnlab.vnfs.kinds import BUILTIN


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line arguments of the VNF process."""
    parser = argparse.ArgumentParser(prog="sdnlab-vnf", description="Run one VNF on raw sockets.")
    parser.add_argument("--kind", required=True, help=f"{', '.join(BUILTIN)} or a .py file")
    parser.add_argument("--name", default=None)
    parser.add_argument("--config", default=None, help="YAML config file")
    parser.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="NAME=IFACE",
        help="a logical port and its interface (one for one-armed, two for bump-in-the-wire)",
    )
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="recv",
        help="recv: one recv/send per frame; rxring: TPACKET_V3 receive ring; "
        "txring: TPACKET_V2 transmit ring; ring: both",
    )
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--pass-host-frames", action="store_true")
    parser.add_argument(
        "--controller",
        default=None,
        metavar="URL",
        help="the builtin controller's REST API: offload requests are posted to URL/sdnlab/offload",
    )
    parser.add_argument(
        "--host",
        default=None,
        help="the lab host this VNF runs in, as the controller's chains name it (default: --name)",
    )
    return parser.parse_args(argv)


def prepare_interface(ifname: str) -> None:
    """Bring the interface up with offloads off (no GRO/GSO super-frames, real checksums)."""
    subprocess.run(["ip", "link", "set", ifname, "up", "promisc", "on"], check=False, capture_output=True)
    subprocess.run(
        ["ethtool", "-K", ifname, "tx", "off", "rx", "off", "gro", "off", "gso", "off", "tso", "off"],
        check=False,
        capture_output=True,
    )


def controller_offloads(vnf, controller_url: str) -> JsonPoster:
    """A poster sending ``vnf``'s offload requests to the controller, counting the outcomes
    (``offload_accepted``, ``offload_refused``) and logging refusals as ``offload_refused``."""

    def on_result(body: dict, ok: bool, detail: str) -> None:
        vnf.count("offload_accepted" if ok else "offload_refused")
        if not ok:
            vnf.log.emit(
                "offload_refused",
                detail=detail,
                flow={k: body.get(k) for k in ("proto", "src", "sport", "dst", "dport")},
            )

    return JsonPoster(
        controller_url.rstrip("/") + "/sdnlab/offload",
        os.environ.get(ROOT_NETNS_ENV),
        on_result,
        name="offload-poster",
    )


def _worker_main(cls, data, args, ports, index: int, state_dir: Path | None) -> None:
    # the worker's log for its whole life (it ends with the process): no with-block to close it
    log_stream = open(state_dir / "log.jsonl", "a", buffering=1) if state_dir else sys.stderr  # noqa: SIM115
    names = tuple(ports)
    vnf = cls(
        data,
        name=args.name or cls.kind,
        ports=names,
        interfaces={n: p.ifname for n, p in ports.items()},
        log=EventLog(args.name or cls.kind, log_stream),
        source=args.config or "<config>",
    )
    if args.workers > 1:
        vnf.log.vnf = f"{vnf.name}/w{index}"
    worker = Worker(
        vnf,
        ports,
        batch=args.batch,
        pass_host_frames=args.pass_host_frames,
        stats_path=(state_dir / f"stats-w{index}.json") if state_dir else None,
        offload_path=(state_dir / "offload.jsonl") if state_dir else None,
        config_path=args.config,
    )
    if args.controller:
        poster = controller_offloads(vnf, args.controller)
        host = args.host or vnf.name
        worker.offload_sink = lambda request: poster.post({**request, "vnf": host})
    worker.install_signals()
    vnf.log.emit("start", ports={n: p.ifname for n, p in ports.items()}, worker=index)
    worker.run()
    vnf.log.emit("stop", worker=index)


def run(argv: list[str] | None = None) -> int:
    """Start the VNF and block until it is stopped; returns the exit status."""
    args = parse_args(argv)
    cls = load_vnf_class(args.kind)
    data = load_yaml(args.config) if args.config else None
    if not args.port:
        raise SdnlabError("give at least one --port NAME=IFACE")
    interfaces = {}
    for item in args.port:
        name, _, ifname = item.partition("=")
        if not name or not ifname:
            raise SdnlabError(f"--port {item!r}: expected NAME=IFACE")
        interfaces[name] = ifname
    # validate the config once before opening sockets, so a bad file fails fast and clearly
    check_vnf(
        cls,
        data,
        name=args.name,
        ports=tuple(interfaces),
        interfaces=interfaces,
        source=args.config or "<config>",
    )
    for ifname in interfaces.values():
        prepare_interface(ifname)
    state_dir = Path(args.state_dir) if args.state_dir else None
    if state_dir:
        state_dir.mkdir(parents=True, exist_ok=True)
        for old in state_dir.glob("stats-w*.json"):
            old.unlink()
    per_worker = open_ports(interfaces, args.workers, args.mode)
    if state_dir:
        meta = {
            "name": args.name,
            "kind": args.kind,
            "config": args.config,
            "pid": os.getpid(),
            "interfaces": interfaces,
            "workers": args.workers,
            "mode": args.mode,
            "started": time.time(),
        }
        write_atomic(state_dir / "meta.json", meta, indent=None, sort_keys=False)
    if args.workers == 1:
        _worker_main(cls, data, args, per_worker[0], 0, state_dir)
        return 0
    children = []
    for index, ports in enumerate(per_worker):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _worker_main(cls, data, args, ports, index, state_dir)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            os._exit(code)
        children.append(pid)
        for port in ports.values():
            port.sock.close()

    def relay(signum, frame):
        for child in children:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass

    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, relay)
    status = 0
    for child in children:
        while True:
            try:
                _, code = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        status = status or (os.waitstatus_to_exitcode(code) if code else 0)
    return status


def main(argv: list[str] | None = None) -> None:
    """Entry point: errors become one line on stderr and exit status 2."""
    try:
        sys.exit(run(argv))
    except SdnlabError as exc:
        print(f"sdnlab-vnf: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
