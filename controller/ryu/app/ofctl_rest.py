"""Ryu's ``ofctl_rest`` REST API on os-ken: switch statistics and flow/group/meter changes.

Paths and JSON formats follow Ryu's ofctl_rest (dpids in paths are decimal or ``0x`` hex);
message conversion uses os-ken's ``os_ken.lib.ofctl_v1_3`` (whose wait for a switch's reply gets a
timeout from ``sdnlab.controller.hardening``, installed by the runner). Bad input gives HTTP 400, an
unknown switch or command 404, both as ``{"error": "..."}``. A flow/group/meter change is
followed by a barrier; an error the switch reports for it turns the answer into a 400.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from os_ken.base import app_manager
from os_ken.controller import dpset, ofp_event
from os_ken.controller.handler import MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import ofctl_v1_3
from os_ken.ofproto import ofproto_v1_3

from ryu.app.wsgi import ControllerBase, WSGIApplication, json_response, route
from sdnlab.controller.ofctl_values import GROUP_TYPES, METER_FLAGS, to_reserved
from sdnlab.controller.rest_handlers import error_replies
from sdnlab.controller.rest_input import (
    ENTRY_COMMANDS,
    FLOW_COMMANDS,
    BadRequest,
    NotFound,
    check_command,
    check_entry_body,
    check_flow_entry,
    check_flow_filter,
    check_group,
    check_meter,
    parse_body,
    parse_dpid,
    parse_int,
)
from sdnlab.controller.switch_requests import SwitchRequests, error_text

LOG = logging.getLogger("ryu.app.ofctl_rest")

CONVERSION_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


STATS_REPLY_EVENTS = [
    ofp_event.EventOFPStatsReply,
    ofp_event.EventOFPDescStatsReply,
    ofp_event.EventOFPFlowStatsReply,
    ofp_event.EventOFPAggregateStatsReply,
    ofp_event.EventOFPTableStatsReply,
    ofp_event.EventOFPTableFeaturesStatsReply,
    ofp_event.EventOFPPortStatsReply,
    ofp_event.EventOFPQueueStatsReply,
    ofp_event.EventOFPQueueDescStatsReply,
    ofp_event.EventOFPMeterStatsReply,
    ofp_event.EventOFPMeterFeaturesStatsReply,
    ofp_event.EventOFPMeterConfigStatsReply,
    ofp_event.EventOFPGroupStatsReply,
    ofp_event.EventOFPGroupFeaturesStatsReply,
    ofp_event.EventOFPGroupDescStatsReply,
    ofp_event.EventOFPPortDescStatsReply,
]


# a value the checks let through but os-ken refused: a 400, logged (a check is missing)
rest_errors = error_replies(unchecked=CONVERSION_ERRORS, log=LOG)


class StatsController(ControllerBase):
    """The ofctl_rest resources."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.dpset = data["dpset"]
        self.requests: SwitchRequests = data["requests"]

    # -- helpers ----------------------------------------------------------------------------
    def _datapath(self, dpid_text):
        dpid = parse_dpid(dpid_text)
        dp = self.dpset.get(dpid)
        if dp is None:
            raise NotFound(f"dpid: no connected switch {dpid}")
        if dp.ofproto.OFP_VERSION != ofproto_v1_3.OFP_VERSION:
            raise BadRequest(f"dpid: switch {dpid} does not speak OpenFlow 1.3")
        return dp

    # -- statistics -------------------------------------------------------------------------
    @route("stats", "/stats/switches", methods=["GET"])
    @rest_errors
    def get_dpids(self, req, **_kwargs):
        return json_response(sorted(self.dpset.dps.keys()))

    @route("stats", "/stats/desc/{dpid}", methods=["GET"])
    @rest_errors
    def get_desc_stats(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_desc_stats(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/flow/{dpid}", methods=["GET", "POST"])
    @rest_errors
    def get_flow_stats(self, req, dpid, **_kwargs):
        dp = self._datapath(dpid)
        flow = check_flow_filter(parse_body(req.body, optional=True))
        return json_response(ofctl_v1_3.get_flow_stats(dp, self.requests.waiters, flow))

    @route("stats", "/stats/aggregateflow/{dpid}", methods=["GET", "POST"])
    @rest_errors
    def get_aggregate_flow_stats(self, req, dpid, **_kwargs):
        dp = self._datapath(dpid)
        flow = check_flow_filter(parse_body(req.body, optional=True))
        return json_response(ofctl_v1_3.get_aggregate_flow_stats(dp, self.requests.waiters, flow))

    @route("stats", "/stats/table/{dpid}", methods=["GET"])
    @rest_errors
    def get_table_stats(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_table_stats(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/tablefeatures/{dpid}", methods=["GET"])
    @rest_errors
    def get_table_features(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_table_features(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/port/{dpid}", methods=["GET"])
    @rest_errors
    def get_port_stats(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_port_stats(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/port/{dpid}/{port}", methods=["GET"])
    @rest_errors
    def get_one_port_stats(self, req, dpid, port, **_kwargs):
        dp = self._datapath(dpid)
        return json_response(
            ofctl_v1_3.get_port_stats(dp, self.requests.waiters, to_reserved(port, "port", "OFPP_"))
        )

    @route("stats", "/stats/portdesc/{dpid}", methods=["GET"])
    @rest_errors
    def get_port_desc(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_port_desc(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/queue/{dpid}", methods=["GET"])
    @rest_errors
    def get_queue_stats(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_queue_stats(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/group/{dpid}", methods=["GET"])
    @rest_errors
    def get_group_stats(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_group_stats(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/group/{dpid}/{group_id}", methods=["GET"])
    @rest_errors
    def get_one_group_stats(self, req, dpid, group_id, **_kwargs):
        dp = self._datapath(dpid)
        return json_response(
            ofctl_v1_3.get_group_stats(dp, self.requests.waiters, to_reserved(group_id, "group_id", "OFPG_"))
        )

    @route("stats", "/stats/groupdesc/{dpid}", methods=["GET"])
    @rest_errors
    def get_group_desc(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_group_desc(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/groupfeatures/{dpid}", methods=["GET"])
    @rest_errors
    def get_group_features(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_group_features(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/meter/{dpid}", methods=["GET"])
    @rest_errors
    def get_meter_stats(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_meter_stats(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/meterconfig/{dpid}", methods=["GET"])
    @rest_errors
    def get_meter_config(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_meter_config(self._datapath(dpid), self.requests.waiters))

    @route("stats", "/stats/meterfeatures/{dpid}", methods=["GET"])
    @rest_errors
    def get_meter_features(self, req, dpid, **_kwargs):
        return json_response(ofctl_v1_3.get_meter_features(self._datapath(dpid), self.requests.waiters))

    # -- changes ----------------------------------------------------------------------------
    @route("stats", "/stats/flowentry/{cmd}", methods=["POST"])
    @rest_errors
    def mod_flow_entry(self, req, cmd, **_kwargs):
        check_command(cmd, FLOW_COMMANDS, "flowentry")
        flow = check_flow_entry(parse_body(req.body), allow_all_tables=cmd.startswith("delete"))
        dp = self._datapath(flow["dpid"])
        ofp = dp.ofproto
        command = {
            "add": ofp.OFPFC_ADD,
            "modify": ofp.OFPFC_MODIFY,
            "modify_strict": ofp.OFPFC_MODIFY_STRICT,
            "delete": ofp.OFPFC_DELETE,
            "delete_strict": ofp.OFPFC_DELETE_STRICT,
        }[cmd]
        self.requests.send_checked(dp, build_flow_mod(dp, flow, command))
        return json_response({})

    @route("stats", "/stats/flowentry/clear/{dpid}", methods=["DELETE"])
    @rest_errors
    def delete_flow_entry(self, req, dpid, **_kwargs):
        dp = self._datapath(dpid)
        flow = {"table_id": dp.ofproto.OFPTT_ALL}
        self.requests.send_checked(dp, build_flow_mod(dp, flow, dp.ofproto.OFPFC_DELETE))
        return json_response({})

    @route("stats", "/stats/groupentry/{cmd}", methods=["POST"])
    @rest_errors
    def mod_group_entry(self, req, cmd, **_kwargs):
        check_command(cmd, ENTRY_COMMANDS, "groupentry")
        group = check_group(check_entry_body(parse_body(req.body)))
        dp = self._datapath(group["dpid"])
        command = {
            "add": dp.ofproto.OFPGC_ADD,
            "modify": dp.ofproto.OFPGC_MODIFY,
            "delete": dp.ofproto.OFPGC_DELETE,
        }[cmd]
        self.requests.send_checked(dp, build_group_mod(dp, group, command))
        return json_response({})

    @route("stats", "/stats/meterentry/{cmd}", methods=["POST"])
    @rest_errors
    def mod_meter_entry(self, req, cmd, **_kwargs):
        check_command(cmd, ENTRY_COMMANDS, "meterentry")
        meter = check_meter(check_entry_body(parse_body(req.body)))
        dp = self._datapath(meter["dpid"])
        command = {
            "add": dp.ofproto.OFPMC_ADD,
            "modify": dp.ofproto.OFPMC_MODIFY,
            "delete": dp.ofproto.OFPMC_DELETE,
        }[cmd]
        self.requests.send_checked(dp, build_meter_mod(dp, meter, command))
        return json_response({})


def build_flow_mod(dp, flow: dict, command: int):
    """An OFPFlowMod from an ofctl-style flow dict already checked by ``check_flow_entry``."""
    ofp, parser = dp.ofproto, dp.ofproto_parser
    util = ofctl_v1_3.UTIL
    return parser.OFPFlowMod(
        dp,
        cookie=parse_int(flow.get("cookie", 0), "cookie"),
        cookie_mask=parse_int(flow.get("cookie_mask", 0), "cookie_mask"),
        table_id=util.ofp_table_from_user(flow.get("table_id", 0)),
        command=command,
        idle_timeout=parse_int(flow.get("idle_timeout", 0), "idle_timeout"),
        hard_timeout=parse_int(flow.get("hard_timeout", 0), "hard_timeout"),
        priority=parse_int(flow.get("priority", 0), "priority"),
        buffer_id=util.ofp_buffer_from_user(flow.get("buffer_id", ofp.OFP_NO_BUFFER)),
        out_port=util.ofp_port_from_user(flow.get("out_port", ofp.OFPP_ANY)),
        out_group=util.ofp_group_from_user(flow.get("out_group", ofp.OFPG_ANY)),
        flags=parse_int(flow.get("flags", 0), "flags"),
        match=ofctl_v1_3.to_match(dp, flow.get("match", {})),
        instructions=ofctl_v1_3.to_actions(dp, flow.get("actions", [])),
    )


def build_group_mod(dp, group: dict, command: int):
    """An OFPGroupMod from an ofctl-style group dict already checked by ``check_group``."""
    ofp, parser = dp.ofproto, dp.ofproto_parser
    buckets = []
    for bucket in group.get("buckets", []):
        actions = [ofctl_v1_3.to_action(dp, action) for action in bucket.get("actions", [])]
        buckets.append(
            parser.OFPBucket(
                weight=parse_int(bucket.get("weight", 0), "weight"),
                watch_port=parse_int(bucket.get("watch_port", ofp.OFPP_ANY), "watch_port"),
                watch_group=parse_int(bucket.get("watch_group", ofp.OFPG_ANY), "watch_group"),
                actions=[action for action in actions if action is not None],
            )
        )
    return parser.OFPGroupMod(
        dp,
        command,
        GROUP_TYPES[group.get("type", "ALL")],
        parse_int(group.get("group_id", 0), "group_id"),
        buckets,
    )


def build_meter_mod(dp, meter: dict, command: int):
    """An OFPMeterMod from an ofctl-style meter dict already checked by ``check_meter``."""
    parser = dp.ofproto_parser
    flags = 0
    for name in meter.get("flags", []):
        flags |= METER_FLAGS[name]
    bands = []
    for index, band in enumerate(meter.get("bands", [])):
        kind = band.get("type")
        rate = parse_int(band.get("rate", 0), f"bands[{index}].rate")
        burst = parse_int(band.get("burst_size", 0), f"bands[{index}].burst_size")
        if kind == "DROP":
            bands.append(parser.OFPMeterBandDrop(rate, burst))
        elif kind == "DSCP_REMARK":
            bands.append(
                parser.OFPMeterBandDscpRemark(rate, burst, parse_int(band.get("prec_level", 0), "prec_level"))
            )
        else:
            raise BadRequest(f"bands[{index}].type: unknown meter band {kind!r}")
    return parser.OFPMeterMod(dp, command, flags, parse_int(meter.get("meter_id", 0), "meter_id"), bands)


class RestStatsApi(app_manager.OSKenApp):
    """Serves ofctl_rest on the REST port and routes switch replies to waiting requests."""

    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS: ClassVar[dict[str, type]] = {"dpset": dpset.DPSet, "wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dpset = kwargs["dpset"]
        self.requests = SwitchRequests()
        self.waiters = self.requests.waiters  # Ryu's attribute name
        kwargs["wsgi"].register(StatsController, {"dpset": self.dpset, "requests": self.requests})

    @set_ev_cls(STATS_REPLY_EVENTS, MAIN_DISPATCHER)
    def _stats_reply(self, ev):
        self.requests.stats_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def _barrier_reply(self, ev):
        self.requests.barrier_reply(ev.msg.datapath.id, ev.msg.xid)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev):
        dp = ev.msg.datapath
        self.requests.error(dp.id, ev.msg.xid, error_text(dp, ev.msg))
