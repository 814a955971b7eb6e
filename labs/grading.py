"""Grading a lab: grader behaviours on flow state plus live probes, into one ``LabResult``.

``grade_static`` judges a workspace's flow files without any network (labs whose controller
mode is ``none`` and that need no probes); ``grade_live`` runs the scenario on a running lab,
then its scored scenarios (measured, partial credit: ``sdnlab.certification.scenarios``), collects
its flow state, judges the behaviours and runs the probes. ``include_hidden`` adds the hidden
checks (``submit`` and the instructor commands).
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

from sdnlab.labs import live, probes, workspace
from sdnlab.labs.errors import LabPackageError
from sdnlab.labs.model import Lab
from sdnlab.labs.results import CheckItem, LabResult, items_from_report


def grader_version() -> str:
    import sdnlab
    import sdnlab.grader as grader

    return str(getattr(grader, "__version__", None) or f"sdnlab-{sdnlab.__version__}")


def located(message: str, source: str) -> str:
    """``message`` naming ``source`` once: prefixed with it unless every line already starts with it."""
    lines = message.splitlines() or [""]
    if all(line.startswith(source) for line in lines):
        return message
    return f"{source}: {message}"


def _judge(lab: Lab, topology, state, include_hidden: bool) -> list:
    from sdnlab.grader import grade_lab
    from sdnlab.grader.errors import SpecError

    if not lab.behaviours:
        return []
    try:
        report = grade_lab(topology, state=state, behaviours=lab.behaviours, include_hidden=include_hidden)
    except SpecError as exc:  # a behaviour names a node the topology does not have
        raise LabPackageError(located(str(exc), str(lab.path / "lab.yaml"))) from None
    return items_from_report(report)


def missing_submission(lab: Lab, workdir: Path) -> str | None:
    """Why ``workdir`` holds no submission at all (no files; no flow rules in a flow-file lab), or None."""
    folder = Path(workdir)
    if not folder.is_dir() or not any(p.is_file() for p in folder.rglob("*")):
        return f"no submission: {folder} is empty"
    if lab.controller.mode == "none" and not lab.vnfs:
        files = [p for entry in workspace.flow_files(folder).values() for p in entry.values()]
        if not any(workspace.content_lines(workspace.read_text(p)) for p in files):
            return f"no submission: {folder / workspace.FLOWS_DIR} holds no flow rules"
    return None


def _unavailable_note(lab: Lab, include_hidden: bool) -> tuple[str, ...]:
    """The note a grading with hidden checks carries where this machine has none of them."""
    from sdnlab.instructor import NOT_AVAILABLE

    return (f"{NOT_AVAILABLE}: public checks only",) if include_hidden and not lab.hidden_available else ()


def _with_texts(lab: Lab, items: list[CheckItem]) -> list[CheckItem]:
    """Each check with the lab's Japanese description (``description: {en, ja}`` in lab.yaml)."""
    return [replace(i, description_ja=lab.describe(i.id, "ja")) for i in items]


def _zeroed(items: list[CheckItem], reason: str) -> list[CheckItem]:
    """Every check scored zero with the reason: nothing submitted, nothing holds (not even isolation)."""
    return [replace(i, score=0.0, passed_cases=0, details=(reason,)) for i in items]


def grade_static(lab: Lab, workdir: Path, include_hidden: bool = True, topology=None) -> LabResult:
    """Judge the flows a workspace would install (no network); an empty workspace is "no submission"."""
    started = time.perf_counter()
    topology = topology or live.load_topology(lab)
    state = workspace.static_state(Path(workdir), [s.name for s in topology.switches()])
    items = _with_texts(lab, _judge(lab, topology, state, include_hidden))
    notes: tuple[str, ...] = _unavailable_note(lab, include_hidden)
    if lab.probes or lab.scored:
        notes += (f"{len(lab.probes) + len(lab.scored)} live probe(s) not run in static grading",)
    reason = missing_submission(lab, workdir)
    if reason is not None:
        items, notes = _zeroed(items, reason), (reason,)
    return LabResult(lab.id, tuple(items), "static", time.perf_counter() - started, grader_version(), notes)


def deployed_workdir(lab: Lab, name: str) -> Path | None:
    """The workspace installed on the running lab ``name`` (its session's; the solution after ``solve``)."""
    from sdnlab.errors import SdnlabError
    from sdnlab.labs import session

    try:
        current = session.current(name)
    except SdnlabError:
        return None
    if current.lab != lab.id:
        return None
    return lab.solution_dir if current.reference_deployed else Path(current.workdir)


def _located(lab: Lab, state, workdir: Path | None, topology):
    """Installed rules located in the workspace files they came from (flow-file labs)."""
    from sdnlab.errors import SdnlabError
    from sdnlab.grader import collect

    if workdir is None or lab.controller.mode != "none":
        return state
    try:
        written = workspace.static_state(Path(workdir), [s.name for s in topology.switches()])
    except SdnlabError:
        return state  # the files changed since they were installed and no longer parse: keep dump lines
    return collect.with_sources(state, written)


PROBE_CASE = re.compile(r"^(?P<src>[A-Za-z0-9_.:-]+) -> (?P<dst>[A-Za-z0-9_.:-]+): ")
MODEL_SAYS_FINE = (
    "{src} -> {dst}: the switches' flow tables at grading time carry it in the grader's model: "
    "the live failure is elsewhere (ARP or timing, a controller or VNF, the hosts)"
)


def probe_behaviour(probe, src: str, dst: str) -> dict | None:
    """The grader behaviour a failed case of a live probe stands for (``ping`` and ``tcp`` probes), as
    spec data: a ping that must get replies is the ``ping`` behaviour; one that must not, or a TCP
    connection, is ``reach``/``isolate`` of that traffic from src to dst. None for other kinds."""
    want = probe.args.get("expect", "reach") == "reach"
    if probe.kind == "ping":
        traffic = "icmp"
        if want:
            return {"id": probe.id, "ping": {"src": src, "dst": dst}}
    elif probe.kind == "tcp":
        traffic = f"tcp dst {int(probe.args['port'])}"
    else:
        return None
    return {"id": probe.id, "reach" if want else "isolate": {"src": src, "dst": dst, "traffic": traffic}}


def probe_paths(item: CheckItem, probe, topology, state) -> CheckItem:
    """A failed ``ping`` or ``tcp`` probe with paths to draw: each failing case (``src -> dst: ...``
    in its details, up to three) traced through the switches' flow tables collected at grading
    (the grader's pipeline model, ``probe_behaviour``). Where the model carries the traffic fine,
    no path: a detail line says the failure lies outside the flow tables."""
    from sdnlab.errors import SdnlabError
    from sdnlab.grader.grading import grade
    from sdnlab.grader.spec import parse_behaviours
    from sdnlab.labs.results import failure_path

    if item.passed or probe.kind not in ("ping", "tcp"):
        return item
    cases = [m.group("src", "dst") for m in map(PROBE_CASE.match, item.details) if m][:3]
    paths: list[dict] = []
    notes: list[str] = []
    for src, dst in cases:
        spec = probe_behaviour(probe, src, dst)
        if spec is None or src not in topology.nodes or dst not in topology.nodes:
            continue
        try:
            report = grade(topology, state, parse_behaviours([spec], f"probe {probe.id}", topology))
        except SdnlabError:  # the model cannot judge it (e.g. a node it does not know): no path
            continue
        failures = [f for r in report.results for f in r.failures]
        if failures:
            paths.append(failure_path(failures[0]))
            notes.append(f"{src} -> {dst}: in the flow tables at grading time: {failures[0].outcome}")
        else:
            notes.append(MODEL_SAYS_FINE.format(src=src, dst=dst))
    return replace(item, paths=tuple(paths), details=(*item.details, *notes))


def grade_live(
    lab: Lab,
    name: str,
    include_hidden: bool = True,
    scenario: bool = True,
    topology=None,
    workdir: Path | None = None,
) -> LabResult:
    """Run the scenario and the scored scenarios on the running lab ``name``, then judge its flow
    state and run its probes (the scored items come last in the result).

    Blame names the workspace file and line a rule came from (``workdir``, default the session's
    workspace); rules no file wrote are named by their line in the switch's dump.
    """
    from sdnlab.certification.scenarios import scored_item
    from sdnlab.grader import collect
    from sdnlab.runtime import api

    started = time.perf_counter()
    topology = topology or live.load_topology(lab)
    status = api.status(name)
    notes = tuple(live.run_scenario(lab, name, topology)) if scenario else ()
    scored = [scored_item(s, name, topology)[0] for s in lab.scored if include_hidden or not s.hidden]
    notes += _unavailable_note(lab, include_hidden)
    state = collect.from_bridges(live.bridges(status))
    state = _located(lab, state, workdir or deployed_workdir(lab, name), topology)
    items = _judge(lab, topology, state, include_hidden)
    for probe in lab.probes:
        if include_hidden or not probe.hidden:
            items.append(probe_paths(probes.run_probe(probe, name, topology, status), probe, topology, state))
    items.extend(scored)
    items = _with_texts(lab, items)
    reason = missing_submission(lab, workdir) if workdir is not None else None
    if reason is not None:  # an explicitly given empty workspace scores nothing, even where checks hold
        items, notes = _zeroed(items, reason), (*notes, reason)
    return LabResult(lab.id, tuple(items), "live", time.perf_counter() - started, grader_version(), notes)
