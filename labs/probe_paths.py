"""Paths to draw for failed live checks: where their packets went in the switches' flow tables.

A failed live check that sends packets from a source host to a destination (probes ``ping``,
``tcp``, ``rate``, ``spread``, ``failover_loss``; scored scenarios ``failover_loss`` and
``uplink_share``) is traced through the flow tables collected at grading with the grader's
OpenFlow 1.3 pipeline model (``sdnlab.grader``):

- where the model fails the traffic too (dropped, lost, delivered where it must not be), the
  counterexample is drawn with the rule to blame, as for a failed behaviour;
- where the model carries it fine, a ``ping`` or ``tcp`` failure lies outside the flow tables
  (a line says so, nothing is drawn); a ``rate``, ``spread`` or ``failover_loss`` failure is about
  how much, how evenly or how fast, so the way the tables carry the traffic is drawn with a line
  saying what the drawing shows and what it cannot (queues and meters on the path, the uplinks
  reached, the backup path after the cut).

Checks that send no packets between two hosts (``quarantined``, ``vnf_seen``, ``rest`` and the
scored ``scan_quarantine``, ``controller_restart``, ``flow_rate``) get ``no_path``: the sentence
the drill-down shows instead of a drawing. Every function here is pure: topology and collected
flow state in, path dicts (``results.failure_path``'s shape) and sentences out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sdnlab.labs.results import CheckItem

# kind -> why no path is drawn for it (the drill-down shows this sentence instead)
PATHLESS = {
    "quarantined": "a quarantine is the controller's list of hosts (read over its REST API), "
    "not packets between two hosts: no path to draw",
    "vnf_seen": "whether each VNF tracked a flow is read from the VNF's own counters; "
    "the check names no source and destination: no path to draw",
    "rest": "a REST call to the controller app, not packets through the switches: no path to draw",
    "scan_quarantine": "the time until the controller quarantines the scanner is the controller's "
    "decision, not a path through the flow tables: no path to draw",
    "controller_restart": "the time the network needs after the controller restarts is "
    "the controller's, not a path through the flow tables: no path to draw",
    "flow_rate": "the rate at which the controller installs flows is the controller's, "
    "not a path through the flow tables: no path to draw",
}
MODEL_SAYS_FINE = (
    "{src} -> {dst}: the switches' flow tables at grading time carry it in the grader's model: "
    "the live failure is elsewhere (ARP or timing, a controller or VNF, the hosts)"
)
MAX_CASES = 3  # failing cases traced per check
PROBE_CASE = re.compile(r"^(?P<src>[A-Za-z0-9_.:-]+) -> (?P<dst>[A-Za-z0-9_.:-]+?)(?:: | )")
SOURCE_CASE = re.compile(r"^(?P<src>[A-Za-z0-9_.:-]+): ")
QOS_ACTION = re.compile(r"(set_queue:\S+?|meter:\S+?|enqueue:\S+?)(?=,|$)")


@dataclass(frozen=True)
class ProbeTraffic:
    """A check's packets in the grader's terms: the traffic class, whether it must arrive, the
    links cut while it is measured, and what the check judges beyond arriving ("" = arriving)."""

    kind: str  # the grader behaviour the check stands for: "ping" | "reach" | "isolate"
    traffic: str  # grader traffic class text ("icmp", "tcp dst 80", "udp dst 5004")
    down: tuple[tuple[str, str], ...] = ()
    measures: str = ""  # "" | "rate" | "spread" | "failover"
    over: tuple[str, ...] = ()  # spread: the nodes the traffic must be spread over


def probe_traffic(check) -> ProbeTraffic | None:
    """What a probe's (or scored scenario's) packets are, or None when it sends none between hosts."""
    args, kind = check.args, check.kind
    want = args.get("expect", "reach") == "reach"
    if kind == "ping":
        return ProbeTraffic("ping" if want else "isolate", "icmp")
    if kind == "tcp":
        return ProbeTraffic("reach" if want else "isolate", f"tcp dst {int(args['port'])}")
    if kind == "rate":
        return ProbeTraffic("reach", f"tcp dst {int(args.get('port', 5201))}", measures="rate")
    if kind in ("spread", "uplink_share"):
        over = (args["over"],) if isinstance(args["over"], str) else tuple(args["over"])
        port = int(args.get("port", 554))
        return ProbeTraffic("reach", f"tcp dst {port}", measures="spread", over=over)
    if kind == "failover_loss":
        cut = (str(args["cut"][0]), str(args["cut"][1]))
        port = int(args.get("port", 5004))
        return ProbeTraffic("reach", f"udp dst {port}", down=(cut,), measures="failover")
    return None


def no_path_reason(check) -> str:
    """Why a check of this kind has no path to draw ("" when it could have one)."""
    return PATHLESS.get(check.kind, "")


def failing_cases(item: CheckItem, check, topology) -> list[tuple[str, str]]:
    """The (src, dst) cases of a failed check to trace: read from its details (``src -> dst: ...``,
    or ``src: ...`` with the check's one destination), else its arguments' first pair."""
    from sdnlab.labs.live import resolve

    cases = [(m["src"], m["dst"]) for m in map(PROBE_CASE.match, item.details) if m]
    if not cases and "dst" in check.args:
        dst = resolve(topology, check.args["dst"])[0]
        sources = [m["src"] for m in map(SOURCE_CASE.match, item.details) if m]
        cases = [(s, dst) for s in sources if s in topology.nodes]
        if not cases and "src" in check.args:
            cases = [(resolve(topology, check.args["src"])[0], dst)]
    return list(dict.fromkeys(cases))[:MAX_CASES]


def behaviour_spec(check, traffic: ProbeTraffic, src: str, dst: str) -> dict:
    """The grader behaviour (spec data) a failed case stands for; wrapped in ``failover`` when the
    check cuts links."""
    if traffic.kind == "ping":
        inner: dict = {"ping": {"src": src, "dst": dst}}
    else:
        inner = {traffic.kind: {"src": src, "dst": dst, "traffic": traffic.traffic}}
    if traffic.down:
        return {"id": check.id, "failover": {"down": [list(p) for p in traffic.down], "behaviour": inner}}
    return {"id": check.id, **inner}


@dataclass(frozen=True)
class Carried:
    """One way the model's flow tables deliver a check's traffic: the path to draw, the host it
    reaches and the rules applied on the way (``Step.to_dict``)."""

    path: dict
    host: str
    rules: tuple[dict, ...]

    @property
    def crossed(self) -> set[str]:
        return {self.host, *(h["switch"] for h in self.path["hops"])}

    @property
    def via(self) -> str:
        return " -> ".join([self.path["src"], *(h["switch"] for h in self.path["hops"]), self.host])


def carried_paths(topology, state, src: str, dst: str, traffic: ProbeTraffic) -> list[Carried]:
    """Every way the model's flow tables deliver the traffic from src towards dst (with
    ``traffic.down`` cut), one per distinct route."""
    from sdnlab.grader.grading import Grader
    from sdnlab.grader.network import Delivered, leaves
    from sdnlab.grader.spec import parse_behaviours

    spec = {"id": "carried", "reach": {"src": src, "dst": dst, "traffic": traffic.traffic}}
    [b] = parse_behaviours([spec], "probe", topology)
    assert b.traffic is not None
    routes: dict[tuple, Carried] = {}
    for tree, _ in Grader(topology, state).trees(src, dst, b.traffic, traffic.down):
        for leaf in leaves(tree):
            if not isinstance(leaf, Delivered) or (not leaf.space.is_concrete and leaf.space.pick() is None):
                continue
            hops = [
                {"switch": str(h.switch), "in_port": h.in_port, "out_port": h.out_port} for h in leaf.hops
            ]
            key = (leaf.host, *((h["switch"], h["in_port"], h["out_port"]) for h in hops))
            if key not in routes:
                path = {
                    "src": src,
                    "dst": dst,
                    "hops": hops,
                    "outcome": f"delivered to {leaf.host}",
                    "blame": None,
                }
                rules = tuple(
                    step.to_dict() for hop in leaf.hops for step in hop.steps if step.flow is not None
                )
                routes[key] = Carried(with_down(path, traffic), str(leaf.host), rules)
    return list(routes.values())


def with_down(path: dict, traffic: ProbeTraffic) -> dict:
    """The path with the links the check cut (drawn as cut)."""
    return {**path, "down": [list(p) for p in traffic.down]} if traffic.down else path


def split_blame(carried: list[Carried], traffic: ProbeTraffic, topology) -> dict | None:
    """For traffic that must be spread over ``traffic.over`` but misses some of them: the rule on
    the path at the switch wired to a missed node (it sends all of the traffic the other way)."""
    crossed = set().union(*(c.crossed for c in carried))
    missed = {n for n in traffic.over if n not in crossed}
    beside = {link.a for link in topology.links if link.b in missed} | {
        link.b for link in topology.links if link.a in missed
    }
    for c in carried:
        for hop in c.path["hops"]:  # the first switch on the way that could have turned towards one
            if hop["switch"] in beside:
                rules = [r for r in c.rules if r.get("switch") == hop["switch"]]
                if rules:
                    return {"switch": hop["switch"], "where": str(rules[-1].get("where") or "")}
    return None


def carried_note(src: str, dst: str, traffic: ProbeTraffic, carried: list[Carried]) -> str:
    """What a drawing of the carried paths shows for a check that judges more than arriving."""
    routes = "; ".join(c.via for c in carried)
    if traffic.measures == "rate":
        actions = sorted(
            {a for c in carried for r in c.rules for a in QOS_ACTION.findall(str(r.get("actions", "")))}
        )
        limits = (
            f"queue and meter actions on it: {', '.join(actions)}"
            if actions
            else "no set_queue, enqueue or meter action on it (nothing in the flow tables limits its rate)"
        )
        return (
            f"{src} -> {dst}: the flow tables at grading time carry {traffic.traffic} along {routes}; "
            f"the rate is set by queues and meters, not by the path: {limits}"
        )
    if traffic.measures == "spread":
        crossed = set().union(*(c.crossed for c in carried))
        missed = [n for n in traffic.over if n not in crossed]
        if missed:
            return (
                f"{src} -> {dst}: the flow tables at grading time send {traffic.traffic} along {routes}: "
                f"none of it crosses {', '.join(missed)}"
            )
        return (
            f"{src} -> {dst}: the flow tables at grading time spread {traffic.traffic} over "
            f"{', '.join(traffic.over)} ({routes}): "
            "the live shares come from the switch's hashing of the connections"
        )
    cut = ", ".join("-".join(p) for p in traffic.down)
    return (
        f"{src} -> {dst}: with {cut} cut the flow tables at grading time carry {traffic.traffic} "
        f"along {routes}: "
        "the loss is the time until the traffic moved to that path (a controller re-routing after the cut; "
        "a fast-failover group switches in the switch itself)"
    )


def trace_case(check, traffic: ProbeTraffic, src: str, dst: str, topology, state) -> tuple[list[dict], str]:
    """The paths to draw for one failing case and the line that says what they show."""
    from sdnlab.errors import SdnlabError
    from sdnlab.grader.grading import grade
    from sdnlab.grader.spec import parse_behaviours
    from sdnlab.labs.results import failure_path

    spec = behaviour_spec(check, traffic, src, dst)
    cut = f"with {', '.join('-'.join(p) for p in traffic.down)} cut, " if traffic.down else ""
    try:
        report = grade(topology, state, parse_behaviours([spec], f"check {check.id}", topology))
    except SdnlabError:  # the model cannot judge it (e.g. a node it does not know): no path
        return [], ""
    failures = [f for r in report.results for f in r.failures]
    if failures:
        path = with_down(failure_path(failures[0]), traffic)
        return [path], f"{src} -> {dst}: {cut}in the flow tables at grading time: {failures[0].outcome}"
    if not traffic.measures:
        return [], MODEL_SAYS_FINE.format(src=src, dst=dst)
    try:
        carried = carried_paths(topology, state, src, dst, traffic)
    except SdnlabError:
        return [], ""
    if not carried:
        return [], ""
    blame = split_blame(carried, traffic, topology) if traffic.measures == "spread" else None
    paths = [{**c.path, "blame": blame} if blame else c.path for c in carried]
    return paths, carried_note(src, dst, traffic, carried)


def probe_paths(item: CheckItem, check, topology, state) -> CheckItem:
    """A failed live check with the paths to draw (``trace_case`` per failing case, up to three) and
    a detail line per case saying what they show; or, for a kind that sends no packets between
    hosts, ``no_path`` saying why nothing is drawn. A passed check is returned as it is."""
    from sdnlab.errors import SdnlabError

    if item.passed:
        return item
    try:
        traffic = probe_traffic(check)
        cases = failing_cases(item, check, topology) if traffic is not None else []
    except (SdnlabError, KeyError, ValueError, IndexError) as exc:  # arguments the model cannot use
        return replace(item, no_path=f"its arguments name nothing the grader's model can trace ({exc})")
    if traffic is None:
        reason = no_path_reason(check)
        return replace(item, no_path=reason) if reason else item
    paths: list[dict] = []
    notes: list[str] = []
    for src, dst in cases:
        if src not in topology.nodes:
            continue
        drawn, note = trace_case(check, traffic, src, dst, topology, state)
        paths.extend(drawn)
        if note:
            notes.append(note)
    no_path = (
        "" if paths else "; ".join(notes) or "no failing case names a source host the grader's model knows"
    )
    return replace(item, paths=tuple(paths), details=(*item.details, *notes), no_path=no_path)
