"""The local sandbox backend: one lab per sandbox on this host, through the labs library.

Each sandbox is a runtime lab named after the sandbox (its own network namespaces, bridges,
controller and VNFs; switches share the host's Open vSwitch, told apart by the lab name), a
workspace folder ``<state>/work/<sandbox>`` copied from the lab's starter, and a record
``<state>/sandboxes/<sandbox>.json``. With ``network=False`` (the ``workspace`` backend) no
network is built: files are graded statically, which suits flow-file labs and needs no root.

This module holds no lab-specific code: it calls ``sdnlab.labs.session``, ``grading`` and
``sdnlab.runtime.api``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from sdnlab.classroom.errors import ClassroomError, Conflict, NotFound, SandboxError
from sdnlab.classroom.sandbox import MAX_FILE_BYTES, SandboxBackend, workspace_path
from sdnlab.errors import SdnlabError

MAX_FILES = 200


def public_topology(state: dict) -> dict:
    """What a trainee may see of a runtime status: nodes, addresses, links, ports and their state (no pids).

    A link is ``up`` unless it was set down (``sdnlab link down``); a switch is ``connected``
    when its controller connection is established (always false when the lab's controller mode
    is ``none``: the switches then run the trainee's flow files alone).
    """
    hosts = [
        {k: h.get(k) for k in ("name", "ip", "mac", "role") if k in h}
        for h in state.get("hosts", [])
        if isinstance(h, dict)
    ]
    switches = [
        {"name": s.get("name"), "connected": s.get("connected", False)}
        for s in state.get("switches", [])
        if isinstance(s, dict)
    ]
    down = {tuple(sorted(pair)) for pair in state.get("links_down", []) if isinstance(pair, list)}
    links = [
        {
            **{k: link.get(k) for k in ("a", "b", "a_port", "b_port") if k in link},
            "up": tuple(sorted([str(link.get("a")), str(link.get("b"))])) not in down,
        }
        for link in state.get("links", [])
        if isinstance(link, dict)
    ]
    controller = state.get("controller")
    if not isinstance(controller, dict):
        controller = {}
    return {
        "phase": state.get("phase"),
        "controller": controller.get("mode"),  # none: the switches run the trainee's flow files alone
        "hosts": hosts,
        "switches": switches,
        "links": links,
    }


def declared_topology(lab) -> dict:
    """A lab's topology as its file declares it (the workspace backend runs no network: nothing is up)."""
    from sdnlab.labs import live

    topology = live.load_topology(lab)
    return public_topology(
        {
            "phase": "static",
            "hosts": [{"name": h.name, "ip": h.ip, "mac": h.mac, "role": h.role} for h in topology.hosts()],
            "switches": [{"name": s.name, "connected": False} for s in topology.switches()],
            "links": [
                {"a": link.a, "b": link.b, "a_port": link.a_port, "b_port": link.b_port}
                for link in topology.links
            ],
        }
    )


def without_paths(report: dict, folders: list[Path]) -> dict:
    """The report with server folders cut from its texts (a blamed rule at ``flows/s2.flows:3``)."""
    prefixes = sorted(
        {f"{f.resolve()}/" for f in folders} | {f"{f}/" for f in folders}, key=len, reverse=True
    )

    def clean(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        return text

    def clean_path(path: dict) -> dict:
        blame = path.get("blame")
        return {
            **path,
            "outcome": clean(str(path.get("outcome", ""))),
            "blame": {**blame, "where": clean(str(blame.get("where", "")))} if blame else None,
        }

    checks = [
        {
            **c,
            "details": [clean(d) for d in c.get("details", [])],
            "paths": [clean_path(p) for p in c.get("paths", []) if isinstance(p, dict)],
            **({"no_path": clean(str(c["no_path"]))} if c.get("no_path") else {}),
        }
        for c in report.get("checks", [])
    ]
    cleaned = {**report, "checks": checks, "notes": [clean(n) for n in report.get("notes", [])]}
    checked = report.get("checked_by")
    if isinstance(checked, dict):  # how check graded: the replay's findings quote the app's messages
        findings = [
            {
                **f,
                "detail": clean(str(f.get("detail", ""))),
                "messages": [clean(str(m)) for m in f.get("messages", [])],
            }
            for f in checked.get("findings", [])
            if isinstance(f, dict)
        ]
        cleaned["checked_by"] = {
            **checked,
            "reason": clean(str(checked.get("reason", ""))),
            "findings": findings,
        }
    return cleaned


class LocalRunner(SandboxBackend):
    """Sandboxes on this host; ``network=False`` keeps them to a workspace graded statically."""

    has_terminal = True

    def __init__(self, state_dir: Path, network: bool = True):
        self.state = Path(state_dir)
        self.network = network
        self.kind = "local" if network else "workspace"
        self.has_terminal = network
        (self.state / "sandboxes").mkdir(parents=True, exist_ok=True)
        (self.state / "work").mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- records -------------------------------------------------------------------------
    def _lock(self, sandbox: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sandbox, threading.Lock())

    def _record_path(self, sandbox: str) -> Path:
        from sdnlab.runtime import paths

        return self.state / "sandboxes" / f"{paths.check_name(sandbox)}.json"

    def _record(self, sandbox: str) -> dict:
        try:
            return json.loads(self._record_path(sandbox).read_text())
        except (FileNotFoundError, ValueError, SdnlabError):
            raise NotFound(f"no sandbox {sandbox!r}") from None

    def _workdir(self, sandbox: str) -> Path:
        return self.state / "work" / sandbox

    def _variant_dir(self, sandbox: str) -> Path:
        return self.state / "variants" / sandbox

    def _lab(self, record: dict):
        from sdnlab.labs.loader import load_lab

        return load_lab(record.get("lab_path") or record["lab"])

    # -- lifecycle -----------------------------------------------------------------------
    def start(
        self,
        sandbox: str,
        lab_id: str,
        class_name: str = "",
        trainee: str = "",
        session: str = "",
        seed: int | None = None,
    ) -> dict:
        from sdnlab.labs import session as lab_sessions
        from sdnlab.labs import workspace
        from sdnlab.labs.loader import load_lab

        with self._lock(sandbox):
            if self._record_path(sandbox).exists():
                raise Conflict(f"sandbox {sandbox!r} exists already")
            try:
                lab = load_lab(lab_id)
                if seed is not None:  # the seed's variant, rendered where only the server reads it
                    from sdnlab.certification.variants import render

                    shutil.rmtree(self._variant_dir(sandbox), ignore_errors=True)
                    lab = load_lab(render(lab.path, seed, self._variant_dir(sandbox)).path)
            except SdnlabError as exc:
                raise NotFound(str(exc)) from None
            workdir = self._workdir(sandbox)
            shutil.rmtree(workdir, ignore_errors=True)
            record = {"sandbox": sandbox, "lab": lab.id, "workdir": str(workdir), "started_at": time.time()}
            if seed is not None:
                record.update(seed=seed, lab_path=str(lab.path))
            self._record_path(sandbox).write_text(json.dumps(record))
            try:
                if self.network:
                    lab_sessions.start(lab, name=sandbox, workdir=workdir, fresh=True)
                else:
                    workspace.copy_tree(lab.starter_dir, workdir)
            except SdnlabError as exc:
                self._remove(sandbox)
                raise SandboxError(f"lab {lab.id} did not start: {exc}") from None
            except BaseException:
                self._remove(sandbox)
                raise
        from sdnlab.labs.replay_check import keep_warm

        keep_warm(lab)  # when the trainee's Check replays the app: a runner waits, imports done
        return self.status(sandbox)

    def _remove(self, sandbox: str) -> None:
        from sdnlab.labs import session

        if self.network:
            try:
                session.stop(sandbox)
            except SdnlabError:
                pass  # no session record: the network may still be up
            from sdnlab.runtime import api, paths

            if paths.lab_dir(sandbox).exists():
                try:
                    api.down(sandbox)
                except SdnlabError:
                    pass
        shutil.rmtree(self._workdir(sandbox), ignore_errors=True)
        shutil.rmtree(self._variant_dir(sandbox), ignore_errors=True)
        self._record_path(sandbox).unlink(missing_ok=True)

    def stop(self, sandbox: str) -> None:
        with self._lock(sandbox):
            self._remove(sandbox)

    def sandboxes(self) -> list[str]:
        return sorted(p.stem for p in (self.state / "sandboxes").glob("*.json"))

    def status(self, sandbox: str) -> dict:
        record = self._record(sandbox)
        info = {
            "sandbox": sandbox,
            "lab": record["lab"],
            "started_at": record["started_at"],
            "backend": self.kind,
        }
        if not self.network:
            try:
                topology = declared_topology(self._lab(record))
            except SdnlabError:
                topology = None
            return {**info, "state": "ready", "topology": topology}
        from sdnlab.runtime import api

        try:
            state = api.status(sandbox)
        except SdnlabError as exc:
            return {**info, "state": "down", "problem": str(exc), "topology": None}
        phase = state.get("phase")
        return {
            **info,
            "state": "ready" if phase == "ready" else str(phase),
            "problem": state.get("problem"),
            "topology": public_topology(state),
        }

    # -- files ---------------------------------------------------------------------------
    def _file(self, sandbox: str, path: str) -> Path:
        self._record(sandbox)
        rel = workspace_path(path)
        root = self._workdir(sandbox).resolve()
        target = (root / rel).resolve()
        if not target.is_relative_to(root):  # a symlink pointing out of the workspace
            raise ClassroomError(f"file path {path!r}: outside your workspace")
        return target

    def list_files(self, sandbox: str) -> list[dict]:
        self._record(sandbox)
        root = self._workdir(sandbox).resolve()
        files = []
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                files.append({"path": path.relative_to(root).as_posix(), "size": path.stat().st_size})
        return files[:MAX_FILES]

    def read_file(self, sandbox: str, path: str) -> str:
        target = self._file(sandbox, path)
        if not target.is_file():
            raise NotFound(f"no file {path!r} in your workspace")
        if target.stat().st_size > MAX_FILE_BYTES:
            raise ClassroomError(f"file {path!r} is larger than {MAX_FILE_BYTES // 1024} KiB")
        return target.read_bytes().decode("utf-8", "replace")

    def write_file(self, sandbox: str, path: str, text: str) -> None:
        if len(text.encode()) > MAX_FILE_BYTES:
            raise ClassroomError(f"file {path!r}: larger than {MAX_FILE_BYTES // 1024} KiB")
        target = self._file(sandbox, path)
        if target.is_dir():
            raise ClassroomError(f"{path!r} is a folder")
        if not target.exists() and len(self.list_files(sandbox)) >= MAX_FILES:
            raise ClassroomError(f"a workspace holds at most {MAX_FILES} files")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, target)

    # -- grading -------------------------------------------------------------------------
    def deploy(self, sandbox: str) -> dict:
        from sdnlab.labs import session, workspace

        with self._lock(sandbox):
            record = self._record(sandbox)
            try:
                if self.network:
                    session.reset(sandbox)
                else:
                    problems = []
                    for files in workspace.flow_files(Path(record["workdir"])).values():
                        for path in files.values():
                            problems += workspace.check_flow_file(path)
                    if problems:
                        raise ClassroomError("\n".join(problems))
            except ClassroomError:
                raise
            except SdnlabError as exc:
                raise ClassroomError(f"deploy failed: {exc}") from None
        return self.status(sandbox)

    def reset(self, sandbox: str) -> dict:
        from sdnlab.labs import workspace

        with self._lock(sandbox):
            record = self._record(sandbox)
            workspace.copy_tree(self._lab(record).starter_dir, Path(record["workdir"]))
        return self.deploy(sandbox)

    def grade(
        self,
        sandbox: str,
        include_hidden: bool,
        hidden: str | None = None,
        scenarios: list | None = None,
        replay: bool = False,
    ) -> dict:
        from sdnlab.classroom.sandbox import scenario_definitions

        if replay and (include_hidden or scenarios):
            raise ClassroomError(
                "grade: replay grades the public checks only (no hidden checks, no scenarios)"
            )
        chosen = [s for s in scenario_definitions(scenarios or []) if include_hidden or not s.hidden]
        record = self._record(sandbox)
        # the server's hidden checks, sent with the call; a variant (exam task) has its own, rendered
        # from the lab's instructor templates with the variant
        if hidden is not None and record.get("seed") is None:
            from sdnlab import instructor
            from sdnlab.labs.loader import load_lab

            try:
                lab = load_lab(record["lab"], hidden_text=(hidden, f"{record['lab']}/{instructor.HIDDEN}"))
            except SdnlabError as exc:
                raise ClassroomError(f"grading failed: {exc}") from None
        else:
            lab = self._lab(record)
        with self._lock(sandbox):  # never while a deploy of the same sandbox replaces its flows
            return self._grade(sandbox, record, lab, include_hidden, chosen, replay)

    def _grade(
        self, sandbox: str, record: dict, lab, include_hidden: bool, scenarios: list, replay: bool = False
    ) -> dict:
        from sdnlab.labs import grading
        from sdnlab.labs import session as lab_sessions

        try:
            if replay:  # the trainee's Check: as `sdnlab lab check` (by replay, else live or static)
                from sdnlab.labs.replay_check import keep_warm

                keep_warm(lab)  # an agent restarted since the lab started has no spare yet
                result = lab_sessions.check_lab(lab, sandbox, Path(record["workdir"]), network=self.network)
            elif self.network:
                result = grading.grade_live(lab, sandbox, include_hidden=include_hidden)
            else:  # behaviours judged on the workspace's flow files; live probes cannot run here
                result = grading.grade_static(lab, Path(record["workdir"]), include_hidden=include_hidden)
            if result.mode == "static" and lab.needs_live:
                note = "graded statically from the flow files: the workspace backend runs no network"
                result = replace(result, notes=(*result.notes, note))
            measurements = self._measure(sandbox, lab, scenarios)
        except ClassroomError:
            raise
        except SdnlabError as exc:
            raise ClassroomError(f"grading failed: {exc}") from None
        items = tuple(item for item, _ in measurements.values())
        report = replace(result, items=result.items + items).to_dict()
        if scenarios:
            report["measurements"] = {sid: entry for sid, (_, entry) in measurements.items()}
        return without_paths(report, [Path(record["workdir"]), lab.path])

    def _measure(self, sandbox: str, lab, scenarios: list) -> dict:
        """Each scored scenario run on the lab: ``{id: (CheckItem, {"value", "text", "credit"})}``."""
        import math

        from sdnlab.certification.scenarios import scored_item
        from sdnlab.labs import live
        from sdnlab.labs.results import CheckItem

        out: dict = {}
        topology = live.load_topology(lab) if scenarios and self.network else None
        for scenario in scenarios:
            if topology is None:  # the workspace backend runs no network: nothing to measure
                text = "not run: the workspace backend runs no network"
                item = CheckItem(
                    scenario.id, "scenario", scenario.description, scenario.weight, 0.0,
                    scenario.hidden, 1, 0, (text,),
                )  # fmt: skip
                out[scenario.id] = (item, {"value": None, "text": text, "credit": 0.0})
                continue
            item, value = scored_item(scenario, sandbox, topology)
            finite = isinstance(value, (int, float)) and math.isfinite(value)
            out[scenario.id] = (
                item,
                {
                    "value": float(value) if finite else None,
                    "text": item.details[0] if item.details else "",
                    "credit": round(item.score / item.weight, 4) if item.weight else 0.0,
                },
            )
        return out

    def tables(self, sandbox: str) -> dict[str, str]:
        """Flow and group tables of every switch (live: ``ovs-ofctl dump-*``; workspace: the flow files)."""
        from sdnlab.labs import live, workspace

        record = self._record(sandbox)
        out: dict[str, str] = {}
        if not self.network:
            for switch, entry in workspace.flow_files(Path(record["workdir"])).items():
                for kind, path in entry.items():
                    out[f"{switch}.{kind}"] = path.read_text(errors="replace")[:MAX_FILE_BYTES]
            return out
        from sdnlab.runtime import api

        try:
            switches = live.bridges(api.status(sandbox))
        except SdnlabError as exc:
            raise SandboxError(f"tables not collected: {exc}") from None
        for switch, bridge in switches.items():
            for what in ("dump-flows", "dump-groups"):
                proc = subprocess.run(
                    [*workspace.OFCTL, what, bridge],
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=30,
                )
                out[f"{switch}.{what.split('-')[1]}"] = (proc.stdout or proc.stderr)[:MAX_FILE_BYTES]
        return out

    # -- terminal ------------------------------------------------------------------------
    def terminal(self, sandbox: str) -> int:
        """A pseudo-terminal running the restricted trainee shell (``tshell``) of the sandbox."""
        import pty

        if not self.network:
            raise ClassroomError("the workspace backend has no terminals")
        record = self._record(sandbox)
        master, slave = pty.openpty()
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM": "xterm-256color",
            "HOME": record["workdir"],
            "SDNLAB_HOME": os.environ.get("SDNLAB_HOME", ""),
            "SDNLAB_LAB": sandbox,
            "LANG": "C.UTF-8",
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sdnlab.classroom.tshell",
                "--sandbox",
                sandbox,
                "--workdir",
                record["workdir"],
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=record["workdir"],
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        threading.Thread(target=proc.wait, daemon=True).start()  # reap it when the shell exits
        return master
