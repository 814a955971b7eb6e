"""Loading lab packages: ``labs/<id>/lab.yaml`` validated into a ``Lab``, every problem reported at once.

Errors name the file, the line and the field (``lab.yaml:12: controller.mode: expected one of
none, builtin, app (got 'ryu')``) and are raised together as one ``LabPackageError``. Code past
the loader sees only typed objects.
"""

from __future__ import annotations

import re
from pathlib import Path

from sdnlab.labs.errors import LabPackageError
from sdnlab.labs.model import (
    CONTROLLER_MODES,
    LANGUAGES,
    LEVELS,
    SKILLS,
    ControllerSpec,
    Lab,
    LabProbe,
    ScenarioStep,
    Text,
    TopologyRef,
    VnfSpec,
)
from sdnlab.labs.workspace import read_text
from sdnlab.problems import Problems
from sdnlab.yamlsrc import YMap, YSeq, line_of, load_yaml

LAB_FILE = "lab.yaml"
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
TOP_KEYS = {
    "id",
    "number",
    "title",
    "summary",
    "level",
    "minutes",
    "skills",
    "topology",
    "controller",
    "vnfs",
    "scenario",
    "scored",
    "behaviours",
    "probes",
    "hints",
}
STEP_KINDS = {
    "pingall": set(),
    "rest": {"method", "path", "body"},
    "ping": {"src", "dst", "count"},
    "telnet_scan": {"src", "targets", "port"},
    "sleep": {"seconds"},
    "settle": {"stable_s", "timeout_s"},
    "static_arp": {"hosts", "ip", "mac"},
}
PROBE_KINDS = {
    "ping": {"src", "dst", "expect", "count"},
    "tcp": {"src", "dst", "port", "expect", "servers"},
    "quarantined": {"hosts"},
    "vnf_seen": {"vnfs"},
    "failover_loss": {"src", "dst", "cut", "max_loss_ms", "port"},
    "spread": {"src", "dst", "port", "switch", "over", "flows", "min_share"},
    "rate": {"src", "dst", "port", "min_mbit", "max_mbit", "seconds"},
    "rest": {"method", "path", "body", "status", "contains"},
}
EXPECT = ("reach", "blocked")
COMMON_PROBE_KEYS = {"id", "description", "weight", "hidden", "skills"}  # skills: see _check_skills


def labs_root() -> Path:
    """The folder holding the lab packages (this package's own folder)."""
    return Path(__file__).resolve().parent


def lab_dirs(root: Path | None = None) -> list[Path]:
    """Every folder under ``root`` that holds a lab.yaml, in catalogue order (number, then name)."""
    root = root or labs_root()
    folders = [p.parent for p in root.glob(f"*/{LAB_FILE}")]
    return sorted(folders, key=lambda d: (_peek_number(d / LAB_FILE) or 10**9, d.name))


def catalogue(root: Path | None = None, against_topology: bool = False) -> tuple[Lab, ...]:
    """Every lab package, validated, in catalogue (number) order.

    Listing skips the checks against each lab's topology (about a second for the catalogue);
    ``load_lab`` of the lab to run makes them, before any network starts."""
    labs = [load_lab(d, against_topology=against_topology) for d in lab_dirs(root)]
    numbers: dict[int, str] = {}
    for lab in labs:
        if lab.number in numbers:
            raise LabPackageError(
                f"{lab.path / LAB_FILE}: number: {lab.number} is already used by lab {numbers[lab.number]!r}"
            )
        numbers[lab.number] = lab.id
    return tuple(sorted(labs, key=lambda lab: lab.number))


def find_lab_dir(ref: str | Path, root: Path | None = None) -> Path:
    """A lab folder from an id, a catalogue number or a path."""
    text = str(ref)
    path = Path(text)
    if (path / LAB_FILE).is_file():
        return path
    root = root or labs_root()
    if (root / text / LAB_FILE).is_file():
        return root / text
    if text.isdigit():
        for d in lab_dirs(root):
            number = _peek_number(d / LAB_FILE)
            if number == int(text):
                return d
    known = ", ".join(d.name for d in lab_dirs(root))
    raise LabPackageError(f"no lab {text!r} (labs: {known or 'none'})")


def _peek_number(path: Path) -> int | None:
    match = re.search(r"^number:\s*(\d+)\s*$", path.read_bytes().decode("utf-8", "replace"), re.MULTILINE)
    return int(match.group(1)) if match else None


def load_lab(
    ref: str | Path,
    root: Path | None = None,
    against_topology: bool = True,
    hidden_text: tuple[str, str] | None = None,
) -> Lab:
    """One lab package, by id, number or folder path; with ``against_topology``, everything it
    names in its topology is checked in the same pass (see ``parse_lab``).

    The lab's instructor part (``sdnlab.instructor``: reference solution, ``hidden.yaml``) is
    merged when this machine has it; without it the lab has its public checks only.
    ``hidden_text``: (text, file name) of a hidden.yaml given by the caller instead (a classroom
    server sends its hidden checks to a sandbox with each grade call)."""
    from sdnlab import instructor

    directory = find_lab_dir(ref, root).resolve()
    source = directory / LAB_FILE
    data = load_yaml(read_text(source, LabPackageError), str(source), LabPackageError)
    part = instructor.lab_part(directory)
    hidden = None
    if hidden_text is not None:
        hidden = (load_yaml(hidden_text[0], hidden_text[1], LabPackageError), hidden_text[1])
    elif part is not None and (part / instructor.HIDDEN).is_file():
        hidden_source = part / instructor.HIDDEN
        text = read_text(hidden_source, LabPackageError)
        hidden = (load_yaml(text, str(hidden_source), LabPackageError), str(hidden_source))
    return parse_lab(data, directory, str(source), against_topology, instructor_dir=part, hidden=hidden)


class _Errors(Problems):
    """Lab problems; a field given without a line gets the line of its top-level key."""

    def __init__(self, source: str, data: dict | None = None):
        super().__init__(source, LabPackageError)
        self.data = data if isinstance(data, dict) else {}

    def add(self, line: int | None, field: str, message: str) -> None:
        top = re.split(r"[.\[]", field, maxsplit=1)[0]
        if not line and top in self.data:
            line = line_of(self.data, top)
        super().add(line, field, message)


def _line(raw, key=None, default: int = 0) -> int:
    """The line of ``raw[key]`` (or of ``raw`` itself) when ``raw`` came from the YAML reader."""
    return line_of(raw, key) or default if isinstance(raw, (YMap, YSeq)) else default


def _text(raw, field: str, line: int, errors: _Errors, required: bool = True) -> Text:
    if raw is None and not required:
        return Text("", "")
    if not isinstance(raw, dict):
        errors.add(line, field, f"expected a mapping with {' and '.join(LANGUAGES)} texts")
        return Text("", "")
    values = {}
    for lang in LANGUAGES:
        value = raw.get(lang)
        if not isinstance(value, str) or not value.strip():
            errors.add(_line(raw, lang, line), f"{field}.{lang}", "missing text")
            value = ""
        values[lang] = value.strip()
    extra = set(map(str, raw)) - set(LANGUAGES)
    if extra:
        errors.add(_line(raw, default=line), field, f"unknown language(s) {', '.join(sorted(extra))}")
    return Text(**values)


def _selector_list(value) -> list[str] | None:
    """A non-empty selector or list of selectors, else None."""
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return list(value)
    return None


def _whole(value, low: float, high: float | None = None) -> bool:
    """An integer (not a bool) within [low, high]."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )


def _real(value, low: float, high: float | None = None, open_low: bool = False) -> bool:
    """A number (not a bool) within (or from) low to high."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return (value > low if open_low else value >= low) and (high is None or value <= high)


PORT_RANGE = (1, 65535)


def _check_numbers(args: dict, specs, line: int, field: str, errors: _Errors) -> None:
    """Optional numeric arguments: ``specs`` is ((key, check, wanted), ...); present and wrong -> an error."""
    for key, check, wanted in specs:
        if key in args and not check(args[key]):
            errors.add(_line(args, key, line), f"{field}.{key}", f"expected {wanted} (got {args[key]!r})")


HIDDEN_KEYS = {"behaviours", "probes"}


def parse_lab(
    data,
    directory: Path,
    source: str,
    against_topology: bool = True,
    instructor_dir: Path | None = None,
    hidden: tuple | None = None,
) -> Lab:
    """Validate lab.yaml data (read by ``sdnlab.yamlsrc``) into a ``Lab``; every problem at once.

    ``instructor_dir``: the lab's instructor part (None: not on this machine); ``hidden``: the
    data and file name of its ``hidden.yaml`` (behaviours and probes, all hidden)."""
    errors = _Errors(source, data)
    if not isinstance(data, dict):
        raise LabPackageError(f"{source}: expected a mapping at the top level")
    hidden_data, hidden_source = hidden if hidden is not None else (None, "")
    hidden_errors = _Errors(hidden_source, hidden_data)
    if hidden is not None and not isinstance(hidden_data, dict):
        hidden_errors.add(None, "(top level)", "expected a mapping with behaviours and/or probes")
        hidden_data = {}
    elif hidden is not None:
        for key in sorted(set(map(str, hidden_data)) - HIDDEN_KEYS):
            hidden_errors.add(None, key, "unknown key (a hidden.yaml holds behaviours and probes)")
    _no_hidden_here(data, errors)
    for key in sorted(set(map(str, data)) - TOP_KEYS):
        errors.add(None, key, f"unknown key (expected some of: {', '.join(sorted(TOP_KEYS))})")

    lab_id = data.get("id")
    if not isinstance(lab_id, str) or not ID_PATTERN.match(lab_id):
        errors.add(None, "id", "expected lower-case letters, digits and '_' (2-40 characters)")
        lab_id = directory.name
    elif lab_id != directory.name:
        errors.add(None, "id", f"{lab_id!r} differs from the folder name {directory.name!r}")
    number = data.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        errors.add(None, "number", "expected a positive integer")
        number = 0
    title = _text(data.get("title"), "title", 0, errors)
    summary = _text(data.get("summary"), "summary", 0, errors, required=False)
    level = data.get("level")
    if level not in LEVELS:
        errors.add(None, "level", f"expected one of {', '.join(LEVELS)} (got {level!r})")
        level = ""
    minutes = data.get("minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
        errors.add(None, "minutes", "expected a positive integer (estimated time)")
        minutes = 0
    skills = _skills(data.get("skills"), errors)
    topology = _topology(data.get("topology"), directory, errors)
    workspaces: tuple = (("starter", directory / "starter"),)
    if instructor_dir is not None:  # the reference needs the same files (where this machine has it)
        solution = Path(instructor_dir) / "solution"
        workspaces += ((str(solution), solution),)
    controller = _controller(data.get("controller"), workspaces, errors)
    vnfs = _vnfs(data.get("vnfs"), workspaces, errors)
    scenario = _scenario(data.get("scenario"), errors)
    scored_at = _scored(data.get("scored"), errors)  # (index in the file, scenario)
    scored = tuple(s for _, s in scored_at)
    for key in ("behaviours", "probes", "scored"):  # `skills:` on a check is read by sdnlab.certification
        _check_skills(data.get(key), key, errors)
        _check_skills((hidden_data or {}).get(key), key, hidden_errors)
    odd_keys = _keys_that_are_not_names(data)
    for line, field, odd in odd_keys:
        errors.add(line, field, f"key {odd!r} is not a name (keys are words such as 'src')")
    hidden_odd = _keys_that_are_not_names(hidden_data or {})
    for line, field, odd in hidden_odd:
        hidden_errors.add(line, field, f"key {odd!r} is not a name (keys are words such as 'src')")
    if any(field.startswith("behaviours") for _, field, _ in odd_keys + hidden_odd):
        behaviours: tuple = ()  # the spec parser expects names as keys; the problems are reported
    else:
        behaviours = _behaviours(data, source, errors, (hidden_data, hidden_source) if hidden else None)
    probes = _probes(data.get("probes"), errors)
    hidden_probes = _probes((hidden_data or {}).get("probes"), hidden_errors, hidden=True)
    check_texts = _check_texts(data, errors) | _check_texts(hidden_data or {}, hidden_errors)
    hints = _hints(data.get("hints"), errors)
    for lang in LANGUAGES:
        readme = directory / ("README.ja.md" if lang == "ja" else "README.md")
        try:
            text = read_text(readme, LabPackageError) if readme.is_file() else ""
        except LabPackageError as exc:
            errors.add_located(str(exc))
            continue
        if not text.strip():
            errors.add(None, "texts", f"{readme.name} ({lang} task text) is missing or empty")
    if not (directory / "starter").is_dir():
        errors.add(None, "starter", "folder starter/ is missing")
    if (directory / "solution").exists():
        errors.add(
            None,
            "solution",
            f"{directory / 'solution'}: the reference solution is instructor data: move it to "
            f"instructor/labs/{directory.name}/solution (see docs/labs.md)",
        )
    if instructor_dir is not None and not (Path(instructor_dir) / "solution").is_dir():
        errors.add(None, "solution", f"folder {Path(instructor_dir) / 'solution'}/ is missing")
    if against_topology and topology.source and not any(": topology" in item for item in errors.items):
        _check_against_topology(
            topology,
            behaviours,
            probes,
            scenario,
            vnfs,
            data,
            errors,
            scored_at,
            (hidden_probes, hidden_errors),
        )
    probes = probes + hidden_probes
    ids = [b.id for b in behaviours] + [p.id for p in probes]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        errors.add(None, "probes", f"id {dup!r} is used twice (by a behaviour or a probe)")
    for i, item in scored_at:
        if item.id in ids or [s.id for s in scored].count(item.id) > 1:
            errors.add(_line(data["scored"][i], "id"), f"scored[{i}].id", f"id {item.id!r} is used twice")
    errors.items += hidden_errors.items
    errors.check()
    return Lab(
        lab_id,
        number,
        title,
        summary,
        level,
        minutes,
        skills,
        topology,
        controller,
        vnfs,
        scenario,
        behaviours,
        probes,
        hints,
        directory,
        scored,
        Path(instructor_dir) if instructor_dir is not None else None,
        hidden is not None,
        check_texts,
    )


def _no_hidden_here(data: dict, errors: _Errors) -> None:
    """A lab.yaml (installed, readable by trainees) declares no hidden check."""
    for key in ("behaviours", "probes"):
        raw = data.get(key)
        for i, item in enumerate(raw if isinstance(raw, list) else ()):
            if isinstance(item, dict) and "hidden" in item:
                errors.add(
                    _line(item, "hidden", _line(raw, i)),
                    f"{key}[{i}].hidden",
                    "hidden checks are instructor data: move the check to "
                    f"instructor/labs/{data.get('id')}/hidden.yaml (see docs/labs.md)",
                )


def _check_texts(data, errors: _Errors) -> dict[str, Text]:
    """Each check's description in every language (``description: TEXT`` is English only)."""
    texts: dict[str, Text] = {}
    for key in ("behaviours", "probes", "scored"):
        raw = data.get(key)
        for i, item in enumerate(raw if isinstance(raw, list) else ()):
            if not isinstance(item, dict) or item.get("id") is None:
                continue
            value = item.get("description")
            line = _line(item, "description", _line(raw, i))
            if isinstance(value, dict):
                texts[str(item["id"])] = _text(value, f"{key}[{i}].description", line, errors)
            elif isinstance(value, str) and value.strip():
                texts[str(item["id"])] = Text(value.strip(), value.strip())
    return texts


def _check_skills(raw, key: str, errors: _Errors) -> None:
    """Each check's ``skills: {SKILL_ID: LEVEL}`` has that shape (the ids are checked by certification)."""
    for i, item in enumerate(raw if isinstance(raw, list) else ()):
        if not isinstance(item, dict) or "skills" not in item:
            continue
        value = item["skills"]
        pairs = list(value.items()) if isinstance(value, dict) else []
        if not pairs or not all(isinstance(k, str) and _whole(v, 1, 9) for k, v in pairs):
            errors.add(
                _line(item, "skills", _line(raw, i)),
                f"{key}[{i}].skills",
                "expected a mapping of skill id to a level number",
            )


def _skills(raw, errors: _Errors) -> dict:
    if not isinstance(raw, dict) or not raw:
        errors.add(None, "skills", f"expected a mapping of {', '.join(SKILLS)} to a weight 1..5")
        return {}
    skills = {}
    for key, value in raw.items():
        if key not in SKILLS:
            errors.add(
                _line(raw, key), f"skills.{key}", f"unknown skill (expected one of {', '.join(SKILLS)})"
            )
        elif not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            errors.add(_line(raw, key), f"skills.{key}", f"expected an integer 1..5 (got {value!r})")
        else:
            skills[key] = value
    return skills


def _topology(raw, directory: Path, errors: _Errors) -> TopologyRef:
    if not isinstance(raw, dict):
        errors.add(
            None, "topology", "expected a mapping with 'name' (catalogue) or 'file' (in the lab folder)"
        )
        return TopologyRef("")
    line = _line(raw)
    for key in sorted(set(map(str, raw)) - {"name", "file", "params"}):
        errors.add(_line(raw, key), f"topology.{key}", "unknown key (expected name, file, params)")
    name, file = raw.get("name"), raw.get("file")
    if bool(name) == bool(file):
        errors.add(line, "topology", "give exactly one of 'name' (catalogue topology) or 'file'")
        return TopologyRef("")
    if file:
        path = directory / str(file)
        if not path.is_file():
            errors.add(_line(raw, "file"), "topology.file", f"no such file {file}")
        source = str(path)
    else:
        source = str(name)
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        errors.add(_line(raw, "params"), "topology.params", "expected a mapping of parameter names to values")
        params = {}
    params = dict(params)
    return TopologyRef(source, params)


def _controller(raw, workspaces: tuple, errors: _Errors) -> ControllerSpec:
    if raw is None:
        raw = {"mode": "none"}
    if not isinstance(raw, dict):
        errors.add(None, "controller", "expected a mapping with 'mode'")
        return ControllerSpec("none")
    line = _line(raw)
    for key in sorted(set(map(str, raw)) - {"mode", "app", "config"}):
        errors.add(_line(raw, key), f"controller.{key}", "unknown key (expected mode, app, config)")
    mode = raw.get("mode")
    if mode not in CONTROLLER_MODES:
        errors.add(
            _line(raw, "mode", line),
            "controller.mode",
            f"expected one of {', '.join(CONTROLLER_MODES)} (got {mode!r})",
        )
        return ControllerSpec("none")
    file = None
    if mode == "app":
        file = raw.get("app")
        if not isinstance(file, str) or not file.endswith(".py"):
            errors.add(
                _line(raw, "app", line),
                "controller.app",
                "expected the trainee's Ryu app file name (a .py in the workspace)",
            )
            file = None
    elif mode == "builtin":
        file = raw.get("config")
        if file is not None and not isinstance(file, str):
            errors.add(_line(raw, "config", line), "controller.config", "expected a workspace file name")
            file = None
    elif raw.get("app") or raw.get("config"):
        errors.add(line, "controller", "mode none takes no app or config")
    if file:
        _workspace_file(
            workspaces,
            file,
            _line(raw, "app" if mode == "app" else "config", line),
            f"controller.{'app' if mode == 'app' else 'config'}",
            errors,
        )
    return ControllerSpec(mode, file)


def _workspace_file(workspaces: tuple, file: str, line: int, field: str, errors: _Errors) -> None:
    """``file`` is in each workspace: ``workspaces`` is ((shown name, folder), ...)."""
    for shown, folder in workspaces:
        if folder.is_dir() and not (folder / file).is_file():
            errors.add(line, field, f"{shown}/{file} is missing")


def _vnfs(raw, workspaces: tuple, errors: _Errors) -> tuple[VnfSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add(None, "vnfs", "expected a list of {name, kind, host, config}")
        return ()
    out = []
    for i, item in enumerate(raw):
        field = f"vnfs[{i}]"
        if not isinstance(item, dict):
            errors.add(_line(raw, i), field, "expected a mapping")
            continue
        line = _line(item, default=_line(raw, i))
        for key in sorted(set(map(str, item)) - {"name", "kind", "host", "config"}):
            errors.add(
                _line(item, key, line), f"{field}.{key}", "unknown key (expected name, kind, host, config)"
            )
        values = {k: item.get(k) for k in ("name", "kind", "host")}
        for key, value in values.items():
            if not isinstance(value, str) or not value:
                errors.add(_line(item, key, line), f"{field}.{key}", "expected a non-empty string")
        kind = values["kind"]
        if isinstance(kind, str) and kind and kind not in vnf_kinds() and not kind.endswith(".py"):
            errors.add(
                _line(item, "kind", line),
                f"{field}.kind",
                f"unknown VNF kind {kind!r} (expected one of {', '.join(vnf_kinds())}, or a .py file)",
            )
        config = item.get("config")
        if config is not None:
            if not isinstance(config, str):
                errors.add(_line(item, "config", line), f"{field}.config", "expected a workspace file name")
                config = None
            else:
                _workspace_file(workspaces, config, _line(item, "config", line), f"{field}.config", errors)
        out.append(VnfSpec(str(values["name"]), str(values["kind"]), str(values["host"]), config))
    return tuple(out)


def _check_against_topology(
    ref: TopologyRef,
    behaviours,
    probes,
    scenario,
    vnfs,
    data,
    errors: _Errors,
    scored=(),
    hidden: tuple = ((), None),
) -> None:
    """Everything the lab names in its topology, checked in the same pass as the rest of lab.yaml.

    The topology's own problems, behaviour selectors (the grader's ``spec_errors``), probe and
    scenario selectors (one that selects no node is an error: ``role:kamera``) and VNF hosts, so a
    lab author sees every mistake before any network starts.
    """
    from sdnlab.errors import TopologyError
    from sdnlab.topologies import load_topology

    try:
        topology = load_topology(ref.source, {k: str(v) for k, v in ref.params.items()})
    except TopologyError as exc:
        field = "topology.file" if "file" in data.get("topology", {}) else "topology"
        lines = str(exc).splitlines()
        if len(lines) == 1 and not re.match(r"^\S+:\d+: ", lines[0]):
            errors.add(None, field, lines[0])
        else:
            errors.extend_located(str(exc))
        return
    if behaviours:
        from sdnlab.grader.grading import Grader, spec_errors
        from sdnlab.grader.model import NetworkState

        for message in spec_errors(Grader(topology, NetworkState({})), behaviours):
            errors.add_located(message)
    for i, item in enumerate(data.get("vnfs") or []):
        host = item.get("host") if isinstance(item, dict) else None
        if isinstance(host, str) and host and host not in topology.nodes:
            errors.add(_line(item, "host"), f"vnfs[{i}].host", f"no node {host!r} in the topology")
    _check_scored_names(topology, scored, data.get("scored"), errors)
    for i, step in enumerate(scenario):
        for key in _STEP_SELECTORS.get(step.kind, ()):
            _check_selectors(topology, step.args, key, f"scenario[{i}].{step.kind}.{key}", step.line, errors)
    for i, probe in enumerate(probes):
        _check_probe_selectors(topology, probe, i, vnfs, errors)
    hidden_probes, hidden_errors = hidden
    for i, probe in enumerate(hidden_probes):  # a hidden.yaml's probes, reported in that file
        _check_probe_selectors(topology, probe, i, vnfs, hidden_errors)


def _check_probe_selectors(topology, probe: LabProbe, i: int, vnfs, errors: _Errors) -> None:
    """A probe's node selectors select nodes of the topology; the VNFs it names exist."""
    vnf_names = {v.name for v in vnfs}
    for key in _PROBE_SELECTORS.get(probe.kind, ()):
        _check_selectors(topology, probe.args, key, f"probes[{i}].{probe.kind}.{key}", probe.line, errors)
    if probe.kind == "vnf_seen":
        for name in _selector_list(probe.args.get("vnfs")) or []:
            if name not in vnf_names:
                errors.add(
                    _line(probe.args, "vnfs", probe.line),
                    f"probes[{i}].vnf_seen.vnfs",
                    f"no VNF named {name!r} (vnfs: {', '.join(sorted(vnf_names)) or 'none'})",
                )


_STEP_SELECTORS = {"ping": ("src", "dst"), "telnet_scan": ("src", "targets"), "static_arp": ("hosts",)}
_PROBE_SELECTORS = {
    "ping": ("src", "dst"),
    "tcp": ("src", "dst", "servers"),
    "quarantined": ("hosts",),
    "failover_loss": ("src", "dst", "cut"),
    "spread": ("src", "dst", "switch", "over"),
    "rate": ("src", "dst"),
}


def _selected(topology, selector: str) -> int | None:
    """How many nodes ``selector`` selects (None: it names no node and is no IPv4 address)."""
    import ipaddress

    if selector == "all":
        return len([n for n in topology.hosts() if n.kind != "vnf"])
    if selector.startswith("role:"):
        return len([n for n in topology.nodes.values() if selector[5:] in n.roles])
    if selector.startswith("kind:"):
        return len([n for n in topology.nodes.values() if n.kind == selector[5:]])
    if selector in topology.nodes:
        return 1
    try:
        ipaddress.IPv4Address(selector)
    except ValueError:
        return None
    return 1


def _check_selectors(topology, args, key: str, field: str, line: int, errors: _Errors) -> None:
    """Each selector under ``args[key]`` must name a node or select at least one."""
    value = args.get(key)
    if value is None:
        return
    for selector in value if isinstance(value, list) else [value]:
        if not isinstance(selector, str):
            continue  # the type is reported by the field checks
        count = _selected(topology, selector)
        if count is None:
            errors.add(_line(args, key, line), field, f"unknown node {selector!r}")
        elif count == 0:
            errors.add(_line(args, key, line), field, f"{selector!r} selects no node")


def vnf_kinds() -> tuple[str, ...]:
    """The built-in VNF kinds (``sdnlab.vnfs``)."""
    from sdnlab.vnfs.kinds import BUILTIN

    return tuple(BUILTIN)


def _one_kind(item, kinds: dict, field: str, errors: _Errors, extra_keys=frozenset()):
    line = _line(item)
    found = [k for k in item if k in kinds]
    if len(found) != 1:
        errors.add(line, field, f"expected exactly one of {', '.join(kinds)}")
        return None, {}, line
    kind = found[0]
    for key in sorted(set(map(str, item)) - {kind} - set(extra_keys)):
        errors.add(_line(item, key, line), f"{field}.{key}", "unknown key")
    args = item[kind] if item[kind] is not None else YMap(line=_line(item, kind, line))
    if not isinstance(args, dict):
        errors.add(_line(item, kind, line), f"{field}.{kind}", "expected a mapping of arguments")
        return None, {}, line
    for key in sorted(set(map(str, args)) - kinds[kind]):
        errors.add(
            _line(args, key, line),
            f"{field}.{kind}.{key}",
            f"unknown argument (expected some of: {', '.join(sorted(kinds[kind])) or 'none'})",
        )
    return kind, args, line


def _scenario(raw, errors: _Errors) -> tuple[ScenarioStep, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add(None, "scenario", "expected a list of steps")
        return ()
    steps = []
    for i, item in enumerate(raw):
        field = f"scenario[{i}]"
        if isinstance(item, str):
            item = YMap({item: None}, line=_line(raw, i))
        if not isinstance(item, dict):
            errors.add(_line(raw, i), field, "expected a mapping")
            continue
        kind, args, line = _one_kind(item, STEP_KINDS, field, errors)
        if kind is None:
            continue
        if kind in ("ping", "telnet_scan") and not args.get("src"):
            errors.add(_line(args, "src", line), f"{field}.{kind}.src", "required")
        if kind == "rest":
            _check_rest(args, line, f"{field}.rest", errors)
        if kind == "static_arp" and not all(args.get(k) for k in ("hosts", "ip", "mac")):
            errors.add(line, f"{field}.static_arp", "needs hosts, ip and mac")
        if kind == "sleep" and not _real(args.get("seconds"), 0):
            errors.add(
                line,
                f"{field}.sleep.seconds",
                f"expected a number of seconds >= 0 (got {args.get('seconds')!r})",
            )
        if kind == "settle":
            if not _real(args.get("stable_s"), 0.5):
                errors.add(
                    line,
                    f"{field}.settle.stable_s",
                    f"expected a number of seconds >= 0.5 (got {args.get('stable_s')!r})",
                )
            elif "timeout_s" in args and not (
                _real(args["timeout_s"], 0) and float(args["timeout_s"]) >= float(args["stable_s"])
            ):
                errors.add(
                    line,
                    f"{field}.settle.timeout_s",
                    f"expected a number of seconds >= stable_s (got {args['timeout_s']!r})",
                )
        _check_numbers(
            args,
            (
                ("count", lambda v: _whole(v, 1, 100), "a whole number 1..100"),
                ("port", lambda v: _whole(v, *PORT_RANGE), "a TCP port number 1..65535"),
            ),
            line,
            f"{field}.{kind}",
            errors,
        )
        steps.append(ScenarioStep(kind, args, line))
    return tuple(steps)


def _scored(raw, errors: _Errors) -> tuple:
    """Scored scenarios (``sdnlab.certification.scenarios``): measured on the live lab, partial credit.

    Returns (index in ``raw``, scenario) pairs: a broken entry is reported and left out."""
    from sdnlab.certification.scenarios import parse

    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add(None, "scored", "expected a list of scored scenarios (a measurement kind, bands, weight)")
        return ()

    def bad(container, key, field: str, problem: str) -> None:
        line = _line(container, key) if key is not None else _line(container)
        errors.add(line or _line(raw), field, problem)

    out = []
    for index, item in enumerate(raw):
        scenario = parse(item, f"scored[{index}]", bad)
        if scenario is not None:
            out.append((index, scenario))
    return tuple(out)


# the arguments of a scored scenario that name nodes of the topology
_SCORED_NODES = ("src", "dst", "targets", "cut", "switch", "over")


def _check_scored_names(topology, scored_at, raw, errors: _Errors) -> None:
    """Every node a scored scenario names is in the topology (``{{VAR}}`` values are filled later)."""
    for i, scenario in scored_at:
        for key in _SCORED_NODES:
            value = scenario.args.get(key)
            for name in value if isinstance(value, list) else [value]:
                if not isinstance(name, str) or "{{" in name or _selected(topology, name):
                    continue
                item = raw[i] if isinstance(raw, list) and i < len(raw) else None
                args = item.get(scenario.kind) if isinstance(item, dict) else None
                errors.add(
                    _line(args, key) or _line(item),
                    f"scored[{i}].{scenario.kind}.{key}",
                    f"unknown node {name!r}",
                )


def _behaviours(lab, source: str, errors: _Errors, hidden: tuple | None = None) -> tuple:
    from sdnlab.grader.errors import SpecError
    from sdnlab.grader.spec import parse_behaviours

    if lab.get("behaviours") is None and (hidden is None or not (hidden[0] or {}).get("behaviours")):
        return ()
    try:
        # the whole lab file, so that the spec reader knows its checks' lab-only keys (skills)
        behaviours = parse_behaviours(lab, source, hidden=hidden)
    except SpecError as exc:
        errors.extend_located(str(exc))
        return ()
    for i, behaviour in enumerate(behaviours):
        if behaviour.kind == "load_split" and not behaviour.over:
            errors.add(
                behaviour.line,
                f"behaviours[{i}].load_split.over",
                "expected the neighbours (at least one selector) the load is split over",
            )
    return behaviours


def _keys_that_are_not_names(data, field: str = "") -> list[tuple[int, str, object]]:
    """(line, field, key) of every mapping key in ``data`` that is not a string (``3: x``, ``true: y``)."""
    found: list[tuple[int, str, object]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            inner = f"{field}.{key}" if field else str(key)
            if not isinstance(key, str):
                found.append((_line(data, key), field or "(top level)", key))
            else:
                found.extend(_keys_that_are_not_names(value, inner))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.extend(_keys_that_are_not_names(value, f"{field}[{index}]"))
    return found


def _probes(raw, errors: _Errors, hidden: bool = False) -> tuple[LabProbe, ...]:
    """Live checks; ``hidden``: they come from a hidden.yaml (all hidden)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        errors.add(None, "probes", "expected a list of live checks")
        return ()
    probes = []
    for i, item in enumerate(raw):
        field = f"probes[{i}]"
        if not isinstance(item, dict):
            errors.add(_line(raw, i), field, "expected a mapping")
            continue
        kind, args, line = _one_kind(item, PROBE_KINDS, field, errors, COMMON_PROBE_KEYS)
        if kind is None:
            continue
        if kind in ("ping", "tcp"):
            expect = args.get("expect", "reach")
            if expect not in EXPECT:
                errors.add(
                    _line(args, "expect", line),
                    f"{field}.{kind}.expect",
                    f"expected one of {', '.join(EXPECT)} (got {expect!r})",
                )
            args["expect"] = expect
        if kind in ("ping", "tcp"):
            for key in ("src", "dst"):
                if _selector_list(args.get(key)) is None:
                    errors.add(
                        _line(args, key, line),
                        f"{field}.{kind}.{key}",
                        "expected a node, role:NAME, all, or a list of them",
                    )
        if kind == "tcp" and not _whole(args.get("port"), *PORT_RANGE):
            errors.add(
                _line(args, "port", line),
                f"{field}.tcp.port",
                f"expected a TCP port number 1..65535 (got {args.get('port')!r})",
            )
        _check_numbers(
            args,
            (
                ("count", lambda v: _whole(v, 1, 100), "a whole number 1..100"),
                ("flows", lambda v: _whole(v, 1, 1000), "a whole number 1..1000"),
                ("min_share", lambda v: _real(v, 0, 1, open_low=True), "a share above 0 and at most 1"),
                ("max_loss_ms", lambda v: _real(v, 0, open_low=True), "a positive number of ms"),
            ),
            line,
            f"{field}.{kind}",
            errors,
        )
        if kind != "tcp":
            _check_numbers(
                args,
                (("port", lambda v: _whole(v, *PORT_RANGE), "a port number 1..65535"),),
                line,
                f"{field}.{kind}",
                errors,
            )
        if kind == "failover_loss":
            cut = args.get("cut")
            if not (isinstance(cut, list) and len(cut) == 2 and all(isinstance(c, str) for c in cut)):
                errors.add(
                    _line(args, "cut", line),
                    f"{field}.failover_loss.cut",
                    "expected [SWITCH, NEIGHBOUR], the link to cut",
                )
            for key in ("src", "dst"):
                if not isinstance(args.get(key), str):
                    errors.add(_line(args, key, line), f"{field}.failover_loss.{key}", "expected one host")
        if kind == "spread":
            for key in ("switch", "dst"):
                if not isinstance(args.get(key), str):
                    errors.add(_line(args, key, line), f"{field}.spread.{key}", "required (a name)")
            if _selector_list(args.get("over")) is None or _selector_list(args.get("src")) is None:
                errors.add(
                    line, f"{field}.spread", "needs src and over (the neighbours that must share the traffic)"
                )
        if kind == "rate":
            for key in ("src", "dst"):
                if not isinstance(args.get(key), str):
                    errors.add(_line(args, key, line), f"{field}.rate.{key}", "expected one host")
            if "min_mbit" not in args and "max_mbit" not in args:
                errors.add(line, f"{field}.rate", "needs min_mbit, max_mbit or both (Mbit/s)")
            _check_numbers(
                args,
                (
                    ("min_mbit", lambda v: _real(v, 0), "a number of Mbit/s, 0 or more"),
                    ("max_mbit", lambda v: _real(v, 0, open_low=True), "a positive number of Mbit/s"),
                    ("seconds", lambda v: _real(v, 0.5, 30), "seconds between 0.5 and 30"),
                ),
                line,
                f"{field}.rate",
                errors,
            )
        if kind == "rest":
            _check_rest(args, line, f"{field}.rest", errors)
            if "status" in args and not _whole(args["status"], 100, 599):
                errors.add(
                    _line(args, "status", line),
                    f"{field}.rest.status",
                    f"expected an HTTP status 100..599 (got {args['status']!r})",
                )
        if kind == "vnf_seen" and _selector_list(args.get("vnfs")) is None:
            errors.add(
                _line(args, "vnfs", line), f"{field}.vnf_seen.vnfs", "expected a VNF name or a list of names"
            )
        if kind == "quarantined" and _selector_list(args.get("hosts")) is None:
            errors.add(
                _line(args, "hosts", line), f"{field}.quarantined.hosts", "expected a host or a list of hosts"
            )
        weight = item.get("weight", 1)
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
            errors.add(_line(item, "weight", line), f"{field}.weight", "expected a positive number")
            weight = 1
        if hidden and item.get("hidden", True) is not True:
            errors.add(_line(item, "hidden", line), f"{field}.hidden", "every check in hidden.yaml is hidden")
        probe_id = item.get("id") or f"{kind}-{i}"
        description = item.get("description") or f"{kind} {args}"
        if isinstance(description, dict):
            description = description.get("en") or f"{kind} {args}"
        probes.append(LabProbe(str(probe_id), kind, str(description), args, float(weight), hidden, line))
    return tuple(probes)


def _check_rest(args, line: int, field: str, errors: _Errors) -> None:
    """A REST call to the lab's controller app: method, an absolute path, a JSON body."""
    from sdnlab.labs.rest_calls import METHODS

    method = args.setdefault("method", "GET")
    if method not in METHODS:
        errors.add(
            _line(args, "method", line),
            f"{field}.method",
            f"expected one of {', '.join(METHODS)} (got {method!r})",
        )
    path = args.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        errors.add(
            _line(args, "path", line), f"{field}.path", f"expected a path starting with / (got {path!r})"
        )


def _hints(raw, errors: _Errors) -> tuple[Text, ...]:
    if not isinstance(raw, list) or not raw:
        errors.add(None, "hints", "expected a non-empty list of {en, ja} hints, from gentle to explicit")
        return ()
    return tuple(_text(item, f"hints[{i}]", 0, errors) for i, item in enumerate(raw))
