"""Scored fault and load scenarios: act on a running network, measure, and give partial credit.

A lab (``scored:`` in lab.yaml) or an exam task (``scenarios:``) lists scenarios, each one
measurement with score bands::

    - id: failover-window
      description: loss window when the st1-st2 fibre is cut
      failover_loss: {src: playout, dst: rx3, cut: [st1, st2], port: 5004}
      bands: [{max: 50, credit: 1.0}, {max: 200, credit: 0.5}]
      weight: 2
      skills: {operations.resilience: 3}

String arguments may name the task variant's variables (``dst: "{{service_ip}}"``).
Kinds: ``failover_loss`` (cut a link mid-stream, restore it; the ms of the stream lost beyond
what a witness fast-failover bridge cut at the same instant lost, lower is better, best of
``tries``: ``sdnlab.labs.failover``), ``scan_quarantine`` (``src`` runs a Mirai-style telnet scan of
``targets``; the ms from the scan's start until the controller lists ``src`` as quarantined,
lower is better; any other host newly quarantined is a false quarantine and scores nothing),
``uplink_share`` (a burst of new TCP connections; the smallest share of packets any of ``over``
carried out of ``switch``, higher is better), ``controller_restart`` (the switches lose their
controller and their tables, the lab's controller process is restarted where sdnlab runs it,
the switches reconnect: ms from the reconnection until ``src`` reaches ``dst`` again, lower is
better; ``sdnlab.certification.scenario_restart``) and ``flow_rate`` (``meters`` new devices
appear behind ``src``: flows installed per second on ``switch``, higher is better;
``sdnlab.certification.scenario_flow_rate``). A band is ``{max: X, credit: C}`` for
lower-is-better kinds and ``{min: X, credit: C}`` for the others; the first band the value
meets gives its credit, none gives 0. ``credit`` is pure and tested on its own; the
measurements run on real networks only.

A scan quarantines its source for as long as the network runs, so it can be measured once per
network: a later run on the same network (another ``sdnlab lab check``) reports the first
measurement, recorded in the lab's run directory, and says so.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

from sdnlab.certification import scenario_flow_rate, scenario_restart

# kind -> (its arguments, the band bound ("max": lower is better, "min": higher), the unit)
KINDS = {
    "failover_loss": ({"src", "dst", "cut", "port", "tries"}, "max", "ms"),
    "scan_quarantine": ({"src", "targets", "port", "timeout"}, "max", "ms"),
    "uplink_share": ({"switch", "over", "src", "dst", "port", "flows"}, "min", "share"),
    "controller_restart": (scenario_restart.ARGS, "max", "ms"),
    "flow_rate": (scenario_flow_rate.ARGS, "min", "flows/s"),
}
# kinds whose arguments and measurement live in a module of their own
MODULES = {"controller_restart": scenario_restart, "flow_rate": scenario_flow_rate}
COMMON = {"id", "description", "bands", "weight", "hidden", "skills"}


@dataclass(frozen=True)
class Band:
    """A threshold and the share of the weight earned when the measurement meets it."""

    limit: float
    credit: float


@dataclass(frozen=True)
class Scenario:
    """One scored measurement of an exam task."""

    id: str
    kind: str
    description: str
    args: dict
    bands: tuple[Band, ...]
    weight: float
    hidden: bool
    skills: dict[str, int]

    @property
    def lower_is_better(self) -> bool:
        return KINDS[self.kind][1] == "max"


def for_variant(scenario: Scenario, values: dict) -> Scenario:
    """The scenario with ``{{NAME}}`` in its string arguments filled from a task variant's values."""
    from dataclasses import replace

    from sdnlab.certification.variants import fill

    def one(value):
        if isinstance(value, str):
            return fill(value, values, f"scenario {scenario.id}")
        if isinstance(value, list):
            return [one(v) for v in value]
        return value

    return replace(scenario, args={k: one(v) for k, v in scenario.args.items()})


def to_raw(scenario: Scenario) -> dict:
    """The scenario as exam YAML would write it (``parse`` reads it back): what the classroom
    server sends to a sandbox agent, which validates it again."""
    bound = KINDS[scenario.kind][1]
    return {
        "id": scenario.id,
        "description": scenario.description,
        scenario.kind: dict(scenario.args),
        "bands": [{bound: b.limit, "credit": b.credit} for b in scenario.bands],
        "weight": scenario.weight,
        "hidden": scenario.hidden,
    }


def credit(value: float, bands: tuple[Band, ...], lower_is_better: bool) -> float:
    """The credit (0..1) of a measured value: the best band it meets."""
    if math.isnan(value):
        return 0.0
    met = [b.credit for b in bands if (value <= b.limit if lower_is_better else value >= b.limit)]
    return max(met, default=0.0)


def parse(raw, field: str, bad) -> Scenario | None:
    """One scenario from exam YAML; problems go to ``bad(container, key, field, problem)``."""
    if not isinstance(raw, dict):
        bad(raw, None, field, "expected a mapping with one measurement kind, bands and weight")
        return None
    kinds = [k for k in raw if k in KINDS]
    if len(kinds) != 1:
        bad(raw, None, field, f"expected exactly one of {', '.join(KINDS)}")
        return None
    kind = kinds[0]
    allowed, bound, _unit = KINDS[kind]
    for key in sorted(set(raw) - COMMON - {kind}, key=str):
        bad(raw, key, f"{field}.{key}", f"unknown key (expected {kind}, {', '.join(sorted(COMMON))})")
    args = raw[kind]
    if not isinstance(args, dict):
        bad(raw, kind, f"{field}.{kind}", "expected a mapping of arguments")
        return None
    args = dict(args)
    for key in sorted(set(args) - allowed, key=str):
        bad(
            raw[kind],
            key,
            f"{field}.{kind}.{key}",
            f"unknown argument (expected {', '.join(sorted(allowed))})",
        )
    if kind == "scan_quarantine":
        if not isinstance(args.get("src"), str):
            bad(raw[kind], "src", f"{field}.scan_quarantine.src", "expected the scanning host")
        targets = args.get("targets")
        if not (isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets)):
            bad(raw[kind], "targets", f"{field}.scan_quarantine.targets", "expected a list of hosts to scan")
    elif kind in MODULES:
        for key, problem in MODULES[kind].arg_problems(args):
            bad(raw[kind], key, f"{field}.{kind}.{key}", problem)
    elif kind == "failover_loss":
        cut = args.get("cut")
        if not (isinstance(cut, list) and len(cut) == 2 and all(isinstance(c, str) for c in cut)):
            bad(raw[kind], "cut", f"{field}.failover_loss.cut", "expected [SWITCH, NEIGHBOUR]")
        for key in ("src", "dst"):
            if not isinstance(args.get(key), str):
                bad(raw[kind], key, f"{field}.failover_loss.{key}", "expected one host")
    else:
        for key in ("switch", "src", "dst"):
            if not isinstance(args.get(key), str):
                bad(raw[kind], key, f"{field}.uplink_share.{key}", "expected a node name")
        over = args.get("over")
        if not (isinstance(over, list) and len(over) >= 2 and all(isinstance(o, str) for o in over)):
            bad(raw[kind], "over", f"{field}.uplink_share.over", "expected at least two neighbour names")
    bands = []
    raw_bands = raw.get("bands")
    if not isinstance(raw_bands, list) or not raw_bands:
        bad(raw, "bands", f"{field}.bands", f"expected a list of {{{bound}: X, credit: C}}")
        raw_bands = []
    for j, band in enumerate(raw_bands):
        ok = isinstance(band, dict) and set(band) == {bound, "credit"}
        values = [band.get(bound), band.get("credit")] if ok else []
        if not ok or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            bad(raw_bands, j, f"{field}.bands[{j}]", f"expected {{{bound}: NUMBER, credit: 0..1}}")
            continue
        if not 0 < values[1] <= 1:
            bad(raw_bands, j, f"{field}.bands[{j}].credit", "expected a share above 0 and at most 1")
            continue
        bands.append(Band(float(values[0]), float(values[1])))
    weight = raw.get("weight", 1)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
        bad(raw, "weight", f"{field}.weight", "expected a positive number")
        weight = 1
    hidden = raw.get("hidden", False)
    if not isinstance(hidden, bool):
        bad(raw, "hidden", f"{field}.hidden", "expected true or false")
        hidden = False
    skills = raw.get("skills") or {}
    if not isinstance(skills, dict) or not all(isinstance(v, int) for v in skills.values()):
        bad(raw, "skills", f"{field}.skills", "expected {SKILL_ID: LEVEL}")
        skills = {}
    scenario_id = raw.get("id")
    if not isinstance(scenario_id, str) or not scenario_id:
        bad(raw, "id", f"{field}.id", "expected a name")
        scenario_id = f"scenario-{kind}"
    text = raw.get("description")
    if isinstance(text, dict):  # {en, ja}: the English one here; the lab loader keeps both
        text = text.get("en")
    description = str(text or f"{kind} {args}")
    return Scenario(scenario_id, kind, description, args, tuple(bands), float(weight), hidden, dict(skills))


# ---------------------------------------------------------------- measurements (real networks)


def measure(scenario: Scenario, name: str, topology) -> tuple[float, str]:
    """Run the scenario on the running lab ``name``; (value, readable text)."""
    if scenario.kind in MODULES:
        return MODULES[scenario.kind].measure(scenario.args, name, topology)
    if scenario.kind == "failover_loss":
        full = [b.limit for b in scenario.bands if b.credit >= 1.0]
        return _failover(scenario.args, name, topology, good=min(full, default=0.0))
    if scenario.kind == "scan_quarantine":
        return _scan_quarantine(scenario.args, name, topology)
    return _share(scenario.args, name, topology)


def _scan_quarantine(args: dict, name: str, topology) -> tuple[float, str]:
    """Start the scan, poll the controller's quarantine list; ms until ``src`` is listed.

    When ``src`` is quarantined already (an earlier run on this network), the scan cannot be
    measured again: the first measurement of this network is reported (see the module docstring).
    """
    import threading

    from sdnlab.labs.live import address, run_step
    from sdnlab.labs.model import ScenarioStep
    from sdnlab.labs.probes import quarantine_list
    from sdnlab.runtime import api

    status = api.status(name)
    src = args["src"]
    hosts = [h for h in topology.nodes if topology.nodes[h].kind in ("host", "server")]
    names = {h: {h, address(topology, h)} for h in hosts}
    before = quarantine_list(status)
    key = f"scan_quarantine:{src}"
    if names.get(src, {src}) & before:
        earlier = recalled(name, key)
        if earlier is None:
            return math.inf, f"{src} was quarantined before the scan started (reset the lab to measure)"
        again = "measured at the first run on this network; a lab reset measures again"
        return earlier[0], f"{earlier[1]} ({again})"
    step = ScenarioStep(
        "telnet_scan", {"src": src, "targets": list(args["targets"]), "port": int(args.get("port", 23))}
    )
    scan = threading.Thread(target=run_step, args=(step, name, topology), daemon=True)
    started = time.monotonic()
    scan.start()
    limit = float(args.get("timeout", 15.0))
    caught = math.inf
    while time.monotonic() - started < limit:
        if names.get(src, {src}) & quarantine_list(status):
            caught = (time.monotonic() - started) * 1000.0
            break
        time.sleep(0.05)
    scan.join(timeout=limit)
    listed = quarantine_list(status) - before
    wrong = sorted(h for h, ids in names.items() if h != src and ids & listed)
    if wrong:
        value, text = math.inf, f"false quarantines: {', '.join(wrong)}"
    elif caught == math.inf:
        value, text = caught, f"{src} was not quarantined within {limit:g} s"
    else:
        value, text = caught, f"{src} quarantined {caught:.0f} ms after the scan started"
    if names.get(src, {src}) & (listed | before):
        remember(name, key, value, text)
    return value, text


MEASUREMENTS = "measurements.json"  # in the lab's run directory: gone with the network


def remember(name: str, key: str, value: float, text: str) -> None:
    """Record a measurement that cannot be repeated on the running lab ``name``."""
    from sdnlab.runtime import paths

    path = paths.lab_dir(name) / MEASUREMENTS
    data = paths.read_json(path) or {}
    data[key] = {"value": None if math.isinf(value) else value, "text": text}
    paths.write_json(path, data)


def recalled(name: str, key: str) -> tuple[float, str] | None:
    """The measurement ``remember`` recorded on the running lab ``name``, or None."""
    from sdnlab.runtime import paths

    entry = (paths.read_json(paths.lab_dir(name) / MEASUREMENTS) or {}).get(key)
    if not isinstance(entry, dict):
        return None
    value = entry.get("value")
    return (math.inf if value is None else float(value)), str(entry.get("text", ""))


def _failover(args: dict, name: str, topology, good: float = 0.0) -> tuple[float, str]:
    """The best of ``tries`` cuts, each charged only the loss beyond the witness's (the switch
    process's own delay, ``sdnlab.labs.failover``; ``best_cut`` says when cutting stops)."""
    from sdnlab.labs.failover import CUT_TRIES, best_cut, measure_cut, witness_bridge

    with witness_bridge(name) as witness:
        best = best_cut(
            lambda: measure_cut(
                name,
                topology,
                args["src"],
                args["dst"],
                tuple(args["cut"]),
                int(args.get("port", 5004)),
                witness,
            ),
            tries=int(args.get("tries", CUT_TRIES)),
            good=good,
        )
    where = f"{args['cut'][0]}-{args['cut'][1]} cut"
    if best is None:
        return math.inf, f"{where}: the stream did not reach {args['dst']} before the cut"
    return best.charged_ms, f"{where}: {best.text(args['cut'][0], args['dst'])}"


def _share(args: dict, name: str, topology) -> tuple[float, str]:
    from sdnlab.labs.live import address
    from sdnlab.labs.probes import BURST, tx_packets
    from sdnlab.runtime import api

    switch, over = args["switch"], list(args["over"])
    bridge = api.bridge(name, switch)
    ports = {t: topology.port(switch, t) for t in over}
    dst = args["dst"]
    target = dst if _is_ip(dst) else address(topology, dst)
    before = tx_packets(bridge)
    api.run_in(
        name,
        args["src"],
        [sys.executable, "-c", BURST, target, str(args.get("port", 554)), str(args.get("flows", 64))],
        timeout=60,
    )
    time.sleep(0.2)
    after = tx_packets(bridge)
    deltas = {t: after.get(p, 0) - before.get(p, 0) for t, p in ports.items()}
    total = sum(deltas.values())
    if not total:
        return 0.0, f"no packet left {switch} towards {', '.join(over)}"
    shares = {t: n / total for t, n in deltas.items()}
    return min(shares.values()), ", ".join(f"{t} {100 * s:.0f}%" for t, s in shares.items())


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def scored_item(scenario: Scenario, name: str, topology):
    """Measure and turn the value into a graded ``CheckItem`` with partial credit."""
    from sdnlab.labs.results import CheckItem

    try:
        value, text = measure(scenario, name, topology)
    except Exception as exc:  # a scenario that cannot run scores 0 and says why
        from sdnlab.errors import SdnlabError

        if not isinstance(exc, (SdnlabError, OSError, KeyError)):
            raise
        value, text = (math.inf if scenario.lower_is_better else 0.0), f"not measured: {exc}"
    got = credit(value, scenario.bands, scenario.lower_is_better)
    bound = "<=" if scenario.lower_is_better else ">="
    bands = ", ".join(f"{b.credit:g} at {bound} {b.limit:g}" for b in scenario.bands)
    return CheckItem(
        scenario.id,
        "scenario",
        scenario.description,
        scenario.weight,
        round(got * scenario.weight, 4),
        scenario.hidden,
        1,
        1 if got >= 1.0 else 0,
        (f"measured: {text}; credit {got:g} (bands: {bands})",),
    ), value
