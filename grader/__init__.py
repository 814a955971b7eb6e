"""The OpenFlow 1.3 auto-grader: flow-state parsers, a pipeline model, symbolic behaviour checks.

Public API (see docs/grader.md):
    parse_flows / parse_groups / parse_ports      ovs-ofctl text -> typed flow state
    trace_packets(state, specs)                   single-switch trace, like ofproto/trace
"""

from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.ofctl_text import parse_flows, parse_groups, parse_ports
from sdnlab.grader.trace import trace_packets

__all__ = ["NetworkState", "SwitchState", "parse_flows", "parse_groups", "parse_ports", "trace_packets"]
