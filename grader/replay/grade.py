"""Replay grading: run a trainee's controller app against simulated switches, then judge it.

For each scenario a fresh controller runner (the real os-ken runner, in a subprocess) loads the
app; ``SimNetwork`` connects one simulated OpenFlow 1.3 switch per topology switch and drives
the scenario's steps in order: ``pingall`` (every host pings every other host once, ARP first),
``ping: {src, dst}``, ``sleep: SECONDS`` (real time passes while the app's timers run and the
switches carry what it sends), ``settle: {stable_s, timeout_s}`` (as live: quiet switches, pings,
quiet again), ``link: [a, b, down|up]``, ``reconnect: SWITCH``. Hosts with a
``gateway`` send off-subnet pings to the gateway's MAC. Then the result is
judged by

* deliveries: every ping got its echo reply;
* the grader's behaviours (``sdnlab.grader.grade``) on the flow tables the app installed;
* conversation checks: every packet-in answered, no packet-in storm (at most
  ``max_packet_ins_per_flow`` per switch and header flow), flows installed before the second
  packet (a repeated ping causes no packet-in), no flood after learning (no FLOOD packet-out of
  a frame whose destination the switch already reported as a source).

Failures carry the message sequence that went wrong: the packet-in and the replies it got.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdnlab.grader.model import NetworkState
from sdnlab.grader.replay.errors import ReplayError
from sdnlab.grader.replay.pcapng import TO_CONTROLLER, OFRecord, read_conversation, write_conversation
from sdnlab.grader.replay.show import decode, exchanges
from sdnlab.grader.replay.sim import SimNetwork, arp_frame, icmp_frame, is_link_control
from sdnlab.grader.replay.sync import ENV as REPLAY_SYNC_ENV

DEFAULT_SCENARIOS: dict[str, list[Any]] = {
    "learning": ["pingall", "pingall"],
    "reconnect": ["pingall", {"reconnect": "first"}, "pingall"],
}
MAX_PACKET_INS_PER_FLOW = 3
BASE_PORT = 6850


@dataclass
class Check:
    """One judged property of a scenario run."""

    id: str
    passed: bool
    detail: str = ""
    evidence: list[str] = field(default_factory=list)  # message lines that show the problem

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "passed": self.passed, "detail": self.detail, "evidence": self.evidence}


@dataclass
class ScenarioResult:
    """The outcome of one scenario."""

    name: str
    checks: list[Check]
    seconds: float  # the scenario itself, controller start excluded
    startup_seconds: float
    records: list[OFRecord] = field(default_factory=list)
    behaviour_score: float = 0.0
    behaviour_max: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "seconds": round(self.seconds, 4),
            "startup_seconds": round(self.startup_seconds, 3),
            "behaviour_score": self.behaviour_score,
            "behaviour_max": self.behaviour_max,
            "checks": [c.to_dict() for c in self.checks],
            "messages": len(self.records),
        }


@dataclass
class ReplayReport:
    """All scenarios of one app."""

    app: str
    scenarios: list[ScenarioResult]

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)

    def to_dict(self) -> dict[str, Any]:
        return {"app": self.app, "passed": self.passed, "scenarios": [s.to_dict() for s in self.scenarios]}

    def summary(self) -> str:
        """Readable lines: one per scenario, then each failed check with its evidence."""
        lines = []
        for s in self.scenarios:
            verdict = "PASS" if s.passed else "FAIL"
            lines.append(f"{verdict} {s.name} ({s.seconds * 1000:.0f} ms, {len(s.records)} messages)")
            for check in s.checks:
                if not check.passed:
                    lines.append(f"  - {check.id}: {check.detail}")
                    lines.extend(f"      {e}" for e in check.evidence[:6])
        return "\n".join(lines)


# ---------------------------------------------------------------------------------- driving


@dataclass
class Ping:
    src: str
    dst: str
    ident: int
    seq: int
    replied: bool = False


async def _ping(net: SimNetwork, src: str, dst: str, ident: int, seq: int) -> Ping:
    a, b = net.hosts[src], net.hosts[dst]
    hop = a.next_hop(b.ip)  # b itself, or a's gateway when b is on another subnet
    if hop not in a.arp_cache:
        a.send(arp_frame(1, a.mac, a.ip, "ff:ff:ff:ff:ff:ff", hop))
        await net.settle()
    ping = Ping(src, dst, ident, seq)
    if hop in a.arp_cache:
        a.send(icmp_frame(8, a.mac, a.ip, a.arp_cache[hop], b.ip, ident, seq))
        await net.settle()
        ping.replied = (ident, seq) in a.echo_replies
    return ping


async def _run_steps(
    net: SimNetwork, steps: list[Any], of_port: int, marks: dict[str, tuple[int, NetworkState]] | None = None
) -> list[Ping]:
    pings: list[Ping] = []
    rounds: dict[tuple[str, str], int] = {}
    hosts = sorted(net.hosts, key=lambda n: (len(n), n))

    async def ping(src: str, dst: str) -> None:
        seq = rounds[(src, dst)] = rounds.get((src, dst), 0) + 1
        ident = hosts.index(src) * 64 + hosts.index(dst)
        pings.append(await _ping(net, src, dst, ident, seq))

    for step in steps:
        if step == "pingall":
            for src in hosts:
                for dst in hosts:
                    if src != dst:
                        await ping(src, dst)
        elif isinstance(step, dict) and "ping" in step:
            await ping(step["ping"]["src"], step["ping"]["dst"])
        elif isinstance(step, dict) and "link" in step:
            a, b, state = step["link"]
            await net.link(a, b, up=state == "up")
            await net.settle()
        elif isinstance(step, dict) and "sleep" in step:
            wait = step["sleep"]
            await net.idle(float(wait["seconds"] if isinstance(wait, dict) else wait))
        elif isinstance(step, dict) and "settle" in step:
            args = step["settle"]
            await _settle(net, float(args["stable_s"]), float(args.get("timeout_s", 60.0)), ping, hosts)
        elif isinstance(step, dict) and "reconnect" in step:
            name = step["reconnect"]
            switch = next(iter(net.switches.values())) if name == "first" else net.switches[name]
            await switch.disconnect()
            await switch.connect("127.0.0.1", of_port)
            await asyncio.wait_for(switch.ready.wait(), 10)
            await net.settle(force=True)
        elif isinstance(step, dict) and "mark" in step and marks is not None:
            marks[str(step["mark"])] = (len(pings), _flow_state(net))
        else:
            raise ReplayError(f"unknown replay step {step!r} (pingall, ping, sleep, settle, link, reconnect)")
    return pings


def _switch_lines(net: SimNetwork) -> tuple[Any, ...]:
    """What a ``settle`` step watches: every switch's flows and the port config the app set."""
    return tuple(
        (s.name, tuple(repr(e.flow) for e in s.entries), tuple(sorted(s.config.items())))
        for s in net.switches.values()
    )


async def _settle(net: SimNetwork, stable_s: float, timeout_s: float, ping: Any, hosts: list[str]) -> None:
    """The live ``settle`` step on the simulated switches (``labs.live.settle``): real time passes
    until their flows and port config have not changed for ``stable_s`` seconds, then every host
    pings every other; a change in the ``stable_s`` seconds after the pings (the app forgot
    flows) starts another round. At ``timeout_s`` the network is judged as it is."""
    deadline = time.monotonic() + timeout_s

    async def quiet() -> bool:
        seen, since = _switch_lines(net), time.monotonic()
        while time.monotonic() - since < stable_s:
            if time.monotonic() >= deadline:
                return False
            await net.idle(0.25)
            now = _switch_lines(net)
            if now != seen:
                seen, since = now, time.monotonic()
        return True

    while await quiet():
        for src in hosts:
            for dst in hosts:
                if src != dst:
                    await ping(src, dst)
        if await quiet():
            return


def _flow_state(net: SimNetwork) -> NetworkState:
    """The flow tables of every simulated switch now."""
    return NetworkState({s.name: s.state() for s in net.switches.values()})


# ---------------------------------------------------------------------------------- checks


@functools.lru_cache(maxsize=4096)
def _frame_key(frame: bytes) -> tuple[Any, ...]:
    """(eth_src, eth_dst, ethertype, ARP target or ICMP type): one "flow" for the storm check."""
    from os_ken.lib.packet import arp, ethernet, icmp, packet

    pkt = packet.Packet(frame)
    eth = pkt.get_protocol(ethernet.ethernet)
    ic = pkt.get_protocol(icmp.icmp)
    a = pkt.get_protocol(arp.arp)
    return (eth.src, eth.dst, eth.ethertype, a.dst_ip if a else ic.type if ic else None)


@functools.lru_cache(maxsize=4096)
def _echo_seq(frame: bytes) -> int | None:
    from os_ken.lib.packet import icmp, packet

    ic = packet.Packet(frame).get_protocol(icmp.icmp)
    return ic.data.seq if ic is not None and ic.type in (0, 8) else None


def _packet_in_frame(record: OFRecord) -> bytes:
    """The frame an OpenFlow 1.3 PACKET_IN carries (read from the bytes; other versions parsed)."""
    data = record.data
    if data[0] == 0x04 and len(data) >= 8 + 16 + 4:
        (match_len,) = struct.unpack_from("!H", data, 8 + 16 + 2)
        return bytes(data[8 + 16 + match_len + (-match_len % 8) + 2 :])
    from sdnlab.grader.replay.show import parse

    return bytes(parse(record).data)


DELETE_COMMANDS = (b"\x03", b"\x04")  # OFPFC_DELETE, OFPFC_DELETE_STRICT


def forget_epochs(records: list[OFRecord]) -> dict[int, int]:
    """id(packet-in record) -> how many times the app had deleted flows on that switch before it.

    An app that deletes flows chose to forget what it learnt there (stplib apps do at each topology
    change): the conversation checks judge each switch's packet-ins since its last deletion.
    """
    deletes: dict[int | None, int] = {}
    epochs: dict[int, int] = {}
    for record in records:
        if record.direction == TO_CONTROLLER:
            if record.msg_type == 10:
                epochs[id(record)] = deletes.get(record.dpid, 0)
        elif record.msg_type == 14 and record.version >= 4 and record.data[25:26] in DELETE_COMMANDS:
            deletes[record.dpid] = deletes.get(record.dpid, 0) + 1  # byte 25: an OF 1.3+ FLOW_MOD's command
    return epochs


def conversation_checks(records: list[OFRecord], unanswered: int, max_per_flow: int) -> list[Check]:
    """The checks on the message sequence itself."""
    from sdnlab.grader.replay.show import parse

    checks = [
        Check(
            "packet-ins-answered",
            unanswered == 0,
            f"{unanswered} packet-in(s) got no packet-out",
        )
    ]
    per_flow: dict[tuple[Any, ...], list[OFRecord]] = {}
    second: list[str] = []
    conversation = exchanges(records)
    epoch = forget_epochs(records)
    for ex in conversation:
        frame = _packet_in_frame(ex.packet_in)
        if is_link_control(frame):  # stplib's BPDUs come every 2 s by design: not a storm
            continue
        seen = per_flow.setdefault((ex.packet_in.dpid, epoch[id(ex.packet_in)], *_frame_key(frame)), [])
        seq = _echo_seq(frame)
        if seq is not None and seq >= 2 and seen:  # the app saw this flow and still installed nothing
            second.append(_evidence(ex))
        seen.append(ex.packet_in)
    worst: tuple[tuple[Any, ...] | None, list[OFRecord]] = max(
        per_flow.items(), key=lambda kv: len(kv[1]), default=(None, [])
    )
    checks.append(
        Check(
            "no-packet-in-storm",
            len(worst[1]) <= max_per_flow,
            f"at most {max_per_flow} packet-ins per switch and flow; worst: {len(worst[1])}"
            + (f" (dpid {worst[0][0]}, {worst[0][1]} -> {worst[0][2]})" if worst[0] else ""),
            [f"{r.time - records[0].time:.3f} s {decode(r)}" for r in worst[1][:6]]
            if len(worst[1]) > max_per_flow
            else [],
        )
    )
    checks.append(
        Check(
            "flows-before-second-packet",
            not second,
            "a repeated ping reached the controller: no flow was installed for it after the first packet"
            if second
            else "repeated pings were forwarded by installed flows",
            second,
        )
    )
    learned: dict[tuple[int | None, int], set[str]] = {}
    floods: list[str] = []
    for ex in conversation:
        frame = _packet_in_frame(ex.packet_in)
        src, dst = _frame_key(frame)[:2]
        known = learned.setdefault((ex.packet_in.dpid, epoch[id(ex.packet_in)]), set())
        for reply in ex.replies:
            if reply.msg_type != 13:  # only a PACKET_OUT floods a frame
                continue
            msg = parse(reply)
            is_flood = getattr(msg, "kind", "") == "PACKET_OUT" and any(
                getattr(a, "port", None) in (0xFFFFFFFB, 0xFFFFFFFC) for a in msg.actions
            )
            if is_flood and dst in known and not int(dst[:2], 16) & 1:  # a learnt unicast destination
                floods.append(_evidence(ex))
        known.add(src)
    checks.append(
        Check(
            "no-flood-after-learning",
            not floods,
            "the app flooded a frame whose destination the switch had already reported"
            if floods
            else "no flood to a learnt destination",
            floods,
        )
    )
    return checks


def _attach_sites(net: SimNetwork, recording: Path) -> None:
    """Give the simulated conversation the app source lines the runner recorded for each message."""
    try:
        runner = read_conversation(recording)
    except ReplayError:
        return
    sites: dict[bytes, list[str | None]] = {}
    for record in runner:
        if record.direction != TO_CONTROLLER:
            sites.setdefault(record.data, []).append(record.site)
    for index, record in enumerate(net.records):
        queue = sites.get(record.data) if record.direction != TO_CONTROLLER else None
        if queue:
            net.records[index] = dataclasses.replace(record, site=queue.pop(0))


def _read_errors(path: Path, before: float | None = None) -> list[dict[str, Any]]:
    """The app's handler failures the runner recorded (last record per failure).

    ``before``: only failures that first happened before this time (``time.time()``).
    """
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    last: dict[tuple[Any, ...], dict[str, Any]] = {}
    first: dict[tuple[Any, ...], float] = {}
    for line in lines:
        record = json.loads(line)
        key = (record["kind"], record["handler"], record["exc_type"], record["file"], record["line"])
        last[key] = record
        first.setdefault(key, float(record.get("time", 0)))
    return [record for key, record in last.items() if before is None or first[key] < before]


def _handler_check(errors: list[dict[str, Any]]) -> Check:
    """Say "your app raised AttributeError at l2_switch.py:58 in packet_in (12 times)", and hangs."""
    evidence = []
    for e in errors:
        where = f"{Path(e['file']).name}:{e['line']}" if e.get("file") else "?"
        if e["kind"] == "hang":
            evidence.append(f"{e['handler']} did not return (at {where}): {e['message']}")
        else:
            times = f" ({e['count']} times)" if e["count"] > 1 else ""
            evidence.append(
                f"your app raised {e['exc_type']} at {where} in {e['handler']}{times}: {e['message']}"
            )
    return Check("no-handler-errors", not errors, evidence[0] if evidence else "no handler raised", evidence)


def _evidence(ex: Any) -> str:
    from sdnlab.grader.replay.show import short_site

    replies = (
        "; ".join(decode(r) + (f" [{short_site(r.site)}]" if r.site else "") for r in ex.replies)
        or "no reply"
    )
    return f"dpid {ex.packet_in.dpid}: {decode(ex.packet_in)} => {replies}"


# ---------------------------------------------------------------------------------- running


@dataclass
class LabReplay:
    """What replay needs from a lab: its topology and behaviours."""

    topology: Any
    behaviours: tuple[Any, ...]
    scenarios: dict[str, list[Any]]


def load_lab(lab_dir: str | Path) -> LabReplay:
    """Read a lab folder's ``lab.yaml`` (topology, behaviours, optional ``replay:`` scenarios)."""
    from sdnlab.grader.spec import parse_behaviours
    from sdnlab.topologies import load_topology
    from sdnlab.yamlsrc import load_yaml_file

    path = Path(lab_dir) / "lab.yaml"
    data = load_yaml_file(path, ReplayError)  # the project's reader: duplicate keys, lines
    topo = data.get("topology") if isinstance(data, dict) else None
    if not isinstance(topo, dict) or not topo.get("name"):
        raise ReplayError(f"{path}: no topology name")
    topology = load_topology(str(topo["name"]), topo.get("params") or {})
    # the whole lab file: the spec reader then knows a check's lab-only keys (skills)
    behaviours = parse_behaviours(data if data.get("behaviours") else [], str(path), topology)
    scenarios = data.get("replay") or _with_waits(DEFAULT_SCENARIOS, data.get("scenario") or [])
    return LabReplay(topology, behaviours, scenarios)


def _with_waits(scenarios: dict[str, list[Any]], lab_scenario: list[Any]) -> dict[str, list[Any]]:
    """The default scenarios with the lab scenario's leading ``sleep``/``settle`` steps (an app's
    timers: stplib) first and again after each reconnect (a switch that comes back starts over)."""
    waits = []
    for step in lab_scenario:
        if not (isinstance(step, dict) and ("sleep" in step or "settle" in step)):
            break
        waits.append(step)
    waited = {}
    for name, steps in scenarios.items():
        out = [*waits]
        for step in steps:
            out.append(step)
            if isinstance(step, dict) and "reconnect" in step:
                out += waits
        waited[name] = out
    return waited


async def _scenario(
    topology: Any, steps: list[Any], of_port: int, marks: dict[str, tuple[int, NetworkState]], alive: Any
) -> tuple[SimNetwork, list[Ping], int, float, float]:
    """Run ``steps``; returns the network, pings, unanswered packet-ins, seconds and when it started."""
    net = SimNetwork(topology)
    try:
        await net.start("127.0.0.1", of_port, alive=alive)  # the first connection waits for the runner
        pings = await _run_steps(net, steps, of_port, marks)
        unanswered = net.unanswered
    finally:
        await net.stop()
    started = net.connected_at or time.perf_counter()
    return net, pings, unanswered, time.perf_counter() - started, started


@dataclass
class ReplayRun:
    """What one run of an app against simulated switches showed (before behaviours are judged)."""

    checks: list[Check]  # deliveries, loops, the conversation, handler errors
    pings: list[Ping]
    state: NetworkState  # the flow tables at the end
    marks: dict[str, tuple[int, NetworkState]]  # a ``{mark: NAME}`` step: (pings so far, flow tables)
    records: list[OFRecord]
    seconds: float
    startup_seconds: float


def free_port() -> int:
    """A local TCP port that nothing listens on now (for a replay's controller)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_SPARES: Any = None  # sdnlab.controller.warm.WarmSpares once keep_warm_spare() was called


def keep_warm_spare() -> None:
    """From now on keep a spare runner that has done its imports (``sdnlab.controller.warm``).

    For long-lived graders (the classroom agent): each replay then takes the spare instead of
    starting a runner cold, and the next spare starts in the background. Idempotent.
    """
    global _SPARES
    if _SPARES is None:
        from sdnlab.controller.warm import WarmSpares

        _SPARES = WarmSpares()
        import os_ken.ofproto.ofproto_v1_3_parser  # noqa: F401  # the simulated switches parse with it
    _SPARES.start_spare()


def _launch(app: str, of_port: int, env: dict[str, str]) -> Any:
    """A launched runner for ``app``: the warm spare when one is kept, else a cold start."""
    from sdnlab.controller.process import ControllerProcess

    if _SPARES is not None:
        return _SPARES.take([app], of_port, env)
    return ControllerProcess([app], of_port, env=env).launch()


def replay_run(
    app: str,
    topology: Any,
    steps: list[Any],
    of_port: int | None = None,
    max_per_flow: int = MAX_PACKET_INS_PER_FLOW,
    name: str = "replay",
) -> ReplayRun:
    """Run ``app`` in a fresh controller against simulated switches through ``steps``."""
    from sdnlab.controller.process import port_open
    from sdnlab.errors import SdnlabError

    of_port = of_port or free_port()
    if port_open("127.0.0.1", of_port):
        raise ReplayError(f"OpenFlow 127.0.0.1:{of_port}: already in use by another process")
    marks: dict[str, tuple[int, NetworkState]] = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sdnlab-replay-") as tmp:
        errors_file = Path(tmp) / "app-errors.jsonl"
        recording = Path(tmp) / "runner.pcapng"
        env = {
            "SDNLAB_APP_ERRORS": str(errors_file),
            "SDNLAB_APP_HANG_S": "2",
            "SDNLAB_OF_RECORD": str(recording),
            REPLAY_SYNC_ENV: "1",
        }
        ctl = _launch(app, of_port, env)
        try:
            try:
                net, pings, unanswered, seconds, ready = asyncio.run(
                    _scenario(topology, steps, of_port, marks, ctl.alive)
                )
            except SdnlabError:
                raise
            except (TimeoutError, OSError) as exc:
                if not ctl.alive():
                    ctl.stop()
                    raise ReplayError(
                        f"the controller exited before the scenario ran: {ctl.output()[-1500:]}"
                    ) from None
                raise ReplayError(
                    f"scenario {name}: {exc}; controller output: {ctl.output()[-500:]}"
                ) from None
            startup = ready - t0
        finally:
            ctl.stop()  # flushes the final error counts
        # live grading never takes the switches away: an error the app raises only when they
        # disconnect at the end (stplib's bridge removal) is not one the trainee would see there
        handler_errors = _read_errors(errors_file, before=net.stopped_at)
        _attach_sites(net, recording)
    failed = [p for p in pings if not p.replied]
    checks = [
        Check(
            "pings-delivered",
            not failed,
            f"{len(pings) - len(failed)}/{len(pings)} pings answered"
            + (
                f"; first failure {failed[0].src} -> {failed[0].dst} (round {failed[0].seq})"
                if failed
                else ""
            ),
        ),
        Check("no-forwarding-loop", net.loops == 0, f"{net.loops} frame(s) crossed more than 64 switches"),
    ]
    checks += conversation_checks(net.records, unanswered, max_per_flow)
    checks.append(_handler_check(handler_errors))
    if net.unsupported:
        checks.append(Check("simulated", False, "; ".join(sorted(set(net.unsupported))[:3])))
    return ReplayRun(checks, pings, _flow_state(net), marks, net.records, seconds, startup)


def run_scenario(
    app: str,
    lab: LabReplay,
    name: str,
    steps: list[Any],
    of_port: int,
    max_per_flow: int = MAX_PACKET_INS_PER_FLOW,
) -> ScenarioResult:
    """Run one scenario with a fresh controller and judge it."""
    from sdnlab.grader.grading import grade

    run = replay_run(app, lab.topology, steps, of_port, max_per_flow, name)
    checks = list(run.checks)
    report = grade(lab.topology, run.state, lab.behaviours)
    for result in report.results:
        checks.append(Check(f"behaviour:{result.id}", result.passed, getattr(result, "summary", "") or ""))
    return ScenarioResult(
        name,
        checks,
        run.seconds,
        run.startup_seconds,
        run.records,
        behaviour_score=report.score,
        behaviour_max=report.max_score,
    )


def replay_app(
    app: str, lab_dir: str | Path, of_port: int = BASE_PORT, record_dir: str | Path | None = None
) -> ReplayReport:
    """Grade ``app`` (a .py file or module) on every replay scenario of the lab."""
    lab = load_lab(lab_dir)
    results = []
    for index, (name, steps) in enumerate(lab.scenarios.items()):
        result = run_scenario(app, lab, name, steps, of_port + index)
        if record_dir is not None:
            write_conversation(Path(record_dir) / f"{name}.pcapng", result.records)
        results.append(result)
    return ReplayReport(app, results)


def packet_ins(records: list[OFRecord]) -> int:
    """How many packet-ins a conversation holds."""
    return sum(1 for r in records if r.direction == TO_CONTROLLER and r.msg_type == 10)
