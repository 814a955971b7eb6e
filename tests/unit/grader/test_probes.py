"""Probe selection covers behaviours and rules; probe frames are recognised again at receivers."""

from sdnlab.grader.grading import Grader
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.ofctl_text import parse_flows
from sdnlab.grader.probes import expected_key, probe_frame, probe_key, select_probes
from sdnlab.grader.spec import parse_spec
from sdnlab.topologies import load_topology


def _grader(rules):
    topo = load_topology("linear", {"switches": 3, "hosts_per_switch": 1})
    state = NetworkState({s: SwitchState(s, parse_flows(t, s)) for s, t in rules.items()})
    return Grader(topo, state)


def test_every_rule_reachable_from_a_host_is_exercised_by_some_probe(line_rules):
    grader = _grader(line_rules)
    probes = select_probes(grader, parse_spec("- reach: {src: h1, dst: h3, traffic: icmp}\n"))
    assert probes[0].behaviour == "reach-1" and probes[0].predicted == {"h3"}
    exercised = set()
    from sdnlab.grader.fields import ALL_BITS
    from sdnlab.grader.headerspace import Space
    from sdnlab.grader.network import leaves

    for p in probes:
        for leaf in leaves(grader.network().inject(p.src, Space(p.vector, ALL_BITS))):
            exercised |= {(h.switch, s.flow.line) for h in leaf.hops for s in h.steps if s.flow is not None}
    all_rules = {(s, f.line) for s, st in grader.state.switches.items() for f in st.flows}
    assert exercised == all_rules


def test_probe_frames_round_trip_to_their_keys(line_rules):
    grader = _grader(line_rules)
    probes = select_probes(grader, parse_spec("- reach: {src: h1, dst: h3, traffic: any}\n"))
    kinds = set()
    for p in probes:
        key = probe_key(probe_frame(p))
        assert key == expected_key(p)
        kinds.add(key[0])
    assert kinds == {"ip", "arp"}
