"""Grading a controller-app lab by replay: the trainee's app against simulated switches.

``lab check`` on a lab whose controller is the trainee's Ryu app runs the app from the
workspace in a fresh controller against the grader's simulated OpenFlow 1.3 switches
(``sdnlab.grader.replay``): no Mininet, no OVS, the same result every time, in about a second
or two. ``lab submit`` still grades the running lab live. To give the same verdicts, the replay
mirrors the live grading step by step:

* the lab's scenario runs first (``sleep``, ``pingall``, ``ping`` steps), then the
  behaviours are judged on the flow tables the app had installed by then, as live grading
  judges the switches' dumped flows;
* each ``ping`` probe sends ``count`` echo requests (default 2) per pair and a pair passes when
  any of them is answered, as ``ping -c COUNT`` does live;
* what the conversation shows beyond that (a first packet dropped, a packet-in storm, floods
  after learning, handler errors) is reported as notes, with the messages, but not scored;
* a ``sleep`` step lets the same real time pass (the app's timers are real): the simulated
  switches meanwhile carry what the app sends (stplib's BPDUs by packet-out reach the
  neighbouring switch and come back to the app as packet-ins there) and honour the port config
  it sets (a port set NO_FWD is skipped by floods), so lab 11's tree forms as it does live;
* simulated hosts with a ``gateway`` ARP for the gateway for other subnets and send to its MAC,
  as lab 13's hosts do live;
* a ``settle`` step, as live, lets real time pass until the switches' flows and port config have
  been quiet for ``stable_s``, pings every pair, and starts again if anything changed after.

``replay_reason`` says why a lab cannot be replayed (other controller modes, VNFs, scenario
steps or probes the simulation does not have); such labs are checked live. So is an app that
uses what the simulated switches lack (groups, meters, ...): ``grade_replay`` raises
``NotSimulated`` and the caller grades live instead.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from sdnlab.labs import live, probes
from sdnlab.labs.model import Lab, LabProbe
from sdnlab.labs.results import CheckedBy, LabResult, ReplayFinding


class NotSimulated(Exception):
    """The app used OpenFlow features the simulated switches do not have."""


REPLAYED_STEPS = ("pingall", "ping", "sleep", "settle")
DEFAULT_PROBE_COUNT = 2  # as a live ping probe (labs.live.ping)
SCENARIO_MARK = "scenario"


def replay_reason(lab: Lab, include_hidden: bool = False, topology=None) -> str | None:
    """Why ``lab`` cannot be graded by replay (then it is graded live), or None if it can.

    ``topology`` is accepted for callers that have it loaded; the decision needs only the lab.
    """
    if lab.controller.mode != "app" or not lab.controller.file:
        return "its controller is not the trainee's app"
    if lab.vnfs:
        return "it runs VNFs"
    for step in lab.scenario:
        if step.kind not in REPLAYED_STEPS:
            return f"its scenario step {step.kind!r} is not simulated"
    for probe in lab.probes:
        if (include_hidden or not probe.hidden) and probe.kind != "ping":
            return f"its probe {probe.id!r} ({probe.kind}) is not simulated"
    return None


def keep_warm(lab: Lab) -> None:
    """In a long-lived grader (the classroom agent): keep a spare runner for ``lab``'s checks.

    Only for a lab that check grades by replay; see ``sdnlab.controller.warm``. The spare is a
    runner of this process's own user and namespaces, as a cold start would be.
    """
    if replay_reason(lab) is None:
        from sdnlab.grader.replay.grade import keep_warm_spare

        keep_warm_spare()


def _probe_pairs(probe: LabProbe, topology) -> list[tuple[str, str]]:
    args = probe.args
    return [
        (s, d)
        for s in live.resolve(topology, args["src"])
        for d in live.resolve(topology, args.get("dst", "all"))
        if s != d
    ]


def replay_steps(lab: Lab, topology, include_hidden: bool) -> tuple[list, dict[str, list[tuple[str, str]]]]:
    """The replay steps for ``lab`` and, per probe, the ping pairs in the order they are sent."""
    steps: list = []
    for step in lab.scenario:
        if step.kind == "pingall":
            steps.append("pingall")
        elif step.kind == "sleep":
            steps.append({"sleep": float(step.args["seconds"])})
        elif step.kind == "settle":
            stable_s = float(step.args["stable_s"])
            timeout_s = float(step.args.get("timeout_s", live.SETTLE_TIMEOUT_S))
            steps.append({"settle": {"stable_s": stable_s, "timeout_s": timeout_s}})
        elif step.kind == "ping":
            pairs = _probe_pairs(LabProbe("scenario", "ping", "", step.args), topology)
            for _ in range(int(step.args.get("count", 1))):
                steps += [{"ping": {"src": s, "dst": d}} for s, d in pairs]
    steps.append({"mark": SCENARIO_MARK})
    sent: dict[str, list[tuple[str, str]]] = {}
    for probe in lab.probes:
        if probe.hidden and not include_hidden:
            continue
        pairs = _probe_pairs(probe, topology)
        rounds = int(probe.args.get("count", DEFAULT_PROBE_COUNT))
        sent[probe.id] = [pair for _ in range(rounds) for pair in pairs]
        steps += [{"ping": {"src": s, "dst": d}} for s, d in sent[probe.id]]
    return steps, sent


def grade_replay(lab: Lab, workdir: Path, include_hidden: bool = False, topology=None) -> LabResult:
    """Grade the app in ``workdir`` by replay (see the module docstring); mode ``"replay"``."""
    from sdnlab.grader.replay.grade import replay_run
    from sdnlab.labs.errors import LabSessionError
    from sdnlab.labs.grading import _judge, _zeroed, grader_version, missing_submission

    started = time.perf_counter()
    topology = topology or live.load_topology(lab)
    app = Path(workdir) / str(lab.controller.file)
    if not app.is_file():
        raise LabSessionError(f"{app}: no such file (the lab's controller app)")
    try:
        compile(app.read_bytes(), str(app), "exec")
    except SyntaxError as exc:
        raise LabSessionError(f"{app}:{exc.lineno}: syntax error in controller app: {exc.msg}") from None
    steps, sent = replay_steps(lab, topology, include_hidden)
    run = replay_run(str(app), topology, steps, name=lab.id)
    missing = [c.detail for c in run.checks if c.id == "simulated" and not c.passed]
    if missing:
        raise NotSimulated(missing[0])
    first_probe_ping, scenario_state = run.marks[SCENARIO_MARK]
    items = _judge(lab, topology, scenario_state, include_hidden)
    pings = run.pings[first_probe_ping:]
    for probe in lab.probes:
        if probe.id not in sent:
            continue
        answered: dict[tuple[str, str], bool] = {}
        for pair, ping in zip(sent[probe.id], pings, strict=False):
            answered[pair] = answered.get(pair, False) or ping.replied
        pings = pings[len(sent[probe.id]) :]
        items.append(probes.judge_probe(probe, [(s, d, ok) for (s, d), ok in answered.items()]))
    findings = tuple(
        ReplayFinding(check.id, check.detail, tuple(check.evidence[:3]))
        for check in run.checks
        if not check.passed
    )
    notes = replay_notes(app.name, run.seconds, findings)
    checked_by = CheckedBy(True, app=app.name, seconds=run.seconds, findings=findings, notes=len(notes))
    result = LabResult(
        lab.id,
        tuple(items),
        "replay",
        time.perf_counter() - started,
        grader_version(),
        notes,
        checked_by,
    )
    reason = missing_submission(lab, workdir)
    if reason is not None:
        return replace(result, items=tuple(_zeroed(list(result.items), reason)), notes=(*notes, reason))
    return result


def replay_notes(app: str, seconds: float, findings: tuple[ReplayFinding, ...]) -> tuple[str, ...]:
    """The replay's outcome as the CLI prints it: the method, then each finding with its messages."""
    notes = [
        (
            f"graded by replay: {app} ran against simulated switches in {seconds:.2f} s "
            "(no network); `sdnlab lab submit` grades your running lab live"
        )
    ]
    for finding in findings:
        if finding.check == "no-handler-errors":  # worded as live grading words them: "your app raised ..."
            notes += finding.messages
            continue
        notes.append(f"replay: {finding.check}: {finding.detail}")
        notes += [f"  {line}" for line in finding.messages]
    return tuple(notes)
