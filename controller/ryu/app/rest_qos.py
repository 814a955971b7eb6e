"""Ryu's ``rest_qos`` REST API on os-ken: port queues (OVSDB), QoS rules and meters (OpenFlow 1.3).

Run as in the Ryu book's QoS chapter::

    ryu-manager ryu.app.rest_qos ryu.app.qos_simple_switch_13 ryu.app.rest_conf_switch

    GET    /qos/queue/status/{switch}      queue statistics (OpenFlow)
    GET    /qos/queue/{switch}             the ports' QoS and queues, read from OVSDB
    POST   /qos/queue/{switch}             {"port_name", "type", "max_rate", "queues": [{"max_rate", ...}]}
    DELETE /qos/queue/{switch}             remove the ports' QoS (optional {"port_name"})
    GET    /qos/rules/{switch}[/{vlan}]    the rules
    POST   /qos/rules/{switch}[/{vlan}]    {"priority", "match": {...}, "actions": {"mark"|"meter"|"queue"}}
    DELETE /qos/rules/{switch}[/{vlan}]    {"qos_id": N | "all"}
    GET    /qos/meter/{switch}             meter statistics
    POST   /qos/meter/{switch}             {"meter_id", "flags", "bands": [{"type", "rate", ...}]}
    DELETE /qos/meter/{switch}             {"meter_id"}

``{switch}`` is ``all`` or a dpid as 16 hex digits; ``{vlan}`` is ``all`` or 1..4094. Replies
have the book's shape: a list with one ``{"switch_id", "command_result"}`` per switch. Rules sit
in table 0 and go on to table 1, where ``qos_simple_switch_13`` forwards. Queues need the
switch's OVSDB address, set through ``rest_conf_switch`` (``ovsdb_addr``); only the ports of the
bridge that is connected as that switch are touched (``sdnlab.controller.ovsdb_qos``). A rule
naming a meter the switch does not have yet is kept and installed when that meter is added
(the book adds the rule first). Bad input is a 400 naming the field, an unknown switch or rule a
404, an OVSDB server that cannot be reached or refuses a 502: always ``{"error": "..."}``; with
``all``, a switch that fails reports ``"result": "failure"`` among the others' results.
The decisions are pure functions in ``sdnlab.controller.qos_rules`` and ``qos_queues``.
"""

from __future__ import annotations

import logging
import threading
from typing import ClassVar

from os_ken.base import app_manager
from os_ken.controller import conf_switch, dpset, ofp_event
from os_ken.controller.handler import MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3
from os_ken.ofproto import ofproto_v1_3_parser as parser

from ryu.app import conf_switch_key
from ryu.app.wsgi import ControllerBase, WSGIApplication, json_response, route
from sdnlab.controller import qos_queues, qos_rules
from sdnlab.controller.ofctl_values import BadRequest
from sdnlab.controller.ovsdb_qos import OvsdbError, OvsdbQos
from sdnlab.controller.rest_handlers import error_replies
from sdnlab.controller.rest_input import NotFound, parse_body
from sdnlab.controller.switch_requests import SwitchRequests, error_text

LOG = logging.getLogger("ryu.app.rest_qos")

# a flow naming a meter the switch lacks: OpenFlow says UNKNOWN_METER, Open vSwitch INVALID_METER
MISSING_METER = ("OFPMMFC_UNKNOWN_METER", "OFPMMFC_INVALID_METER")
METER_EXISTS = "OFPMMFC_METER_EXISTS"
SWITCH_HINTS = {
    "OFPMMFC_BAD_BAND": " (Open vSwitch meters take DROP bands only)",
    "OFPMMFC_INVALID_METER": " (meter_id out of the switch's range)",
}


rest_errors = error_replies((OvsdbError, 502))


def rejected(dpid: int, what: str, error: str) -> BadRequest:
    """The switch refused a message: say what, with the OpenFlow error and a hint if there is one."""
    code = error.split("/")[-1]
    return BadRequest(f"switch {dpid:016x} rejected the {what}: {error}{SWITCH_HINTS.get(code, '')}")


def port_names(dp) -> tuple[str, list[str]]:
    """The switch's bridge name (its LOCAL port's name) and its other ports' names."""
    bridge, names = "", []
    for port in getattr(dp, "ports", {}).values():
        name = _decoded(port.name)
        if port.port_no == dp.ofproto.OFPP_LOCAL:
            bridge = name
        else:
            names.append(name)
    return bridge, sorted(names)


class QoSController(ControllerBase):
    """The /qos resources: each handler checks its input, then acts on one switch or all."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app: RestQoSAPI = data["app"]

    # -- which switches -------------------------------------------------------------------------
    def _for_switches(self, switch_id: str, action):
        """``[{"switch_id", "command_result": action(dp)}]``; with ``all`` a failing switch reports it."""
        dpid = qos_rules.parse_switch_id(switch_id)
        if dpid is not None:
            dp = self.app.dpset.get(dpid)
            if dp is None or dpid not in self.app.qos:
                raise NotFound(f"switch_id: no QoS switch {switch_id} is connected")
            return json_response([{"switch_id": switch_id, "command_result": action(dp)}])
        replies = []
        for number in sorted(self.app.qos):
            dp = self.app.dpset.get(number)
            if dp is None:
                continue
            try:
                outcome = action(dp)
            except (BadRequest, NotFound, OvsdbError) as exc:
                outcome = [qos_rules.result(str(exc), ok=False)]
            replies.append({"switch_id": qos_rules.switch_id_text(number), "command_result": outcome})
        return json_response(replies)

    # -- queues ---------------------------------------------------------------------------------
    @route("qos", "/qos/queue/status/{switch_id}", methods=["GET"])
    @rest_errors
    def get_queue_status(self, req, switch_id, **_kwargs):
        return self._for_switches(switch_id, self.app.queue_status)

    @route("qos", "/qos/queue/{switch_id}", methods=["GET"])
    @rest_errors
    def get_queue(self, req, switch_id, **_kwargs):
        return self._for_switches(switch_id, self.app.read_queues)

    @route("qos", "/qos/queue/{switch_id}", methods=["POST"])
    @rest_errors
    def set_queue(self, req, switch_id, **_kwargs):
        setting = qos_queues.parse_queue_setting(parse_body(req.body))
        return self._for_switches(switch_id, lambda dp: self.app.set_queues(dp, setting))

    @route("qos", "/qos/queue/{switch_id}", methods=["DELETE"])
    @rest_errors
    def delete_queue(self, req, switch_id, **_kwargs):
        body = parse_body(req.body, optional=True)
        for key in body:
            if key != "port_name":
                raise BadRequest(f"{key}: unknown key (expected port_name, or no body for every port)")
        port_name = body.get("port_name")
        if port_name is not None and not isinstance(port_name, str):
            raise BadRequest(f"port_name: expected a port name such as s1-eth1, got {port_name!r}")
        return self._for_switches(switch_id, lambda dp: self.app.delete_queues(dp, port_name))

    # -- rules ----------------------------------------------------------------------------------
    @route("qos", "/qos/rules/{switch_id}", methods=["GET"])
    @rest_errors
    def get_rules(self, req, switch_id, **_kwargs):
        return self._for_switches(switch_id, lambda dp: self.app.list_rules(dp, None))

    @route("qos", "/qos/rules/{switch_id}/{vlan}", methods=["GET"])
    @rest_errors
    def get_vlan_rules(self, req, switch_id, vlan, **_kwargs):
        chosen = qos_rules.parse_vlan(vlan, allow_all=True)
        return self._for_switches(switch_id, lambda dp: self.app.list_rules(dp, chosen))

    @route("qos", "/qos/rules/{switch_id}", methods=["POST"])
    @rest_errors
    def set_rule(self, req, switch_id, **_kwargs):
        spec = qos_rules.parse_rule(parse_body(req.body))
        return self._for_switches(switch_id, lambda dp: self.app.add_rule(dp, spec))

    @route("qos", "/qos/rules/{switch_id}/{vlan}", methods=["POST"])
    @rest_errors
    def set_vlan_rule(self, req, switch_id, vlan, **_kwargs):
        chosen = qos_rules.parse_vlan(vlan, allow_all=False)
        assert isinstance(chosen, int)
        spec = qos_rules.parse_rule(parse_body(req.body), chosen)
        return self._for_switches(switch_id, lambda dp: self.app.add_rule(dp, spec))

    @route("qos", "/qos/rules/{switch_id}", methods=["DELETE"])
    @rest_errors
    def delete_rule(self, req, switch_id, **_kwargs):
        qos_id = qos_rules.parse_qos_id(parse_body(req.body))
        return self._for_switches(switch_id, lambda dp: self.app.delete_rules(dp, qos_id, None))

    @route("qos", "/qos/rules/{switch_id}/{vlan}", methods=["DELETE"])
    @rest_errors
    def delete_vlan_rule(self, req, switch_id, vlan, **_kwargs):
        chosen = qos_rules.parse_vlan(vlan, allow_all=True)
        qos_id = qos_rules.parse_qos_id(parse_body(req.body))
        return self._for_switches(switch_id, lambda dp: self.app.delete_rules(dp, qos_id, chosen))

    # -- meters ---------------------------------------------------------------------------------
    @route("qos", "/qos/meter/{switch_id}", methods=["GET"])
    @rest_errors
    def get_meter(self, req, switch_id, **_kwargs):
        return self._for_switches(switch_id, self.app.meter_stats)

    @route("qos", "/qos/meter/{switch_id}", methods=["POST"])
    @rest_errors
    def set_meter(self, req, switch_id, **_kwargs):
        meter = qos_rules.parse_meter(parse_body(req.body))
        return self._for_switches(switch_id, lambda dp: self.app.add_meter(dp, meter))

    @route("qos", "/qos/meter/{switch_id}", methods=["DELETE"])
    @rest_errors
    def delete_meter(self, req, switch_id, **_kwargs):
        meter_id = qos_rules.parse_meter_id(parse_body(req.body))
        return self._for_switches(switch_id, lambda dp: self.app.delete_meter(dp, meter_id))


class RestQoSAPI(app_manager.OSKenApp):
    """Keeps each switch's rules and meters, installs them, and serves the /qos API."""

    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS: ClassVar[dict[str, type]] = {
        "dpset": dpset.DPSet,
        "conf_switch": conf_switch.ConfSwitchSet,
        "wsgi": WSGIApplication,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dpset: dpset.DPSet = kwargs["dpset"]
        self.conf_switch: conf_switch.ConfSwitchSet = kwargs["conf_switch"]
        self.requests = SwitchRequests()
        self.qos: dict[int, qos_rules.SwitchQos] = {}  # joined switches (kept while they are away)
        self._joined: set[int] = set()
        # (dpid, xid) -> qos_id of the rule flows sent at the switch's last join: an error naming
        # one of them (its meter is missing) makes that rule wait for its meter
        self._join_flows: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()  # guards the state above; never held while waiting on a switch
        kwargs["wsgi"].register(QoSController, {"app": self})

    # -- switches come and go -------------------------------------------------------------------
    @set_ev_cls(dpset.EventDP, dpset.DPSET_EV_DISPATCHER)
    def _switch_changed(self, ev):
        dp = ev.dp
        if ev.enter:
            with self._lock:
                state = self.qos.setdefault(dp.id, qos_rules.SwitchQos())
                messages = state.rejoin_messages()
                self._joined.add(dp.id)
                self._join_flows = {key: id_ for key, id_ in self._join_flows.items() if key[0] != dp.id}
            for qos_id, msg in messages:  # no waiting here: replies arrive through this very thread
                msg.datapath = dp
                dp.set_xid(msg)
                if qos_id:
                    self._join_flows[(dp.id, msg.xid)] = qos_id
                dp.send_msg(msg)
            LOG.info("dpid=%s: Join qos switch.", qos_rules.switch_id_text(dp.id))
        elif dp.id in self._joined:
            self._joined.discard(dp.id)
            LOG.info("dpid=%s: Leave qos switch.", qos_rules.switch_id_text(dp.id))

    @set_ev_cls([conf_switch.EventConfSwitchSet, conf_switch.EventConfSwitchDel])
    def _conf_changed(self, ev):
        if ev.key == conf_switch_key.OVSDB_ADDR:
            value = getattr(ev, "value", None)
            LOG.info("dpid=%s: ovsdb_addr %s", qos_rules.switch_id_text(ev.dpid), value or "removed")

    # -- replies from switches ------------------------------------------------------------------
    @set_ev_cls(
        [ofp_event.EventOFPQueueStatsReply, ofp_event.EventOFPMeterStatsReply],
        MAIN_DISPATCHER,
    )
    def _stats_reply(self, ev):
        self.requests.stats_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev):
        self.requests.barrier_reply(ev.msg.datapath.id, ev.msg.xid)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev):
        dp = ev.msg.datapath
        text = error_text(dp, ev.msg)
        qos_id = self._join_flows.pop((dp.id, ev.msg.xid), None)
        if qos_id is not None and text.endswith(MISSING_METER):
            with self._lock:
                self.qos[dp.id].waiting.add(qos_id)
            LOG.info("dpid=%s: rule qos_id=%d waits for its meter", qos_rules.switch_id_text(dp.id), qos_id)
            return
        self.requests.error(dp.id, ev.msg.xid, text)

    # -- queues (OVSDB) -------------------------------------------------------------------------
    def _ovsdb(self, dp) -> OvsdbQos:
        key = conf_switch_key.OVSDB_ADDR
        if (dp.id, key) not in self.conf_switch:
            switch = qos_rules.switch_id_text(dp.id)
            raise BadRequest(
                f"ovsdb_addr: not set for switch {switch}: first PUT '\"tcp:127.0.0.1:6632\"' "
                f"to /v1.0/conf/switches/{switch}/ovsdb_addr (ryu.app.rest_conf_switch)"
            )
        return OvsdbQos(self.conf_switch.get_key(dp.id, key))

    def set_queues(self, dp, setting: qos_queues.QueueSetting) -> dict:
        ovsdb = self._ovsdb(dp)
        bridge, names = port_names(dp)
        ports = [qos_queues.resolve_port(setting.port_name, bridge, names)] if setting.port_name else names
        ovsdb.apply(bridge, dp.id, ports, setting)
        return {"result": "success", "details": qos_queues.setting_details(setting)}

    def read_queues(self, dp) -> dict:
        bridge, _names = port_names(dp)
        return {
            "result": "success",
            "details": qos_queues.ovsdb_qos_reply(self._ovsdb(dp).read(bridge, dp.id)),
        }

    def delete_queues(self, dp, port_name: str | None) -> dict:
        ovsdb = self._ovsdb(dp)
        bridge, names = port_names(dp)
        ports = [qos_queues.resolve_port(port_name, bridge, names)] if port_name else names
        cleared = ovsdb.clear(bridge, dp.id, ports)
        details = f"QoS deleted. : port_name={','.join(cleared)}" if cleared else "No QoS to delete."
        return {"result": "success", "details": details}

    def queue_status(self, dp) -> list:
        request = parser.OFPQueueStatsRequest(None, 0, dp.ofproto.OFPP_ANY, dp.ofproto.OFPQ_ALL)
        stats = [stat for reply in self.requests.request_stats(dp, request) for stat in reply.body]
        numbers = {port.port_no: _decoded(port.name) for port in getattr(dp, "ports", {}).values()}
        return qos_rules.queue_stats_reply(stats, numbers)

    # -- rules ----------------------------------------------------------------------------------
    def list_rules(self, dp, vlan) -> list:
        with self._lock:
            rules = self.qos[dp.id].select(vlan)
        return qos_rules.rules_reply(rules, vlan)

    def add_rule(self, dp, spec: qos_rules.QosRule) -> list:
        with self._lock:
            state = self.qos[dp.id]
            rule = state.add(spec)
        errors = self.requests.send_and_wait(dp, qos_rules.rule_flow(rule))
        details = f"QoS added. : qos_id={rule.qos_id}"
        if errors and errors[0].endswith(MISSING_METER):
            with self._lock:
                state.waiting.add(rule.qos_id)
            meter = rule.action("meter")
            details += f" (waits for meter {meter}: POST it to /qos/meter/{qos_rules.switch_id_text(dp.id)})"
        elif errors:
            with self._lock:
                state.remove(rule.qos_id, None)
            raise rejected(dp.id, "rule", errors[0])
        return [qos_rules.result(details, rule.vlan_id)]

    def delete_rules(self, dp, qos_id: int | None, vlan) -> list:
        with self._lock:
            removed = self.qos[dp.id].remove(qos_id, vlan)
        if qos_id is not None and not removed:
            raise NotFound(f"qos_id: switch {qos_rules.switch_id_text(dp.id)} has no rule {qos_id}")
        for rule in removed:
            self.requests.send_checked(dp, qos_rules.rule_flow_delete(rule))
        if not removed:
            return [qos_rules.result("No QoS rules to delete.", vlan)]
        ids = ",".join(str(rule.qos_id) for rule in removed)
        return [qos_rules.result(f"QoS deleted. : qos_id={ids}", vlan)]

    # -- meters ---------------------------------------------------------------------------------
    def add_meter(self, dp, meter: qos_rules.Meter) -> list:
        verb = "added"
        errors = self.requests.send_and_wait(dp, qos_rules.meter_mod(meter))
        if errors and errors[0].endswith(METER_EXISTS):
            verb = "modified"
            errors = self.requests.send_and_wait(dp, qos_rules.meter_mod(meter, dp.ofproto.OFPMC_MODIFY))
        if errors:
            raise rejected(dp.id, "meter", errors[0])
        with self._lock:
            state = self.qos[dp.id]
            state.meters[meter.meter_id] = meter
            ready = [rule for rule in state.using_meter(meter.meter_id) if rule.qos_id in state.waiting]
        for rule in ready:
            if not self.requests.send_and_wait(dp, qos_rules.rule_flow(rule)):
                with self._lock:
                    state.waiting.discard(rule.qos_id)
        return [qos_rules.result(f"Meter {verb}. : Meter ID={meter.meter_id}")]

    def delete_meter(self, dp, meter_id: int) -> list:
        self.requests.send_checked(dp, qos_rules.meter_delete(meter_id))
        with self._lock:
            self.qos[dp.id].meter_removed(meter_id)
        return [qos_rules.result(f"Meter deleted. : Meter ID={meter_id}")]

    def meter_stats(self, dp) -> list:
        request = parser.OFPMeterStatsRequest(None, 0, dp.ofproto.OFPM_ALL)
        stats = [stat for reply in self.requests.request_stats(dp, request) for stat in reply.body]
        return qos_rules.meter_stats_reply(stats)


def _decoded(name) -> str:
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
