"""How much of a feed a link cut loses because of the answer, measured against a witness.

Open vSwitch's userspace datapath has to notice a cut link (carrier down) and re-translate its
cached flows before *any* answer can use another path. That delay belongs to the switch
process, not to the trainee, and it swings with load: one ``ovs-vswitchd`` main thread forwards
for every lab on the machine and stalls while other labs are built or torn down. On a 2-core
machine with another lab churning and CPU burners the same fast-failover answer lost 3 to
918 ms per cut (6-71 ms on a quieter machine).

So every cut is made twice in one ``ip`` command: on the lab's link and on a **witness**, a
bridge of three ports whose fast-failover group moves a second stream to its backup port when
the primary goes down: the best any answer can do on this switch process at that moment. Both
streams are watched where the switch decides, with the kernel's timestamps (a slow capture
process does not matter): where they enter the network, and when the cut switch sent each
datagram on. Both are judged by *when* the cut switch sent its stream on again after the cut
(the first datagram it sent on after the cut: the cut link was down by then), on the switch's
own clock:

    charged = max(0, feed resumed - witness resumed - feed sender silent), in ms after the cut

and 0 when the feed lost nothing around the cut. Times, not counts of lost datagrams: a
stalled ``ovs-vswitchd`` drains each port's backlog in batches of 32 (the datapath's burst),
its full receive buffer drops datagrams after it has switched over, and the two senders are
separate processes the kernel stalls and lets burst independently, so two streams switched
over at the same instant lost different numbers of datagrams (measured under load: the
reference was charged 52 to 182 ms by lost datagrams in 13 of 110 cuts, and in each of those
st1 sent its feed on again within 13 ms of the witness, in 11 within 1 ms). The witness
resumed when its slowest flow did (``WITNESS_FLOWS`` flows: the switch re-translates cached
flows in no fixed order, and the feed's flow is one more in that sweep). Time in which the
feed's sender sent nothing after the witness resumed is not charged (it paused: no datagram
could be forwarded). A cut after which even the witness never resumed judges nothing (the
switch process stalled for the whole stream). The destination's own loss is reported too (the
switches after the cut switch add their own first-packet delays, which are not the answer's in
a lab without a controller).

A fast-failover answer is charged about 0; one that waits for a controller is charged the
controller's reaction; one that never switches loses the feed for good (infinite).

The witness lives only during a measurement; it is listed in the lab's ``spec.json`` (bridges
and interfaces) while it exists, so a lab torn down or cleaned after a crash removes it too.
"""

from __future__ import annotations

import itertools
import json
import math
import select
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from sdnlab.labs.probes import INTERVAL_MS

WITNESS_PORT = 5999  # the witness stream's UDP port (its frames never leave the witness bridge)
# The witness stream is this many flows (by UDP source port): ovs-vswitchd re-translates cached
# flows after a cut in no fixed order, so the witness's delay is that of its slowest flow.
WITNESS_FLOWS = 4
LEAD_S = 0.3  # stream before the cut, once both streams are seen flowing
FLOWING_TIMEOUT_S = 3.0  # a feed that never flows is cut anyway (and judged: nothing to compare)

# Capture UDP datagrams carrying a sequence number on interfaces of the root namespace, with the
# kernel's timestamps: argv = seconds, ports (comma list), interfaces...; prints "ready", then
# "flowing" once every port's stream came in (FLOWING datagrams each), then at the end one JSON
# list of [interface, outgoing(0/1), udp port, seq, time].
CAPTURE = (
    "import socket,struct,sys,time,json,select\nFLOWING=200\n"
    "secs=float(sys.argv[1]); ports={int(p) for p in sys.argv[2].split(',')}; socks={}\n"
    "for i in sys.argv[3:]:\n"
    "    s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.htons(3))\n"
    "    s.setsockopt(socket.SOL_SOCKET,33,16<<20); s.setsockopt(socket.SOL_SOCKET,35,1)\n"
    "    s.bind((i,0)); s.setblocking(False); socks[s]=i\n"
    "out=[]; print('ready',flush=True); end=time.time()+secs; seen={}; told=False\n"
    "while time.time()<end:\n"
    "    if not told and len(seen)==len(ports) and min(seen.values())>=FLOWING:\n"
    "        print('flowing',flush=True); told=True\n"
    "    for s in select.select(list(socks),[],[],0.2)[0]:\n"
    "        while True:\n"
    "            try: data,anc,_,addr=s.recvmsg(2048,64)\n"
    "            except OSError: break\n"
    "            if len(data)<42 or data[12:14]!=b'\\x08\\x00' or data[23]!=17: continue\n"
    "            h=14+(data[14]&15)*4; port=struct.unpack('!H',data[h+2:h+4])[0]\n"
    "            if port not in ports: continue\n"
    "            try: seq=int(data[h+8:])\n"
    "            except ValueError: continue\n"
    "            ts=[struct.unpack('qq',d[:16]) for l,t,d in anc if l==socket.SOL_SOCKET and t==35]\n"
    "            if ts: out.append([socks[s],int(addr[2]==4),port,seq,ts[0][0]+ts[0][1]/1e9])\n"
    "            if addr[2]!=4: seen[port]=seen.get(port,0)+1\n"
    "print(json.dumps(out))\n"
)

# The witness stream: UDP frames with a sequence number, one per ``gap`` ms, sent into an
# interface of the root namespace, datagram i from UDP source port port+1+i%WITNESS_FLOWS (one
# datapath flow each): argv = interface, gap ms, count, port.
WITNESS_SEND = (
    f"import socket,struct,sys,time\nFLOWS={WITNESS_FLOWS}\n"
    "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW); s.bind((sys.argv[1],0))\n"
    "gap=float(sys.argv[2])/1000; n=int(sys.argv[3]); port=int(sys.argv[4]); t0=time.perf_counter()\n"
    "for i in range(n):\n"
    "    body=str(i).encode(); udp=struct.pack('!HHHH',port+1+i%FLOWS,port,8+len(body),0)+body\n"
    "    ip=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(udp),0,0,64,17,0,b'\\n\\xfe\\0\\1',b'\\n\\xfe\\0\\2')\n"
    "    s.send(b'\\x02\\x00\\x00\\xfe\\x00\\x02'+b'\\x02\\x00\\x00\\xfe\\x00\\x01'+b'\\x08\\x00'+ip+udp)\n"
    "    wait=t0+(i+1)*gap-time.perf_counter()\n"
    "    if wait>0: time.sleep(wait)\n"
)


@dataclass(frozen=True)
class Cut:
    """One cut (all ms after the cut): when the cut switch sent the feed on again after its loss
    (0 when it lost nothing, infinite when it never reached the destination again), the feed's
    loss at the destination, when the witness resumed, and how long the feed's own sender sent
    nothing after the witness had resumed (not charged)."""

    loss_ms: float
    delivered_loss_ms: float
    witness_ms: float | None  # None: the witness could not be measured (then the loss is charged)
    silent_ms: float = 0.0

    @property
    def recovered(self) -> bool:
        """Whether the feed came back after the cut."""
        return not math.isinf(self.loss_ms)

    @property
    def judged(self) -> bool:
        """Whether the cut says anything about the answer: the feed flowed before it, and the
        witness resumed after it (else the switch process stalled for the whole stream)."""
        return not math.isnan(self.loss_ms) and not (
            self.witness_ms is not None and math.isinf(self.witness_ms)
        )

    @property
    def charged_ms(self) -> float:
        if math.isinf(self.loss_ms) or self.witness_ms is None or math.isinf(self.witness_ms):
            return self.loss_ms
        if self.loss_ms == 0.0:
            return 0.0
        return max(0.0, self.loss_ms - self.witness_ms - self.silent_ms)

    def text(self, switch: str = "the cut switch", dst: str = "the destination") -> str:
        if math.isinf(self.loss_ms):
            return f"the stream never came back to {dst}"
        if self.witness_ms is None or math.isinf(self.witness_ms):
            return f"{switch} forwarded the stream again after {self.loss_ms:.0f} ms (no witness measurement)"
        silent = f", its sender silent {self.silent_ms:.0f} ms after that" if self.silent_ms >= 1 else ""
        return (
            f"{switch} forwarded the stream again after {self.loss_ms:.0f} ms ({dst} lost "
            f"{self.delivered_loss_ms:.0f} ms), of which the switch process itself needed "
            f"{self.witness_ms:.0f} ms (witness){silent}: {self.charged_ms:.0f} ms charged"
        )


CUT_TRIES = 5  # a loaded switch process charged 1-3 cuts in 12 over 50 ms (bench/failover)
MISSES = 2  # cuts without a verdict or without recovery after which more cuts would not help


def best_cut(measure: Callable[[], Cut], tries: int = CUT_TRIES, good: float = 0.0) -> Cut | None:
    """The best (least charged) of up to ``tries`` cuts made by ``measure``, or None when no cut
    could be judged.

    A cut whose feed never flowed before it (loss NaN) judges nothing and is skipped; so is one
    after which even the witness never resumed (the switch process stalled: that says nothing
    about the answer, and is no miss of it). Cutting stops once a cut is charged at most
    ``good`` (it meets the limit: more cuts cannot do better for the verdict), or after
    ``MISSES`` cuts whose feed never flowed or never came back (an answer without a backup path
    misses every one).
    """
    best: Cut | None = None
    missed = 0
    for _ in range(tries):
        cut = measure()
        if math.isnan(cut.loss_ms):
            missed += 1
        elif not cut.judged:
            continue
        else:
            if best is None or cut.charged_ms < best.charged_ms:
                best = cut
            missed += not cut.recovered
        if (best is not None and best.charged_ms <= good) or missed >= MISSES:
            break
    return best


def _around_cut(received: set[int], ingress: dict[int, float], cut_done: float) -> tuple[float, int, int]:
    """(verdict, last datagram through before the loss, first through after the cut): the
    verdict is 0 when both exist, ``inf`` when nothing came through after the cut, ``nan`` when
    the stream did not come through before it."""
    after = [seq for seq in received if ingress.get(seq, -math.inf) >= cut_done]
    if not any(ingress.get(seq, math.inf) < cut_done for seq in received):
        return math.nan, -1, -1
    if not after:
        return math.inf, -1, -1
    back = min(after)
    before = max((seq for seq in received if seq < back), default=None)
    if before is None:
        return math.nan, -1, -1
    return 0.0, before, back


def loss_at_cut(received: set[int], ingress: dict[int, float], cut_done: float, interval_ms: float) -> float:
    """The stream lost around a cut (ms): the datagrams missing before the first one through of
    those that entered the network after the cut was done. Infinite when none of those came
    through; ``nan`` when the stream did not come through before the cut (nothing to judge).

    ``received``: sequence numbers that came through; ``ingress``: sequence number -> time it
    entered the network (kernel timestamp).
    """
    verdict, before, back = _around_cut(received, ingress, cut_done)
    return verdict if verdict else (back - before - 1) * interval_ms


def _first_sent_after(sent_on: dict[int, float], cut_done: float) -> int | None:
    """The datagram the switch sent on first after the cut (the cut link was down by then:
    whatever left, left by another path), or None."""
    after = [(at, seq) for seq, at in sent_on.items() if at >= cut_done]
    return min(after)[1] if after else None


def resumed_ms(
    sent_on: dict[int, float], ingress: dict[int, float], cut_done: float, lost_only: bool = True
) -> float:
    """When (ms after the cut) a switch sent a stream on again after the cut: the time the first
    datagram it sent on after the cut left it (its clock, not the sender's: a backlog drained in
    bursts, a sender that burst, or datagrams its own full receive buffer dropped after it had
    switched over do not change it). 0 when nothing was lost around the cut, unless
    ``lost_only`` is False (the witness: then that time all the same); ``inf`` when nothing
    that entered after the cut came through, ``nan`` when the stream did not come through
    before it.

    ``sent_on``: sequence number -> time the switch sent it on; ``ingress``: sequence number ->
    time it entered the network (kernel timestamps, seconds).
    """
    verdict, before, back = _around_cut(set(sent_on), ingress, cut_done)
    if verdict:
        return verdict
    if lost_only and back == before + 1:
        return 0.0
    first = _first_sent_after(sent_on, cut_done)  # not None: ``back`` entered, so left, after the cut
    assert first is not None
    return max(0.0, (sent_on[first] - cut_done) * 1000.0)


def witness_resumed_ms(sent_on: dict[int, float], ingress: dict[int, float], cut_done: float) -> float:
    """When the witness resumed: when its slowest flow did (datagram i is flow i %
    WITNESS_FLOWS); ``nan`` when no flow could be judged, ``inf`` when one never resumed."""
    delays = []
    for flow in range(WITNESS_FLOWS):
        out = {seq // WITNESS_FLOWS: at for seq, at in sent_on.items() if seq % WITNESS_FLOWS == flow}
        times = {seq // WITNESS_FLOWS: at for seq, at in ingress.items() if seq % WITNESS_FLOWS == flow}
        delays.append(resumed_ms(out, times, cut_done, lost_only=False))
    judged = [d for d in delays if not math.isnan(d)]
    return max(judged) if judged else math.nan


def sender_silent_ms(
    sent_on: dict[int, float], ingress: dict[int, float], cut_done: float, since_ms: float, interval_ms: float
) -> float:
    """The longest time, from ``since_ms`` after the cut until the first datagram the switch sent
    on after the cut entered the network, in which the stream's sender sent nothing (less one
    interval): a switch cannot forward what was never sent."""
    first = _first_sent_after(sent_on, cut_done)
    if first is None or first not in ingress:
        return 0.0
    since, until = cut_done + since_ms / 1000.0, ingress[first]
    if until <= since:
        return 0.0
    points = [since, *sorted(t for t in ingress.values() if since < t < until), until]
    longest = max(b - a for a, b in itertools.pairwise(points))
    return max(0.0, longest * 1000.0 - interval_ms)


def first_seen(rows: list, interfaces: set[str] | list[str], port: int, outgoing: bool) -> dict[int, float]:
    """Sequence number -> the earliest capture time of the stream on ``port`` at ``interfaces``
    (rows of the capture: [interface, outgoing, udp port, seq, time])."""
    seen: dict[int, float] = {}
    for intf, out, p, seq, at in rows:
        if intf in interfaces and p == port and bool(out) == outgoing and at < seen.get(seq, math.inf):
            seen[seq] = at
    return seen


# ---------------------------------------------------------------- the witness bridge


@dataclass(frozen=True)
class Witness:
    """A bridge whose port 1 feeds a fast-failover group: primary port 2, backup port 3."""

    bridge: str
    ingress: str  # the bridge's port 1
    feed: str  # its peer, where the witness stream is sent
    primary: str  # port 2 (cut)
    backup: str  # port 3

    @property
    def interfaces(self) -> list[str]:
        return [self.ingress, self.primary, self.backup]


def witness_for(slot: int) -> Witness:
    base = f"sdnwit{slot}"
    return Witness(base, f"{base}-i", f"{base}-f", f"{base}-p", f"{base}-b")


def _run(argv: list[str], what: str, stdin: str | None = None) -> None:
    from sdnlab.labs.errors import LabSessionError

    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise LabSessionError(f"failover witness: {what}: {proc.stderr.strip()[:300]}")


def _spec_entries(name: str, witness: Witness, present: bool) -> None:
    """List (or unlist) the witness in the lab's spec.json, which teardown and clean read."""
    from sdnlab.runtime import paths

    path = paths.lab_dir(name) / "spec.json"
    spec = paths.read_json(path)
    if spec is None:
        return
    bridges = [b for b in spec.get("bridges", []) if b != witness.bridge]
    interfaces = [i for i in spec.get("switch_interfaces", []) if i not in witness.interfaces]
    if present:
        bridges.append(witness.bridge)
        interfaces += witness.interfaces
    spec["bridges"], spec["switch_interfaces"] = bridges, interfaces
    paths.write_json(path, spec)


@contextmanager
def witness_bridge(name: str):
    """Build the witness next to lab ``name`` for one measurement; removed afterwards."""
    from sdnlab.runtime import api, teardown

    witness = witness_for(int(api.status(name).get("slot", 0)))
    _spec_entries(name, witness, True)
    try:
        teardown.delete_bridges([witness.bridge])  # a leftover of an interrupted measurement
        teardown.delete_interfaces(witness.interfaces)
        pairs = [(witness.ingress, witness.feed), (witness.primary, witness.primary + "x")]
        pairs.append((witness.backup, witness.backup + "x"))
        batch = "".join(f"link add {a} type veth peer name {b}\n" for a, b in pairs)
        batch += "".join(f"link set {i} up\n" for pair in pairs for i in pair)
        _run(["ip", "-force", "-batch", "-"], "veths", batch)
        vsctl = ["ovs-vsctl", "--timeout=30", "add-br", witness.bridge]
        vsctl += ["--", "set", "bridge", witness.bridge, "datapath_type=netdev", "fail_mode=secure"]
        vsctl += ["protocols=OpenFlow13"]
        for number, port in enumerate(witness.interfaces, start=1):
            vsctl += ["--", "add-port", witness.bridge, port, "--", "set", "interface", port]
            vsctl += [f"ofport_request={number}"]
        _run(vsctl, "bridge")
        group = "group_id=1,type=ff,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3"
        _run(["ovs-ofctl", "-O", "OpenFlow13", "add-group", witness.bridge, group], "group")
        ports = [WITNESS_PORT + 1 + k for k in range(WITNESS_FLOWS)]
        flows = "".join(f"priority=1,udp,in_port=1,tp_src={p},actions=group:1\n" for p in ports)
        flows += "priority=0,actions=drop\n"
        _run(["ovs-ofctl", "-O", "OpenFlow13", "add-flows", witness.bridge, "-"], "flows", flows)
        yield witness
    finally:
        teardown.delete_bridges([witness.bridge])
        teardown.delete_interfaces(witness.interfaces)
        _spec_entries(name, witness, False)


# ---------------------------------------------------------------- one cut


def _ingress_interface(name: str, topology, src: str) -> str:
    """The switch port ``src``'s stream enters the network at (root namespace)."""
    from sdnlab.certification.scenario_flow_rate import access_switch
    from sdnlab.labs.probes import switch_interface

    return switch_interface(name, topology, access_switch(topology, src), src)


def measure_cut(
    name: str, topology, src: str, dst: str, cut: tuple, port: int, witness: Witness, seconds: float = 3.0
) -> Cut:
    """Stream ``src`` -> ``dst`` and through the witness, cut ``cut`` and the witness's primary at once."""
    from sdnlab.labs.live import address
    from sdnlab.labs.probes import RECEIVE, SEND, switch_interface
    from sdnlab.runtime import api

    link = switch_interface(name, topology, cut[0], cut[1])
    ingress = _ingress_interface(name, topology, src)
    peers = {lk.b if lk.a == cut[0] else lk.a for lk in topology.links if cut[0] in (lk.a, lk.b)}
    ports = sorted({switch_interface(name, topology, cut[0], peer) for peer in peers})
    count = int(seconds * 1000 / INTERVAL_MS)
    listen = sorted({ingress, *ports, *witness.interfaces})
    capture = subprocess.Popen(
        [sys.executable, "-c", CAPTURE, str(seconds + 4.0), f"{port},{WITNESS_PORT}", *listen],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    receiver = senders = None
    try:
        capture.stdout.readline()  # type: ignore[union-attr]  # "ready"
        receiver = api.popen_in(
            name,
            dst,
            [sys.executable, "-c", RECEIVE, str(port), str(seconds + 2.5)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(0.5)
        senders = [
            api.popen_in(
                name,
                src,
                [sys.executable, "-c", SEND, address(topology, dst), str(port), str(INTERVAL_MS), str(count)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WITNESS_SEND,
                    witness.feed,
                    str(INTERVAL_MS),
                    str(count),
                    str(WITNESS_PORT),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        lines = capture.stdout
        assert lines is not None
        if select.select([lines], [], [], FLOWING_TIMEOUT_S)[0]:
            lines.readline()  # "flowing": both streams run
        time.sleep(LEAD_S)
        try:  # everything is counted before the links come back (a stalled switch's backlog
            # would otherwise reach the receiver over the restored link)
            _run(["ip", "-batch", "-"], "cut", f"link set {link} down\nlink set {witness.primary} down\n")
            cut_done = time.time()
            deadline = time.monotonic() + seconds * 4
            for sender in senders:  # a starved sender is stopped: what it sent is judged
                try:
                    sender.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    sender.kill()
                    sender.wait()
            out, _ = receiver.communicate(timeout=seconds + 10)
            captured, _ = capture.communicate(timeout=seconds + 10)
        finally:
            _run(["ip", "-batch", "-"], "restore", f"link set {link} up\nlink set {witness.primary} up\n")
    finally:
        for proc in [capture, receiver, *(senders or [])]:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    try:
        received = {int(s) for s in json.loads(out or "[]")}
        rows = json.loads((captured or "[]").strip().splitlines()[-1])
    except (ValueError, IndexError):
        received, rows = set(), []
    feed_in = first_seen(rows, {ingress}, port, outgoing=False)
    sent_on = first_seen(rows, set(ports), port, outgoing=True)
    witness_in = first_seen(rows, {witness.ingress}, WITNESS_PORT, outgoing=False)
    witness_out = first_seen(rows, {witness.primary, witness.backup}, WITNESS_PORT, outgoing=True)
    delivered = loss_at_cut(received, feed_in, cut_done, INTERVAL_MS)
    resumed = resumed_ms(sent_on, feed_in, cut_done)
    witness_resumed = witness_resumed_ms(witness_out, witness_in, cut_done)
    if math.isinf(delivered) or math.isnan(delivered):
        resumed = delivered  # judged by the destination: it never got the stream back (or never had it)
    silent = 0.0
    if resumed > 0 and not math.isinf(resumed) and not math.isnan(witness_resumed + resumed):
        silent = sender_silent_ms(sent_on, feed_in, cut_done, witness_resumed, INTERVAL_MS)
    return Cut(resumed, delivered, None if math.isnan(witness_resumed) else witness_resumed, silent)
