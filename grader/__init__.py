"""The OpenFlow 1.3 auto-grader: flow-state parsers, a pipeline model, symbolic behaviour checks.

Public API (see docs/grader.md):
    grade_lab(topology, name=, flows=, state=, spec=, behaviours=, ...)  -> GradeReport (the entry point)
    FlowTables.from_ofmsgs(os-ken flow/group mods).forwards(packet)       -> output ports (controller tests)
    behaviours.kinds() / kind_named(name)                                 -> the behaviour-kind registry
    collect.from_lab(name) / from_dir(path) / from_rest(url, topology)  -> NetworkState
    load_spec(path) / parse_spec(text) / parse_behaviours(data)          -> behaviours
    grade(topology, state, behaviours)                                    -> GradeReport
    reference_diff(topology, trainee_state, reference_state)              -> differences
    trace_packets(switch_state, ["in_port=1,tcp,..."])                   -> ofproto/trace-like dicts
    parse_flows / parse_groups / parse_ports (ovs-ofctl text), parse_rest_flows (ofctl_rest JSON)
"""

# Bumped when verdict semantics change, so stored grades can say which grader produced them.
__version__ = "0.1.0"

from sdnlab.grader import behaviours, collect
from sdnlab.grader.api import grade_lab
from sdnlab.grader.grading import Grader, grade
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.ofctl_rest import parse_rest_flows, parse_rest_groups
from sdnlab.grader.ofctl_text import parse_flows, parse_groups, parse_ports
from sdnlab.grader.ofmsgs import FlowTables
from sdnlab.grader.refdiff import reference_diff
from sdnlab.grader.report import BehaviourResult, Failure, GradeReport
from sdnlab.grader.spec import Behaviour, load_spec, parse_behaviours, parse_spec
from sdnlab.grader.trace import trace_packets

__all__ = [
    "Behaviour",
    "BehaviourResult",
    "Failure",
    "FlowTables",
    "GradeReport",
    "Grader",
    "NetworkState",
    "SwitchState",
    "behaviours",
    "collect",
    "grade",
    "grade_lab",
    "load_spec",
    "parse_behaviours",
    "parse_flows",
    "parse_groups",
    "parse_ports",
    "parse_rest_flows",
    "parse_rest_groups",
    "parse_spec",
    "reference_diff",
    "trace_packets",
]
