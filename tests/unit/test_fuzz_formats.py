"""Mutation fuzzing of every user file format: only the project's own errors, never a traceback.

Each format starts from the real files sdnlab ships (catalogue topologies, the labs' lab.yaml,
their VNF and controller configs), mutates them (a value replaced by another type, a key
dropped or added, a list where a scalar belongs, deep nesting, a line of text damaged) and
loads the result through the same function the CLI uses. Anything but an ``SdnlabError``
subclass (TypeError, KeyError, RecursionError, ...) fails the test.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdnlab.errors import SdnlabError
from sdnlab.labs.loader import LAB_FILE, lab_dirs, load_lab, parse_lab
from sdnlab.topologies import catalogue, load_topology_text
from sdnlab.topologies.loader import CATALOGUE_DIR
from sdnlab.yamlsrc import load_yaml

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LABS = lab_dirs()
WORKSPACE_FILES = sorted(
    p for d in LABS for p in load_lab(d, against_topology=False).solution_dir.glob("*.yaml")
)
VNF_CONFIGS = [p for p in WORKSPACE_FILES if p.name != "controller.yaml"]
CONTROLLER_CONFIGS = [p for p in WORKSPACE_FILES if p.name == "controller.yaml"]

_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["h1", "s1", "role:x", "all", "10.0.0.1", "1..3", "i in 1..2", "{n}", "tcp", "-1", ""]),
)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(data, prefix=()):
    """Every (path) to a value inside ``data``, the root included."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, (*prefix, index))


def _set(data, path, value):
    if not path:
        return value
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return data


@st.composite
def mutated_text(draw, base_texts: list[str]):
    """A real file's text with 1-3 structural mutations, or with one line damaged."""
    text = draw(st.sampled_from(base_texts))
    if draw(st.integers(0, 4)) == 0:  # damage the text itself
        lines = text.splitlines()
        index = draw(st.integers(0, max(0, len(lines) - 1)))
        noise = draw(
            st.sampled_from(
                [
                    "[" * 3000,
                    "~: 1",
                    "- ",
                    ": :",
                    "{a: 1, a: 2}",
                    "\t",
                    "&a x",
                    "*b",
                    "!!python/object:os.system x",
                ]
            )
        )
        lines.insert(index, noise if draw(st.booleans()) else (lines[index] if lines else "") + noise)
        return "\n".join(lines)
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(data))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "drop", "add", "wrap"]))
        target = data
        for step in path[:-1]:
            target = target[step]
        if action == "drop" and path and isinstance(target, dict):
            del target[path[-1]]
        elif action == "add" and isinstance(target, dict):
            target[draw(st.text(max_size=6))] = draw(_value)
        elif action == "wrap" and path:
            old = target[path[-1]]
            target[path[-1]] = [old, old] if draw(st.booleans()) else {"x": old}
        else:
            data = _set(data, path, copy.deepcopy(draw(_value)))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _read(paths) -> list[str]:
    return [Path(p).read_text(encoding="utf-8") for p in paths]


TOPOLOGY_TEXTS = _read(CATALOGUE_DIR / f"{name}.yaml" for name in catalogue())
LAB_TEXTS = [(d, (d / LAB_FILE).read_text(encoding="utf-8")) for d in LABS]


def _only_project_errors(call):
    try:
        call()
    except SdnlabError as exc:
        assert str(exc).strip(), "an error without a message"


@FUZZ
@given(mutated_text(TOPOLOGY_TEXTS))
def test_fuzzed_topologies_give_only_project_errors(text):
    _only_project_errors(lambda: load_topology_text(text, "fuzz.yaml"))


@FUZZ
@given(st.integers(0, len(LAB_TEXTS) - 1), st.data())
def test_fuzzed_lab_yaml_gives_only_project_errors(index, data):
    from sdnlab.labs.errors import LabPackageError

    folder, text = LAB_TEXTS[index]
    text = data.draw(mutated_text([text]))
    source = str(folder / LAB_FILE)
    _only_project_errors(lambda: parse_lab(load_yaml(text, source, LabPackageError), folder, source))


@FUZZ
@given(st.sampled_from(VNF_CONFIGS), st.data())
def test_fuzzed_vnf_configs_give_only_project_errors(path, data):
    from sdnlab.vnfs.framework.config import load_yaml_text
    from sdnlab.vnfs.framework.loader import build_vnf, close_vnf, load_vnf_class

    kind = {"fw": "firewall", "lb": "lb", "dpi": "dpi"}[path.stem]
    text = data.draw(mutated_text(_read([path])))

    def run():
        vnf = build_vnf(load_vnf_class(kind), load_yaml_text(text, "fuzz.yaml"), source="fuzz.yaml")
        close_vnf(vnf)

    _only_project_errors(run)


@FUZZ
@given(st.sampled_from(CONTROLLER_CONFIGS), st.data())
def test_fuzzed_controller_configs_give_only_project_errors(path, data):
    from sdnlab.controller.config import parse_config, parse_text

    text = data.draw(mutated_text(_read([path])))
    _only_project_errors(
        lambda: parse_config(parse_text(text, "fuzz.yaml"), "fuzz.yaml", {"h1", "dpi1", "fw1"})
    )


def test_the_fuzzers_start_from_real_files():
    assert len(TOPOLOGY_TEXTS) >= 5 and len(LAB_TEXTS) >= 5
    assert VNF_CONFIGS and CONTROLLER_CONFIGS


def _spec_text(lab_text: str) -> str:
    """A lab's behaviours as a behaviour spec file (``sdnlab grade --spec``), without lab-only keys."""
    behaviours = yaml.safe_load(lab_text)["behaviours"]
    for behaviour in behaviours:
        behaviour.pop("skills", None)
    return yaml.safe_dump({"behaviours": behaviours}, sort_keys=False, allow_unicode=True)


SPEC_TEXTS = [(folder, _spec_text(text)) for folder, text in LAB_TEXTS]


@FUZZ
@given(st.integers(0, len(SPEC_TEXTS) - 1), st.booleans(), st.data())
def test_fuzzed_behaviour_specs_give_only_project_errors(index, with_topology, data):
    from sdnlab.grader.spec import parse_spec
    from sdnlab.labs.live import load_topology
    from sdnlab.labs.loader import load_lab

    folder, text = SPEC_TEXTS[index]
    text = data.draw(mutated_text([text]))
    topology = load_topology(load_lab(folder)) if with_topology else None
    _only_project_errors(lambda: parse_spec(text, "fuzz.yaml", topology))


def test_the_spec_fuzzer_starts_from_valid_specs():
    from sdnlab.grader.spec import parse_spec

    for folder, text in SPEC_TEXTS:
        assert parse_spec(text, f"{folder.name}.yaml"), folder.name
