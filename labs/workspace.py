"""Workspaces: the folders a trainee edits (a copy of ``starter/``) and the reference ``solution/``.

A workspace holds ``flows/<switch>.flows`` (ovs-ofctl add-flows lines, OpenFlow 1.3) and
optional ``flows/<switch>.groups`` (add-groups lines), the Ryu app or builtin controller config,
and VNF config files. This module reads a workspace into the grader's ``NetworkState`` (for
static grading) and installs its flows on a running lab's bridges: every flow and group file is
checked first (Open vSwitch's own parser, ``ovs-ofctl parse-flows``, without touching a bridge),
and the bridges' previous flows and groups are put back if installing still fails, so a broken
file never leaves a switch empty.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from sdnlab import textfile
from sdnlab.labs.errors import LabSessionError

FLOWS_DIR = "flows"
OFCTL = ("ovs-ofctl", "-O", "OpenFlow13")
UNKNOWN_PORT = re.compile(r"(\S+): invalid or unknown port")


def read_text(path: Path, error=LabSessionError) -> str:
    """The UTF-8 text of a workspace/package file; unreadable or not UTF-8 -> ``error("path:line: ...")``."""
    return textfile.read_text(path, error)


def flow_files(workdir: Path) -> dict[str, dict[str, Path]]:
    """switch -> {"flows": path, "groups": path} for the files present in ``workdir/flows``."""
    found: dict[str, dict[str, Path]] = {}
    directory = Path(workdir) / FLOWS_DIR
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir()):
        if path.suffix in (".flows", ".groups") and path.is_file():
            found.setdefault(path.stem, {})[path.suffix[1:]] = path
    return found


def static_state(workdir: Path, switches: list[str]):
    """The flow state a workspace's flow files would install (unknown switches are an error)."""
    from sdnlab.grader import NetworkState, SwitchState, parse_flows, parse_groups

    files = flow_files(workdir)
    unknown = sorted(set(files) - set(switches))
    if unknown:
        raise LabSessionError(
            f"{Path(workdir) / FLOWS_DIR}: no switch named {', '.join(unknown)} in the topology "
            f"(switches: {', '.join(switches)})"
        )
    state = {}
    for switch in switches:
        entry = files.get(switch, {})
        flows = parse_flows(read_text(entry["flows"]), str(entry["flows"])) if "flows" in entry else ()
        groups = parse_groups(read_text(entry["groups"]), str(entry["groups"])) if "groups" in entry else {}
        state[switch] = SwitchState(switch, flows, groups, {})
    problems = [p for s in state.values() for p in s.undefined_groups()]
    if problems:
        raise LabSessionError("\n".join(problems))
    return NetworkState(state)


def group_problems(entry: dict[str, Path]) -> list[str]:
    """``file:line: group N is not defined`` for one switch's flow and group files (``undefined_groups``)."""
    from sdnlab.grader import SwitchState, parse_flows, parse_groups
    from sdnlab.grader.errors import FlowParseError

    try:
        flows = parse_flows(read_text(entry["flows"]), str(entry["flows"])) if "flows" in entry else ()
        groups = parse_groups(read_text(entry["groups"]), str(entry["groups"])) if "groups" in entry else {}
    except (FlowParseError, LabSessionError):
        return []  # ovs-ofctl's own check reports syntax problems
    return SwitchState("", flows, groups, {}).undefined_groups()


def _run_ofctl(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run ``ovs-ofctl -O OpenFlow13 argv...``; a host without it -> ``LabSessionError`` saying so."""
    try:
        return subprocess.run(
            [*OFCTL, *argv], capture_output=True, text=True, errors="replace", timeout=30, input=stdin
        )
    except FileNotFoundError:
        raise LabSessionError(
            "ovs-ofctl is not installed on this host (Debian package openvswitch-common)"
        ) from None


def _ofctl(*argv: str, stdin: str | None = None) -> str:
    proc = _run_ofctl(*argv, stdin=stdin)
    if proc.returncode != 0:
        raise LabSessionError(f"ovs-ofctl {' '.join(argv)}: {proc.stderr.strip()}")
    return proc.stdout


def ofctl_problem(stderr: str) -> str:
    """ovs-ofctl's one-line complaint without its ``ovs-ofctl:`` prefix."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    text = lines[-1] if lines else "rejected"
    return text[len("ovs-ofctl: ") :] if text.startswith("ovs-ofctl: ") else text


def content_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line, text) of the lines ovs-ofctl reads: blank lines and ``#`` comments skipped."""
    return [
        (n, line.strip())
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#")
    ]


def check_flow_file(path: Path, port_names=frozenset()) -> list[str]:
    """Problems (``file:line: ...``) ovs-ofctl's parser finds in a .flows file, without touching a bridge.

    Port names are resolved only by a live bridge, so a complaint about a name in ``port_names``
    (the bridge's own interfaces) is not a problem.
    """
    try:
        read_text(path)
    except LabSessionError as exc:
        return [str(exc)]
    proc = _run_ofctl("parse-flows", str(path))
    if proc.returncode == 0:
        return []
    problem = ofctl_problem(proc.stderr)
    unknown = UNKNOWN_PORT.search(problem)
    if unknown and unknown.group(1) in port_names:
        return []
    return [problem if problem.startswith(str(path)) else f"{path}: {problem}"]


def check_group_file(path: Path) -> list[str]:
    """Problems (``file:line: ...``) ovs-ofctl's parser finds in a .groups file, line by line."""
    try:
        text = read_text(path)
    except LabSessionError as exc:
        return [str(exc)]
    problems = []
    for number, line in content_lines(text):
        proc = _run_ofctl("parse-group", line)
        if proc.returncode != 0:
            problems.append(f"{path}:{number}: {ofctl_problem(proc.stderr)}")
    return problems


def _port_names(bridge: str) -> frozenset[str]:
    proc = subprocess.run(["ovs-vsctl", "list-ifaces", bridge], capture_output=True, text=True, timeout=30)
    return frozenset(proc.stdout.split()) if proc.returncode == 0 else frozenset()


def check_files(workdir: Path, bridges: dict[str, str]) -> None:
    """Every flow and group file of a workspace parses; else one ``LabSessionError`` naming each file:line."""
    files = flow_files(workdir)
    unknown = sorted(set(files) - set(bridges))
    if unknown:
        raise LabSessionError(
            f"{Path(workdir) / FLOWS_DIR}: no switch named {', '.join(unknown)} in this lab"
        )
    problems = []
    for switch, entry in files.items():
        if "groups" in entry:
            problems += check_group_file(entry["groups"])
        if "flows" in entry:
            own = _port_names(bridges[switch])
            prefix = bridges[switch][: len(bridges[switch]) - len(switch)]
            topology_names = frozenset(n[len(prefix) :] for n in own if n.startswith(prefix))
            problems += check_flow_file(entry["flows"], own | topology_names)
    if not problems:
        problems = [p for entry in files.values() for p in group_problems(entry)]
    _raise_problems(problems)


def _raise_problems(problems: list[str]) -> None:
    if problems:
        if len(problems) == 1:
            raise LabSessionError(f"{problems[0]} (nothing was installed: the switches keep their flows)")
        raise LabSessionError(
            f"{len(problems)} invalid flow lines, nothing was installed (the switches keep their "
            "flows):\n  " + "\n  ".join(problems)
        )


def topology_port_names(topology, switch: str) -> frozenset[str]:
    """The interface names a topology gives switch ``switch`` (``dc1-eth1``...), usable in its flow files."""
    names = set()
    for link in topology.links:
        for end, intf in ((link.a, link.a_intf), (link.b, link.b_intf)):
            if end == switch:
                names.add(intf)
    return frozenset(names)


def check_offline(workdir: Path, topology) -> None:
    """Every flow and group file of a workspace parses, with no running lab (else ``LabSessionError``)."""
    switches = [s.name for s in topology.switches()]
    files = flow_files(workdir)
    unknown = sorted(set(files) - set(switches))
    if unknown:
        raise LabSessionError(
            f"{Path(workdir) / FLOWS_DIR}: no switch named {', '.join(unknown)} in the topology "
            f"(switches: {', '.join(switches)})"
        )
    problems = []
    for switch, entry in files.items():
        if "groups" in entry:
            problems += check_group_file(entry["groups"])
        if "flows" in entry:
            problems += check_flow_file(entry["flows"], topology_port_names(topology, switch))
    _raise_problems(problems)


def translate_ports(text: str, switch: str, bridge: str) -> str:
    """Topology port names of ``switch`` (``dc1-eth1``) as the running lab's (``l1dc1-eth1``).

    A workspace is valid whichever slot its lab runs in: labs beside others get prefixed bridge
    names, so names in flow files are translated before they reach the bridge.
    """
    if switch == bridge:
        return text
    pattern = re.compile(r"(?<![\w-])" + re.escape(switch) + r"-eth(\d+)(?![\w-])")
    return pattern.sub(lambda m: f"{bridge}-eth{m.group(1)}", text)


def snapshot(bridge: str) -> tuple[str, str]:
    """A bridge's flows and groups as add-flows / add-groups text (to put back after a failed install)."""
    flows = _ofctl("--no-names", "--no-stats", "dump-flows", bridge)
    groups = _ofctl("--no-names", "dump-groups", bridge)
    group_lines = [line for line in groups.splitlines() if line.strip().startswith("group_id=")]
    return flows, "\n".join(group_lines) + "\n"


def restore(bridge: str, saved: tuple[str, str]) -> None:
    flows, groups = saved
    _ofctl("del-flows", bridge)
    _ofctl("del-groups", bridge)
    if groups.strip():
        _ofctl("add-groups", bridge, "-", stdin=groups)
    if flows.strip():
        _ofctl("add-flows", bridge, "-", stdin=flows)


def install_flows(workdir: Path, bridges: dict[str, str], replace: bool = True) -> int:
    """Install a workspace's groups and flows on the lab's bridges (switch -> bridge); returns files applied.

    Every file is checked before any bridge is touched; if installing still fails, each bridge
    gets back the flows and groups it had.
    """
    check_files(workdir, bridges)
    files = flow_files(workdir)
    saved = {bridge: snapshot(bridge) for bridge in bridges.values()}
    try:
        return _install(files, bridges, replace)
    except LabSessionError as exc:
        try:
            for bridge, state in saved.items():
                restore(bridge, state)
        except LabSessionError as again:
            raise LabSessionError(f"{exc}; putting the previous flows back failed too: {again}") from None
        raise LabSessionError(f"{exc} (the switches' previous flows were put back)") from None


def _install(files: dict, bridges: dict[str, str], replace: bool) -> int:
    if replace:
        for bridge in bridges.values():
            _ofctl("del-flows", bridge)
            _ofctl("del-groups", bridge)
    count = 0
    for switch, entry in files.items():
        if "groups" in entry:
            _ofctl("add-groups", bridges[switch], str(entry["groups"]))
            count += 1
        if "flows" in entry:
            path = entry["flows"]
            text = translate_ports(read_text(path), switch, bridges[switch])
            try:
                _ofctl("add-flows", bridges[switch], "-", stdin=text)
            except LabSessionError as exc:  # name the trainee's file, not ovs-ofctl's stdin
                raise LabSessionError(str(exc).replace(" -:", f" {path}:")) from None
            count += 1
    return count


def copy_tree(source: Path, target: Path) -> None:
    """Replace ``target`` by a copy of ``source``; a target that cannot be written -> ``LabSessionError``."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise LabSessionError(f"{target}: exists and is not a folder; give --workdir a folder")
    try:
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)
    except OSError as exc:
        raise LabSessionError(f"{target}: cannot create the workspace: {exc.strerror or exc}") from None


def render_file(path: Path, values: dict[str, str], target: Path) -> Path:
    """Copy a workspace file substituting ``{{name}}`` placeholders (e.g. ``{{controller_url}}``)."""
    text = read_text(path)
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
