"""``grade_lab``: the one grading entry point for the CLI, the labs and a web service.

It resolves the topology, collects the flow state (a running lab, saved dumps, or state the
caller already has), loads the spec, judges it, diffs against a reference and confirms with live
probes as asked, and returns a ``GradeReport``. No printing, no exit codes: callers render.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sdnlab.grader.errors import CollectError, SpecError
from sdnlab.grader.model import NetworkState
from sdnlab.grader.report import GradeReport
from sdnlab.grader.spec import Behaviour

if TYPE_CHECKING:
    from sdnlab.topologies import Topology

DEFAULT_NAME = "default"


def resolve_topology(
    topology: Topology | str | None = None,
    params: Mapping[str, object] | None = None,
    name: str | None = None,
) -> Topology:
    """A topology object, a catalogue name or file (with ``params``), or the one running lab ``name`` uses."""
    from sdnlab.grader import collect
    from sdnlab.topologies import load_topology

    if topology is not None and not isinstance(topology, str):
        return topology
    if topology:
        return load_topology(topology, dict(params or {}))
    if name:
        return collect.lab_topology(name)
    raise CollectError(
        "grading saved flows needs --topology (catalogue name or file), or --name of a running lab"
    )


def grade_lab(
    topology: Topology | str | None = None,
    *,
    name: str | None = None,
    flows: Path | str | None = None,
    state: NetworkState | None = None,
    spec: Path | str | None = None,
    behaviours: Sequence[Behaviour] = (),
    params: Mapping[str, object] | None = None,
    reference: str | None = None,
    live: bool = False,
    down: Sequence[tuple[str, str]] = (),
    include_hidden: bool = False,
) -> GradeReport:
    """Grade a lab's flow state against behaviours; see the module docstring.

    Flow state comes from ``state`` if given, else saved dumps in ``flows``, else the running lab
    ``name`` (default ``default``). Behaviours are ``behaviours`` plus those of the ``spec`` file;
    hidden ones are judged (and probed) only with ``include_hidden``. ``reference``: a directory
    of dumps, ``lab:NAME`` or ``app:MODULE`` to diff against. ``live`` needs ``name``. ``down``:
    links (A, B) that are down in the graded scenario.
    """
    from sdnlab.grader import collect
    from sdnlab.grader.grading import grade
    from sdnlab.grader.spec import load_spec

    if state is None and flows is None and name is None:
        name = DEFAULT_NAME
    if spec is not None:
        load_spec(spec)  # a broken spec file is reported before looking for the lab or topology
    topo = resolve_topology(topology, params, name)
    chosen = tuple(behaviours) + (load_spec(spec, topology=topo) if spec is not None else ())
    if not chosen and reference is None:
        raise SpecError("nothing to grade: give --spec FILE and/or --reference DIR")
    if live and name is None:
        raise CollectError("--live needs a running lab (--name)")
    if state is None:
        state = collect.from_dir(flows) if flows is not None else collect.from_lab(name or DEFAULT_NAME)
    if not include_hidden:  # trainees ask: hidden ids must not leak through live probes either
        chosen = tuple(b for b in chosen if not b.hidden)
    links = tuple((str(a), str(z)) for a, z in down)
    report = grade(topo, state, chosen, include_hidden=include_hidden, down=links)
    if reference is not None:
        from sdnlab.grader.refdiff import collect_reference, reference_diff

        diffs = reference_diff(topo, state, collect_reference(reference, topo))
        report = replace(
            report,
            reference=tuple(d.describe() for d in diffs)
            or ("matches the reference on every host pair and class",),
        )
    if live:
        from sdnlab.grader.live import confirm

        assert name is not None
        report = confirm(name, topo, state, chosen, report, down=links)
    return report
