"""The built-in controller app labs run (``sdnlab.controller.apps.builtin``).

A thin os-ken shim around ``sdnlab.controller.fabric.Fabric`` (``mode: routing``, the
default) or ``sdnlab.controller.l2.LearningSwitch`` (``mode: l2``): each ``@set_ev_cls``
handler turns the event into plain values, asks the logic what to send, and sends it.
Configuration comes from ``SDNLAB_CONTROLLER_CONFIG``, the declared topology from
``SDNLAB_TOPOLOGY_JSON``. It also serves ofctl_rest and the ``/sdnlab/...`` REST endpoints
(see docs/controller.md).
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

from ryu.app.wsgi import WSGIApplication
from sdnlab.controller import wire
from sdnlab.controller.builtin_rest import BuiltinRest
from sdnlab.controller.config import config_from_env
from sdnlab.controller.fabric import Fabric
from sdnlab.controller.l2 import LearningSwitch, PacketIn
from sdnlab.controller.network import DiscoveredNetwork, load_declared_from_env
from sdnlab.controller.ofctl_values import BadRequest
from sdnlab.controller.offload import Offload, OffloadRequest, OffloadTable
from sdnlab.controller.packets import ethernet_fields, not_for_flooding
from sdnlab.controller.pipeline import COOKIE_BUILTIN, FORWARD, PRIORITY_L2

app_manager.require_app("ryu.app.ofctl_rest")

LLDP_INTERVAL_S = 1.0
STATS_INTERVAL_S = 5.0


def send_msgs(datapath, msgs) -> None:
    """Attach ``datapath`` to messages built offline and send them in order, in one write.

    One queued buffer per batch (instead of one per message) saves a hand-over to the
    connection's send thread for every message, which is most of the cost of a flow setup.
    """
    chunks = []
    for msg in msgs:
        msg.datapath = datapath
        msg.xid = None  # a message object may have been sent to another switch before
        datapath.set_xid(msg)
        msg.serialize()
        chunks.append(msg.buf)
        if len(chunks) >= 64:
            datapath.send(b"".join(chunks))
            chunks = []
    if chunks:
        datapath.send(b"".join(chunks))


def live_ports(datapath) -> set[int]:
    """Port numbers of ``datapath`` that are up (from the port description os-ken fetched)."""
    ofp = datapath.ofproto
    return {
        port.port_no
        for port in (datapath.ports or {}).values()
        if port.port_no <= ofp.OFPP_MAX and port_is_up(ofp, port)
    }


def port_is_up(ofp, port) -> bool:
    return not (port.state & ofp.OFPPS_LINK_DOWN) and not (port.config & ofp.OFPPC_PORT_DOWN)


class BuiltinController(app_manager.OSKenApp):
    """Routing (or L2 learning), discovery, failover, quarantine and statistics."""

    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS: ClassVar[dict[str, type]] = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        state = DiscoveredNetwork()
        self.declared = load_declared_from_env(state)
        self.config = config_from_env(set(state.host_roles) if self.declared else None)
        self.fabric = Fabric(self.config, state)
        self.fabric.mark_chain_vnfs()
        self.l2 = LearningSwitch(idle_timeout=self.config.idle_timeout)
        self.routing = self.config.mode == "routing"
        self.lock = threading.RLock()
        self.datapaths: dict[int, Any] = {}
        self.port_stats: dict[int, list] = {}
        self.flow_stats: dict[int, list] = {}
        self.barrier_waiters: dict[tuple[int, int], threading.Event] = {}
        self.offloads = OffloadTable()
        for key in self.config.quarantine:
            try:
                self.fabric.quarantine(key, "configured")
            except BadRequest as exc:
                self.logger.error("quarantine in the configuration: %s; ignored", exc)
        kwargs["wsgi"].register(BuiltinRest, {"builtin": self})

    def start(self):
        thread = super().start()
        if self.routing:
            self.threads.append(hub.spawn(self._probe_loop))
        self.threads.append(hub.spawn(self._stats_loop))
        return thread

    # -- sending --------------------------------------------------------------------------
    def dispatch(self, per_dpid: dict[int, list]) -> None:
        """Send ``{dpid: [messages]}`` to the connected switches."""
        for dpid, msgs in per_dpid.items():
            datapath = self.datapaths.get(dpid)
            if datapath is not None and msgs:
                send_msgs(datapath, msgs)

    # -- switch lifecycle -----------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _switch_features(self, ev) -> None:
        datapath = ev.msg.datapath
        if not self.routing:
            self.datapaths[datapath.id] = datapath
            send_msgs(datapath, self.l2.datapath_up(datapath.id))

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change(self, ev) -> None:
        datapath = ev.datapath
        if datapath.id is None:
            return
        with self.lock:
            if ev.state == MAIN_DISPATCHER:
                self.logger.info("switch %016x connected", datapath.id)
                self.datapaths[datapath.id] = datapath
                if self.routing:
                    self.dispatch(self.fabric.switch_up(time.monotonic(), datapath.id, live_ports(datapath)))
            elif datapath.id in self.datapaths and self.datapaths[datapath.id] is datapath:
                self.logger.info("switch %016x disconnected", datapath.id)
                del self.datapaths[datapath.id]
                self.l2.datapath_down(datapath.id)
                if self.routing:
                    self.dispatch(self.fabric.switch_down(datapath.id))

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev) -> None:
        msg = ev.msg
        datapath = msg.datapath
        ofp = datapath.ofproto
        up = msg.reason != ofp.OFPPR_DELETE and port_is_up(ofp, msg.desc)
        if self.routing and msg.desc.port_no <= ofp.OFPP_MAX:
            with self.lock:
                self.dispatch(self.fabric.port_changed(datapath.id, msg.desc.port_no, up))

    # -- packets --------------------------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev) -> None:
        msg = ev.msg
        fields = ethernet_fields(msg.data)
        if fields is None:
            return
        eth_dst, eth_src, eth_type = fields
        in_port = msg.match.get("in_port")
        if in_port is None or not_for_flooding(eth_dst, eth_type):  # a bonded host's LACP: never flooded
            return
        pkt = PacketIn(msg.datapath.id, in_port, eth_src, eth_dst, bytes(msg.data), msg.buffer_id, eth_type)
        now = time.monotonic()
        if not self.routing:
            self._l2_packet_in(msg.datapath, now, pkt)
            return
        with self.lock:
            self.dispatch(self.fabric.packet_in(now, pkt))

    def _l2_packet_in(self, datapath, now: float, pkt: PacketIn) -> None:
        """L2 learning with the hot path (flow-mod + packet-out) encoded by ``wire`` in one write."""
        out_port = self.l2.decide(now, pkt)
        if out_port == pkt.in_port:
            return
        if out_port is None or pkt.buffer_id != wire.NO_BUFFER:
            send_msgs(datapath, self.l2.packet_in(now, pkt))
            return
        max_xid = datapath.ofproto.MAX_XID
        flow_xid = datapath.xid = (datapath.xid + 1) & max_xid
        out_xid = datapath.xid = (datapath.xid + 1) & max_xid
        datapath.send(
            wire.flow_mod_to_port(
                flow_xid,
                FORWARD.table_id,
                PRIORITY_L2,
                pkt.eth_dst,
                out_port,
                self.l2.idle_timeout,
                COOKIE_BUILTIN,
            )
            + wire.packet_out(out_xid, pkt.in_port, out_port, pkt.data)
        )

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev) -> None:
        msg = ev.msg
        with self.lock:
            flow_mod, offload_id = self.offloads.rule_rejected(bytes(msg.data or b""))
        if offload_id is not None:
            self.logger.warning(
                "switch %016x refused a flow-mod of offload %d (error type=%d code=%d)",
                msg.datapath.id,
                offload_id,
                msg.type,
                msg.code,
            )
        elif flow_mod:
            self.logger.warning(
                "switch %016x refused a flow-mod (error type=%d code=%d)", msg.datapath.id, msg.type, msg.code
            )
        else:
            self.logger.debug(
                "switch %016x reported error type=%d code=%d", msg.datapath.id, msg.type, msg.code
            )

    # -- periodic work --------------------------------------------------------------------
    def _probe_loop(self) -> None:
        while self.is_active:
            with self.lock:
                self.dispatch(self.fabric.probes())
            hub.sleep(LLDP_INTERVAL_S)

    def _stats_loop(self) -> None:
        while self.is_active:
            hub.sleep(STATS_INTERVAL_S)
            for datapath in list(self.datapaths.values()):
                parser, ofp = datapath.ofproto_parser, datapath.ofproto
                datapath.send_msg(parser.OFPPortStatsRequest(datapath, 0, ofp.OFPP_ANY))
                datapath.send_msg(parser.OFPFlowStatsRequest(datapath))

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def _port_stats(self, ev) -> None:
        self.port_stats[ev.msg.datapath.id] = list(ev.msg.body)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev) -> None:
        self.flow_stats[ev.msg.datapath.id] = list(ev.msg.body)

    # -- REST-facing operations -----------------------------------------------------------
    def quarantine(self, key: str, reason: str):
        """Quarantine a host; returns once every switch has applied it (barrier), or after 2 s."""
        with self.lock:
            entry, msgs = self.fabric.quarantine(key, reason)
            self.dispatch(msgs)
            pending = self._barriers(msgs)
        self._wait(pending)
        return entry

    def release(self, key: str):
        """Lift a quarantine; returns once every switch has applied it (barrier), or after 2 s."""
        with self.lock:
            entry, msgs = self.fabric.release(key)
            self.dispatch(msgs)
            pending = self._barriers(msgs)
        self._wait(pending)
        return entry

    def offload(self, request: OffloadRequest) -> tuple[list[Offload], list[int]]:
        """Install a flow's bypass rules on the connected switches; returns the offloads and the
        switches that did not confirm them (barrier) within 2 s.

        Raises ``NotFound``/``Conflict`` (``sdnlab.controller.offload``) for a VNF in no chain or
        a flow no chain of it carries (or no rule could be built for it).
        """
        with self.lock:
            graph = self.fabric.state.graph(self.config.weight)
            touched, msgs = self.offloads.offload(
                request,
                self.config.chains,
                self.fabric.state,
                graph,
                self.fabric.vnf_names,
                time.time(),
                connected=set(self.datapaths),
            )
            self.dispatch(msgs)
            pending = self._barriers(msgs)
        return touched, self._wait(pending)

    def clear_offloads(self) -> list[int]:
        """Remove every offload rule (the flows go back through their VNFs); returns the switches
        that did not confirm it within 2 s."""
        with self.lock:
            msgs = self.offloads.clear(list(self.datapaths))
            self.dispatch(msgs)
            pending = self._barriers(msgs)
        return self._wait(pending)

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)
    def _flow_removed(self, ev) -> None:
        with self.lock:
            self.offloads.rule_removed(ev.msg.cookie)

    def _barriers(self, per_dpid: dict[int, list]) -> dict[tuple[int, int], threading.Event]:
        """Send a barrier to each connected switch of ``per_dpid``; {(dpid, xid): set when it answers}."""
        pending = {}
        for dpid in per_dpid:
            datapath = self.datapaths.get(dpid)
            if datapath is None:
                continue
            barrier = datapath.ofproto_parser.OFPBarrierRequest(datapath)
            datapath.set_xid(barrier)
            done = threading.Event()
            self.barrier_waiters[(dpid, barrier.xid)] = done
            datapath.send_msg(barrier)
            pending[(dpid, barrier.xid)] = done
        return pending

    def _wait(self, pending: dict[tuple[int, int], threading.Event], timeout: float = 2.0) -> list[int]:
        """Wait (at most ``timeout`` in all) for the barriers; the switches that did not answer.
        Their waiters are dropped: a late answer finds none."""
        deadline = time.monotonic() + timeout
        for done in pending.values():
            done.wait(max(0.0, deadline - time.monotonic()))
        missing = set()
        with self.lock:
            for key, done in pending.items():
                self.barrier_waiters.pop(key, None)
                if not done.is_set():
                    missing.add(key[0])
        return sorted(missing)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev) -> None:
        done = self.barrier_waiters.pop((ev.msg.datapath.id, ev.msg.xid), None)
        if done is not None:
            done.set()
