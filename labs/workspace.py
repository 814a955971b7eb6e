"""Workspaces: the folders a trainee edits (a copy of ``starter/``) and the reference ``solution/``.

A workspace holds ``flows/<switch>.flows`` (ovs-ofctl add-flows lines, OpenFlow 1.3) and
optional ``flows/<switch>.groups`` (add-groups lines), the Ryu app or builtin controller config,
and VNF config files. This module reads a workspace into the grader's ``NetworkState`` (for
static grading) and installs its flows on a running lab's bridges.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sdnlab.labs.errors import LabSessionError

FLOWS_DIR = "flows"


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
        raise LabSessionError(f"{Path(workdir) / FLOWS_DIR}: no switch named {', '.join(unknown)} in the topology "
                              f"(switches: {', '.join(switches)})")
    state = {}
    for switch in switches:
        entry = files.get(switch, {})
        flows = parse_flows(entry["flows"].read_text(), str(entry["flows"])) if "flows" in entry else ()
        groups = parse_groups(entry["groups"].read_text(), str(entry["groups"])) if "groups" in entry else {}
        state[switch] = SwitchState(switch, flows, groups, {})
    return NetworkState(state)


def _ofctl(*argv: str) -> None:
    proc = subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", *argv], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise LabSessionError(f"ovs-ofctl {' '.join(argv)}: {proc.stderr.strip()}")


def install_flows(workdir: Path, bridges: dict[str, str], replace: bool = True) -> int:
    """Install a workspace's groups and flows on the lab's bridges (switch -> bridge); returns files applied."""
    files = flow_files(workdir)
    unknown = sorted(set(files) - set(bridges))
    if unknown:
        raise LabSessionError(f"{Path(workdir) / FLOWS_DIR}: no switch named {', '.join(unknown)} in this lab")
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
            _ofctl("add-flows", bridges[switch], str(entry["flows"]))
            count += 1
    return count


def copy_tree(source: Path, target: Path) -> None:
    """Replace ``target`` by a copy of ``source``."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)


def render_file(path: Path, values: dict[str, str], target: Path) -> Path:
    """Copy a workspace file substituting ``{{name}}`` placeholders (e.g. ``{{controller_url}}``)."""
    text = path.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
