"""Lab texts (README.md, README.ja.md, hints) name real workspace files, real ports and the session.

Every file a text mentions exists in the trainee's workspace (the starter) or is one the
trainee writes (it is in the solution); every ``sX N=node`` port list and every ``node-ethN``
interface matches the lab's topology; no text hard-codes a session name: commands say
``--name {{session}}``, which ``fill_session`` replaces with the trainee's own session.
"""

from __future__ import annotations

import re

import pytest

from sdnlab.labs.live import load_topology
from sdnlab.labs.loader import catalogue
from sdnlab.labs.render import SESSION, fill_session

LABS = catalogue()
FILE = re.compile(r"(?:~/\.sdnlab/work/\w+/)?((?:[\w*-]+/)*[\w*-]+\.(?:flows|groups|meters|py|yaml|yml))\b")
PORT_LIST = re.compile(r"\b([a-z][a-z0-9]*)(?:\s*は)?\s+((?:\d+=[a-z][a-z0-9]*[\s、]*)+)")
INTERFACE = re.compile(r"\b([a-z][a-z0-9]*)-eth(\d+)\b")
NAME_OPTION = re.compile(r"--name\s+([^\s`)]+)")


def texts(lab) -> list[tuple[str, str]]:
    """(where, text) of every text a trainee reads."""
    found = [(name, (lab.path / name).read_text(encoding="utf-8")) for name in ("README.md", "README.ja.md")]
    for i, hint in enumerate(lab.hints, 1):
        found += [(f"hint {i} ({lang})", hint.get(lang)) for lang in ("en", "ja")]
    return found


def ports(lab) -> set[tuple[str, int, str]]:
    """(node, port, peer) of every link end in the lab's topology."""
    result = set()
    for link in load_topology(lab).links:
        result.add((link.a, link.a_port, link.b))
        result.add((link.b, link.b_port, link.a))
    return result


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_files_a_text_mentions_are_in_the_workspace(lab):
    workspace = {p.relative_to(lab.starter_dir).as_posix() for p in lab.starter_dir.rglob("*") if p.is_file()}
    written = {p.relative_to(lab.solution_dir).as_posix() for p in lab.solution_dir.rglob("*") if p.is_file()}
    for where, text in texts(lab):
        for match in FILE.finditer(text):
            path = match.group(1)
            if path in ("lab.yaml",) or path.startswith(("ryu/", "os_ken/")):
                continue
            assert not path.startswith(("starter/", "solution/")), (
                f"{lab.id} {where}: {path}: not a workspace path"
            )
            pattern = re.compile(re.escape(path).replace(r"\*", "[^/]*") + "$")
            assert any(pattern.search(f) for f in workspace | written), f"{lab.id} {where}: no file {path}"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_ports_a_text_mentions_exist_in_the_topology(lab):
    links = ports(lab)
    nodes = {node for node, _, _ in links}
    for where, text in texts(lab):
        for match in PORT_LIST.finditer(text):
            node = match.group(1)
            if node not in nodes:
                continue
            for number, peer in re.findall(r"(\d+)=([a-z][a-z0-9]*)", match.group(2)):
                assert (node, int(number), peer) in links, (
                    f"{lab.id} {where}: {node} port {number} is not {peer}"
                )
        for node, number in INTERFACE.findall(text):
            if node in nodes:
                assert any(n == node and p == int(number) for n, p, _ in links), (
                    f"{lab.id} {where}: {node} has no port {number}"
                )


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_commands_in_texts_name_the_session_not_a_fixed_lab(lab):
    for where, text in texts(lab):
        for value in NAME_OPTION.findall(text):
            assert value.strip("`") == SESSION, f"{lab.id} {where}: --name {value} (write --name {SESSION})"


def test_the_session_name_is_filled_in_when_a_text_is_shown():
    text = "run `sdnlab flows dump --name {{session}}` and `sdnlab status --name {{session}}`"
    assert (
        fill_session(text, "alice") == "run `sdnlab flows dump --name alice` and `sdnlab status --name alice`"
    )


def test_lab_2_diagram_ports_match_the_tree():
    lab = next(lab for lab in LABS if lab.id == "l2_learning")
    links = ports(lab)
    assert ("s2", 2, "h1") in links and ("s2", 3, "h2") in links
    readme = (lab.path / "README.md").read_text()
    assert "Ports: s1 1=s2 2=s3; s2 1=s1 2=h1 3=h2; s3 1=s1 2=h3 3=h4." in readme


def test_the_old_hint_path_would_be_caught():
    lab = next(lab for lab in LABS if lab.id == "static_flows")
    assert FILE.search("read starter/flows/s1.flows").group(1) == "starter/flows/s1.flows"
    assert (lab.starter_dir / "flows" / "s1.flows").is_file()


def test_a_port_list_that_disagrees_with_the_topology_is_caught():
    lab = next(lab for lab in LABS if lab.id == "static_flows")
    links = ports(lab)
    wrong = PORT_LIST.search("Ports: s2 1=h1")
    assert wrong and ("s2", 1, "h1") not in links
