"""Flow offload for service chains: VNFs that decided a flow ask the controller to take it over.

A request (``POST /sdnlab/offload``) names the VNF host that asks and the flow's 5-tuple as
that VNF saw it. ``parse_offload_request`` checks it at the edge; ``OffloadTable`` finds the
chains that contain the VNF and carry the flow, remembers which VNFs of each such flow have
asked, and answers with the messages that (re)install the flow's bypass rules
(``sfc.bypass_msgs``). It never sends anything; the app sends the messages and reports the
switches' flow-removed messages (``rule_removed``) and refused flow-mods (``rule_rejected``)
back, so an offload is listed while its rules live. A request changes the table only if it
succeeds; one switch rule belongs to one offload (see ``OffloadTable``). ``bypass`` skips the
VNF; ``rewrite`` skips it too and has the switch do its NAT (the load balancer's:
``backend_ip``, ``backend_port``, optional ``backend_mac`` and ``vip_mac``).
"""

from __future__ import annotations

import ipaddress
import re
import struct
from dataclasses import dataclass, field

import networkx as nx

from sdnlab.controller.config import Chain
from sdnlab.controller.errors import ControllerError
from sdnlab.controller.network import DiscoveredNetwork
from sdnlab.controller.ofctl_values import BadRequest
from sdnlab.controller.rest_input import NotFound
from sdnlab.controller.sfc import (
    COOKIE_OFFLOAD,
    COOKIE_OFFLOAD_MASK,
    OFFLOAD_ID_MASK,
    FiveTuple,
    Rewrite,
    bypass_msgs,
    offload_clear_msgs,
    orient,
)

PROTOCOLS = {"tcp": 6, "udp": 17}
MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
ACTIONS = ("bypass", "rewrite")


class Conflict(ControllerError):
    """The request is well formed but cannot be applied to the chains (HTTP 409)."""


@dataclass(frozen=True)
class OffloadRequest:
    """A VNF host asks for the rest of a flow to skip it."""

    vnf: str
    action: str
    flow: FiveTuple
    rewrite: Rewrite | None = None  # with action "rewrite": the NAT the switch takes over


def _port(body: dict, key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key}: expected a port number, got {value!r}")
    if not 0 <= value <= 65535:
        raise BadRequest(f"{key}: {value} is out of range (0..65535)")
    return value


def _ipv4(body: dict, key: str) -> str:
    value = body.get(key)
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        return str(ipaddress.IPv4Address(value))
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise BadRequest(f"{key}: expected an IPv4 address, got {value!r}") from None


def _proto(value) -> int:
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return PROTOCOLS[value.lower()]
    if type(value) is int and value in PROTOCOLS.values():  # not True, not 6.0
        return value
    raise BadRequest(f"proto: expected tcp (6) or udp (17), got {value!r}")


def parse_offload_request(body: dict) -> OffloadRequest:
    """The request in a ``POST /sdnlab/offload`` body; raises ``BadRequest`` naming the field."""
    for key in ("vnf", "proto", "src", "sport", "dst", "dport"):
        if key not in body:
            raise BadRequest(f"{key}: missing")
    vnf = body["vnf"]
    if not isinstance(vnf, str) or not vnf:
        raise BadRequest(f"vnf: expected the VNF's host name, got {vnf!r}")
    action = body.get("action", "bypass")
    if action not in ACTIONS:
        raise BadRequest(f"action: expected one of {', '.join(ACTIONS)}, got {action!r}")
    flow = FiveTuple(
        _proto(body["proto"]),
        _ipv4(body, "src"),
        _port(body, "sport"),
        _ipv4(body, "dst"),
        _port(body, "dport"),
    )
    rewrite = None
    if action == "rewrite":
        for key in ("backend_ip", "backend_port"):
            if key not in body:
                raise BadRequest(f"{key}: missing (a rewrite names the backend)")
        rewrite = Rewrite(
            _ipv4(body, "backend_ip"),
            _port(body, "backend_port"),
            _mac(body, "backend_mac"),
            _mac(body, "vip_mac"),
        )
    return OffloadRequest(vnf, action, flow, rewrite)


def _mac(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not MAC_RE.fullmatch(value):
        raise BadRequest(f"{key}: expected a MAC address like 02:00:00:00:00:01, got {value!r}")
    return value.lower()


RuleKey = tuple[int, tuple]  # (dpid, the rule's match fields): OpenFlow keeps one rule per key and priority


def rule_key(dpid: int, msg) -> RuleKey:
    """Which switch rule a flow-add creates or replaces (all offload rules share one table and priority)."""
    return dpid, tuple(sorted(dict(msg.match.items()).items()))


@dataclass
class Offload:
    """One offloaded flow of one chain: which VNFs it skips and how many rules carry it."""

    offload_id: int
    chain: str
    flow: FiveTuple  # as the chain's forward direction sees it
    vnfs: tuple[str, ...]  # the VNF hosts that asked, in chain order
    rules: int
    since: float
    rewrites: dict[str, Rewrite] = field(default_factory=dict)  # VNF host -> the NAT the switch does for it
    keys: frozenset[RuleKey] = frozenset()  # the switch rules it installed

    @property
    def cookie(self) -> int:
        return COOKIE_OFFLOAD | self.offload_id

    def to_dict(self) -> dict:
        """The JSON view served by ``GET /sdnlab/offload``."""
        f = self.flow
        return {
            "id": self.offload_id,
            "chain": self.chain,
            "bypassed": list(self.vnfs),
            "proto": f.proto,
            "src": f.src,
            "sport": f.sport,
            "dst": f.dst,
            "dport": f.dport,
            "rules": self.rules,
            "cookie": f"{self.cookie:#x}",
            "since": self.since,
            "rewrites": {vnf: vars(rewrite) for vnf, rewrite in self.rewrites.items()},
        }


@dataclass
class _Plan:
    """What a request would change for one chain, computed before anything changes."""

    previous: Offload | None
    entry: Offload
    msgs: dict[int, list]


OFPT_FLOW_MOD = 14
OFPFC_ADD = 0


def quoted_flow_mod(data: bytes) -> tuple[int, int] | None:
    """(cookie, command) of the flow-mod an OpenFlow 1.3 error message quotes (its ``data``: the
    start of the failed request), or None when it quotes something else."""
    if len(data) < 26 or data[1] != OFPT_FLOW_MOD:
        return None
    (cookie,) = struct.unpack_from("!Q", data, 8)
    return cookie, data[25]


@dataclass
class OffloadTable:
    """The offloaded flows of every chain, keyed by (chain name, forward 5-tuple).

    One switch rule belongs to one offload: a chain whose rules for a flow would replace rules
    another chain's offload holds (same switch, same match; chains that share a VNF and both
    carry the flow) gets no offload for it (409 when no other chain of the request got one).
    """

    current: dict[tuple[str, FiveTuple], Offload] = field(default_factory=dict)
    by_id: dict[int, Offload] = field(default_factory=dict)
    next_id: int = 1

    def offload(
        self,
        request: OffloadRequest,
        chains: tuple[Chain, ...],
        state: DiscoveredNetwork,
        graph: nx.Graph,
        vnf_names: set[str],
        now: float,
        connected: set[int] | None = None,
    ) -> tuple[list[Offload], dict[int, list]]:
        """Record the request and return the offloads it touches with their messages.

        ``connected``: the switches the messages can be sent to (None: all); rules for the others
        are neither sent nor counted. Each touched offload is (re)installed in full under a new id,
        after deleting the rules of the offload it replaces: a second VNF asking widens the bypass,
        the same VNF asking again re-installs rules that idled out. Nothing changes unless the
        request succeeds: it raises ``NotFound`` when the VNF host is in no chain and ``Conflict``
        (saying why) when none of its chains carries the flow or no rule could be built for it.
        """
        member = [(index, chain) for index, chain in enumerate(chains) if request.vnf in chain.vnfs]
        if not member:
            known = request.vnf in state.host_roles
            raise NotFound(
                f"vnf: {request.vnf!r} is {'in no chain' if known else 'not a host of this network'}"
            )
        plans: list[_Plan] = []
        problems: list[str] = []
        carried = False
        next_id = self.next_id
        for index, chain in member:
            flow = orient(chain, request.flow, state, vnf_names)
            if flow is None:
                continue
            carried = True
            previous = self.current.get((chain.name, flow))
            asked = set(previous.vnfs if previous else ()) | {request.vnf}
            rewrites = dict(previous.rewrites if previous else {})
            if request.rewrite is not None:
                rewrites[request.vnf] = request.rewrite
            reasons: list[str] = []
            msgs = bypass_msgs(
                chain,
                index,
                flow,
                asked,
                state,
                graph,
                cookie=COOKIE_OFFLOAD | next_id,
                rewrites=rewrites,
                problems=reasons,
            )
            offline = sorted(dpid for dpid in msgs if connected is not None and dpid not in connected)
            msgs = {dpid: more for dpid, more in msgs.items() if dpid not in offline and more}
            keys = frozenset(rule_key(dpid, msg) for dpid, more in msgs.items() for msg in more)
            holder = self._holder(keys, previous, [plan.entry for plan in plans])
            if holder is not None:
                problems.append(
                    f"chain {chain.name!r}: its rules would replace those of offload {holder.offload_id} "
                    f"(chain {holder.chain!r}) at the same switch ports; one offload per flow and port"
                )
                continue
            if not keys:
                if offline:
                    names = ", ".join(f"{state.names.get(dpid, '?')} (dpid {dpid})" for dpid in offline)
                    reasons.append(f"switch {names} is not connected")
                problems.extend(f"chain {chain.name!r}: {reason}" for reason in reasons or ["no VNF to skip"])
                continue
            entry = Offload(
                next_id,
                chain.name,
                flow,
                tuple(v for v in chain.vnfs if v in asked),
                len(keys),
                now,
                rewrites,
                keys,
            )
            next_id = next_id % OFFLOAD_ID_MASK + 1
            plans.append(_Plan(previous, entry, msgs))
        f = request.flow
        if not carried:
            chain_names = ", ".join(chain.name for _, chain in member)
            raise Conflict(
                f"flow {f.proto} {f.src}:{f.sport} -> {f.dst}:{f.dport} is not steered through "
                f"{request.vnf!r} by any chain ({chain_names})"
            )
        if not plans:
            raise Conflict(
                f"flow {f.proto} {f.src}:{f.sport} -> {f.dst}:{f.dport}: no offload rule can be "
                f"built: {'; '.join(problems)}"
            )
        # the request succeeds: only now does the table change
        self.next_id = next_id
        out: dict[int, list] = {}
        for plan in plans:
            if plan.previous is not None:
                self._forget(plan.previous)
                for dpid in state.ports:  # the previous rules go first (same switches, other cookie)
                    if connected is None or dpid in connected:
                        out.setdefault(dpid, []).extend(offload_clear_msgs(plan.previous.offload_id))
            self.current[(plan.entry.chain, plan.entry.flow)] = plan.entry
            self.by_id[plan.entry.offload_id] = plan.entry
            for dpid, more in plan.msgs.items():
                out.setdefault(dpid, []).extend(more)
        return [plan.entry for plan in plans], out

    def _holder(
        self, keys: frozenset[RuleKey], previous: Offload | None, planned: list[Offload]
    ) -> Offload | None:
        """The offload (live, or planned by this request) of another chain or flow holding one of ``keys``."""
        for other in [*self.by_id.values(), *planned]:
            if other is not previous and other.keys & keys:
                return other
        return None

    def _forget(self, entry: Offload) -> None:
        self.by_id.pop(entry.offload_id, None)
        if self.current.get((entry.chain, entry.flow)) is entry:
            del self.current[(entry.chain, entry.flow)]

    def rule_removed(self, cookie: int) -> None:
        """A switch removed one offload rule (idle timeout or deletion), or refused to install it:
        the offload ends with its last rule."""
        if cookie & COOKIE_OFFLOAD_MASK != COOKIE_OFFLOAD:
            return
        entry = self.by_id.get(cookie & OFFLOAD_ID_MASK)
        if entry is None:
            return
        entry.rules -= 1
        if entry.rules <= 0:
            self._forget(entry)

    def rule_rejected(self, data: bytes) -> tuple[bool, int | None]:
        """A switch reported an error quoting ``data``: (whether it is a flow-mod, the offload id it
        belongs to or None). A refused offload rule no longer counts for its offload."""
        quoted = quoted_flow_mod(data)
        if quoted is None:
            return False, None
        cookie, command = quoted
        if cookie & COOKIE_OFFLOAD_MASK != COOKIE_OFFLOAD:
            return True, None
        offload_id = cookie & OFFLOAD_ID_MASK
        if command == OFPFC_ADD:
            self.rule_removed(cookie)
        return True, offload_id

    def clear(self, dpids) -> dict[int, list]:
        """Forget every offload; the messages deleting their rules on the switches ``dpids``."""
        self.current.clear()
        self.by_id.clear()
        return {dpid: offload_clear_msgs() for dpid in dpids}

    def listing(self) -> list[dict]:
        """Every live offload, oldest first."""
        return [entry.to_dict() for entry in sorted(self.by_id.values(), key=lambda e: e.offload_id)]
