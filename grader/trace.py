"""Single-switch packet traces, the offline counterpart of ``ovs-appctl ofproto/trace``.

A packet is written in the ovs flow syntax (``in_port=1,tcp,nw_src=10.0.0.1,tp_dst=80``); fields
not given are zero, as in ofproto/trace. ``trace_packet`` returns a JSON-ready dict:
``{"packet", "outputs": [{"port", "fields"}], "drop", "controller", "trace": [...]}``, where
``fields`` use ovs-ofctl names. SELECT groups add ``"alternatives"`` (the outputs of each live
bucket; OVS picks one by hashing) and ``"possible_outputs"`` (the complete output list for each
combination of bucket choices).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sdnlab.grader.errors import FlowParseError
from sdnlab.grader.fields import (
    ALL_BITS,
    ETH_TYPE_ARP,
    ETH_TYPE_IP,
    ETH_TYPE_IPV6,
    FIELDS,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    OFPVID_PRESENT,
    format_value,
    port_label,
)
from sdnlab.grader.headerspace import Space
from sdnlab.grader.model import SwitchState
from sdnlab.grader.ofctl_text import parse_match_tokens, split_top
from sdnlab.grader.pipeline import Drop, Emit, Fork, Live, Node, SwitchPipeline, ToController

PipelineLeaf = Emit | Drop | ToController


def parse_packet(spec: str, source: str = "<packet>", line: int = 0) -> Space:
    """A concrete packet from ovs flow syntax; every field not given is zero."""
    tokens = split_top(spec.strip())
    match = parse_match_tokens(tokens, where=(source, line))
    if match.impossible:
        raise FlowParseError(source, line, "contradictory packet fields", spec)
    for fm in match.fields:
        if fm.mask != FIELDS[fm.field].full and fm.field not in ("vlan_vid", "vlan_pcp", "nw_frag"):
            raise FlowParseError(source, line, f"packet field {fm.field} must be exact, not masked", spec)
    if match.get("in_port") is None:
        raise FlowParseError(source, line, "packet needs in_port=", spec)
    return Space(match.value & match.mask, ALL_BITS)


def header_fields(vector: int) -> dict[str, Any]:
    """The fields of a concrete header that ovs-ofctl would show, by their ovs-ofctl names."""

    def get(name: str) -> int:
        return FIELDS[name].get(vector)

    fields: dict[str, Any] = {
        "dl_src": format_value("eth_src", get("eth_src")),
        "dl_dst": format_value("eth_dst", get("eth_dst")),
    }
    vid = get("vlan_vid")
    if vid & OFPVID_PRESENT:
        fields["dl_vlan"] = vid & 0xFFF
        fields["dl_vlan_pcp"] = get("vlan_pcp")
    eth_type = get("eth_type")
    fields["dl_type"] = f"0x{eth_type:04x}"
    proto = get("ip_proto")
    if eth_type == ETH_TYPE_IP:
        fields.update(
            nw_src=format_value("ipv4_src", get("ipv4_src")), nw_dst=format_value("ipv4_dst", get("ipv4_dst"))
        )
    elif eth_type == ETH_TYPE_IPV6:
        fields.update(
            ipv6_src=format_value("ipv6_src", get("ipv6_src")),
            ipv6_dst=format_value("ipv6_dst", get("ipv6_dst")),
        )
    if eth_type in (ETH_TYPE_IP, ETH_TYPE_IPV6):
        fields.update(nw_proto=proto, nw_tos=get("ip_dscp") << 2, nw_ecn=get("ip_ecn"), nw_ttl=get("ip_ttl"))
        if proto in (IPPROTO_ICMP, IPPROTO_ICMPV6):
            fields.update(icmp_type=get("tp_src"), icmp_code=get("tp_dst"))
        elif proto in (6, 17, 132):
            fields.update(tp_src=get("tp_src"), tp_dst=get("tp_dst"))
    elif eth_type == ETH_TYPE_ARP:
        fields.update(
            arp_op=proto,
            arp_spa=format_value("ipv4_src", get("ipv4_src")),
            arp_tpa=format_value("ipv4_dst", get("ipv4_dst")),
            arp_sha=format_value("arp_sha", get("arp_sha")),
            arp_tha=format_value("arp_tha", get("arp_tha")),
        )
    return fields


def _leaves(node: Node | None, choose_first: bool, alternatives: list[Any]) -> Iterator[PipelineLeaf]:
    """Leaves in execution order; with choose_first, SELECT choices follow their first bucket."""
    if node is None:
        return
    if isinstance(node, Fork):
        if node.kind == "choice":
            alternatives.append(
                [
                    [_emit_dict(leaf) for leaf in _leaves(child, True, []) if isinstance(leaf, Emit)]
                    for child in node.children
                ]
            )
            if choose_first:
                yield from _leaves(node.children[0], choose_first, alternatives)
                return
        for child in node.children:
            yield from _leaves(child, choose_first, alternatives)
        return
    yield node


MAX_ALTERNATIVES = 64


def _outcomes(node: Node | None) -> list[list[PipelineLeaf]]:
    """Every possible leaf list of a concrete run, one per combination of SELECT bucket choices."""
    if node is None:
        return [[]]
    if isinstance(node, Fork):
        if node.kind == "choice":
            out: list[list[PipelineLeaf]] = []
            for child in node.children:
                out.extend(_outcomes(child))
            return out[:MAX_ALTERNATIVES]
        combos: list[list[PipelineLeaf]] = [[]]
        for child in node.children:
            combos = [a + b for a in combos for b in _outcomes(child)][:MAX_ALTERNATIVES]
        return combos
    return [[node]]


def _emit_dict(leaf: Emit) -> dict[str, Any]:
    return {"port": leaf.port, "fields": header_fields(leaf.space.current_value())}


def trace_space(pipeline: SwitchPipeline, space: Space, live: Live = None) -> dict[str, Any]:
    """Run one concrete packet through a switch and describe the result."""
    value = space.value
    in_port = FIELDS["in_port"].get(value)
    tree = pipeline.run(space, in_port, live)
    alternatives: list[Any] = []
    leaves = list(_leaves(tree, True, alternatives))
    outputs = [_emit_dict(leaf) for leaf in leaves if isinstance(leaf, Emit)]
    controller = any(isinstance(leaf, ToController) for leaf in leaves)
    steps, seen = [], set()
    for leaf in leaves:
        for step in leaf.steps:
            if id(step) not in seen:
                seen.add(id(step))
                steps.append(step.to_dict())
    drops = [leaf.reason for leaf in leaves if isinstance(leaf, Drop)]
    result = {
        "outputs": outputs,
        "drop": not outputs and not controller,
        "controller": controller,
        "trace": steps,
    }
    if drops:
        result["drop_reasons"] = drops
    if alternatives:
        result["alternatives"] = alternatives
        result["possible_outputs"] = [
            [_emit_dict(leaf) for leaf in combo if isinstance(leaf, Emit)] for combo in _outcomes(tree)
        ]
    return result


def trace_packets(
    state: SwitchState,
    specs: Iterable[str | tuple[int, str]],
    live: Live = None,
    source: str = "<packets>",
) -> list[dict[str, Any]]:
    """Trace each packet spec (strings in ovs flow syntax) through one switch.

    ``specs`` may also hold (line number, spec) pairs so errors name the line of a packets file.
    """
    pipeline = SwitchPipeline(state)
    if live is None and state.ports:
        live = state.live_ports()
    results = []
    for number, spec in enumerate(specs, start=1):
        if isinstance(spec, tuple):
            number, spec = spec
        space = parse_packet(spec, source, number)
        result = trace_space(pipeline, space, live)
        result = {"packet": spec, **result}
        results.append(result)
    return results


def describe_result(result: Mapping[str, Any]) -> str:
    """Human-readable lines for one traced packet."""
    lines = [f"packet: {result['packet']}"]
    for step in result["trace"]:
        if "priority" in step:
            lines.append(
                f"  table {step['table']} priority {step['priority']} [{step['match']}] -> {step['actions']}"
            )
        else:
            lines.append(f"  {step.get('note', '')}")
    if result["outputs"]:
        for out in result["outputs"]:
            lines.append(
                f"  => output {port_label(out['port'])}: "
                + ",".join(f"{k}={v}" for k, v in out["fields"].items())
            )
    if result["controller"]:
        lines.append("  => to controller")
    if result["drop"]:
        lines.append(
            "  => drop"
            + (f" ({'; '.join(result.get('drop_reasons', []))})" if result.get("drop_reasons") else "")
        )
    return "\n".join(lines)
