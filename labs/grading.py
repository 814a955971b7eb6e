"""Grading a lab: grader behaviours on flow state plus live probes, into one ``LabResult``.

``grade_static`` judges a workspace's flow files without any network (labs whose controller
mode is ``none`` and that need no probes); ``grade_live`` runs the scenario on a running lab,
then its scored scenarios (measured, partial credit: ``sdnlab.certification.scenarios``), collects
its flow state, judges the behaviours and runs the probes. ``include_hidden`` adds the hidden
checks (``submit`` and the instructor commands).
"""

from __future__ import annotations

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
    return with_cut_links(items_from_report(report), lab.behaviours)


def with_cut_links(items: list[CheckItem], behaviours) -> list[CheckItem]:
    """A failed ``failover`` behaviour's paths with the links it fails (``down``, drawn cut)."""
    down = {b.id: [list(pair) for pair in b.down] for b in behaviours if b.kind == "failover"}
    return [
        replace(i, paths=tuple({**p, "down": down[i.id]} for p in i.paths)) if i.id in down and i.paths else i
        for i in items
    ]


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


def probe_paths(item: CheckItem, probe, topology, state) -> CheckItem:
    """A failed live check with its paths to draw, or why it has none (``sdnlab.labs.probe_paths``)."""
    from sdnlab.labs import probe_paths as paths

    return paths.probe_paths(item, probe, topology, state)


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
    scored = [(s, scored_item(s, name, topology)[0]) for s in lab.scored if include_hidden or not s.hidden]
    notes += _unavailable_note(lab, include_hidden)
    state = collect.from_bridges(live.bridges(status))
    state = _located(lab, state, workdir or deployed_workdir(lab, name), topology)
    items = _judge(lab, topology, state, include_hidden)
    for probe in lab.probes:
        if include_hidden or not probe.hidden:
            items.append(probe_paths(probes.run_probe(probe, name, topology, status), probe, topology, state))
    items.extend(probe_paths(item, s, topology, state) for s, item in scored)
    items = _with_texts(lab, items)
    reason = missing_submission(lab, workdir) if workdir is not None else None
    if reason is not None:  # an explicitly given empty workspace scores nothing, even where checks hold
        items, notes = _zeroed(items, reason), (*notes, reason)
    return LabResult(lab.id, tuple(items), "live", time.perf_counter() - started, grader_version(), notes)
