"""The scored scenario kinds of labs and exams: controller restart and flow rate, and the scored
scenarios labs 6 and 8 declare in their own lab.yaml (pure parts; the measurements are live:
tests/integration/certification/test_restart_and_flow_rate_live.py)."""

import math

import pytest

from sdnlab.certification.scenario_flow_rate import rate
from sdnlab.certification.scenarios import KINDS, Band, credit, parse
from sdnlab.labs import load_lab


def _parse(raw):
    problems = []
    scenario = parse(raw, "scored[0]", lambda _c, _k, field, problem: problems.append(f"{field}: {problem}"))
    return scenario, problems


def test_a_controller_restart_is_scored_on_the_ms_until_forwarding_again():
    scenario, problems = _parse(
        {
            "id": "restart",
            "controller_restart": {"src": "h1", "dst": "h4", "timeout": 3},
            "bands": [{"max": 1000, "credit": 1}, {"max": 2500, "credit": 0.5}],
        }
    )
    assert problems == [] and scenario.lower_is_better and KINDS["controller_restart"][2] == "ms"
    assert credit(204, scenario.bands, True) == 1.0
    assert credit(1800, scenario.bands, True) == 0.5
    assert credit(math.inf, scenario.bands, True) == 0.0  # the network never forwarded again


@pytest.mark.parametrize(
    "args, field",
    [
        ({"src": "h1"}, "scored[0].controller_restart.dst"),
        ({"src": "h1", "dst": "h2", "wipe": "yes"}, "scored[0].controller_restart.wipe"),
        ({"src": "h1", "dst": "h2", "timeout": 600}, "scored[0].controller_restart.timeout"),
        ({"src": "h1", "dst": "h2", "port": 0}, "scored[0].controller_restart.port"),
        ({"src": "h1", "dst": "h2", "colour": "red"}, "scored[0].controller_restart.colour"),
        ({"src": "h1", "dst": "h2", "mode": "reboot"}, "scored[0].controller_restart.mode"),
    ],
)
def test_a_wrong_restart_argument_is_named(args, field):
    _, problems = _parse({"id": "r", "controller_restart": args, "bands": [{"max": 1, "credit": 1}]})
    assert [p for p in problems if p.startswith(field)], problems


def test_a_restart_restarts_the_process_sdnlab_runs_and_reconnects_a_remote_one():
    from sdnlab.certification.scenario_restart import restart_mode

    watcher = {"requests": ["controller-restart"]}
    assert restart_mode({}, {"controller": {"mode": "app"}, **watcher}) == ("process", "")
    assert restart_mode({"mode": "process"}, {"controller": {"mode": "builtin"}, **watcher})[0] == "process"
    remote = {"mode": "remote", "host": "10.0.0.9", "port": 6633}
    mode, note = restart_mode({}, {"controller": remote, **watcher})
    assert mode == "reconnect" and "10.0.0.9:6633 is remote" in note and "not restarted" in note
    mode, note = restart_mode({"mode": "reconnect"}, {"controller": {"mode": "app"}, **watcher})
    assert mode == "reconnect" and "kept running" in note
    mode, note = restart_mode({}, {"controller": {"mode": "app"}})  # a lab started by an older watcher
    assert mode == "reconnect" and "reset the lab" in note


def test_a_lab_without_a_controller_cannot_be_restarted():
    from sdnlab.certification.scenario_restart import restart_mode
    from sdnlab.labs.errors import LabSessionError

    with pytest.raises(LabSessionError, match="needs a lab with a controller"):
        restart_mode({}, {"controller": {"mode": "none"}})


def test_forwarding_is_back_at_the_first_datagram_after_the_reconnection():
    from sdnlab.certification.scenario_restart import recovery_ms

    arrivals = [(0, 10.0), (1, 10.001), (2, 10.002), (900, 12.25), (901, 12.251)]  # dark from 10.002
    assert recovery_ms(arrivals, since=12.0) == pytest.approx(250.0)
    assert recovery_ms(arrivals, since=13.0) == math.inf  # nothing after the reconnection
    assert recovery_ms([(0, 10.0), (1, 10.001)], since=10.0005) == pytest.approx(0.5)  # never dark


def test_flows_per_second_count_all_meters_or_what_was_there_at_the_timeout():
    assert rate(1000, 1000, 2.0, 10) == 500.0  # all 1000 meters had a flow after 2 s
    assert rate(300, 1000, None, 10) == 30.0  # only 300 within the 10 s: 30 per second
    assert rate(0, 1000, None, 10) == 0.0  # a controller that installs no flow
    assert rate(1200, 1000, None, 10) == 100.0  # flows for other reasons do not count beyond the meters


def test_flow_rate_is_higher_is_better_and_checks_its_arguments():
    scenario, problems = _parse(
        {
            "id": "meters",
            "flow_rate": {"src": "h1", "dst": "h4", "meters": 1000},
            "bands": [{"min": 200, "credit": 1}, {"min": 50, "credit": 0.5}],
        }
    )
    assert problems == [] and not scenario.lower_is_better
    assert credit(489, scenario.bands, False) == 1.0 and credit(60, scenario.bands, False) == 0.5
    assert credit(0, scenario.bands, False) == 0.0
    _, problems = _parse(
        {"id": "m", "flow_rate": {"src": "h1", "dst": "h4", "meters": 0}, "bands": [{"min": 1, "credit": 1}]}
    )
    assert problems == ["scored[0].flow_rate.meters: expected a whole number 1..10000 (got 0)"]


def test_lab_8_scores_the_failover_loss_window_with_partial_credit():
    lab = load_lab("broadcast_failover")
    (window,) = lab.scored
    assert window.kind == "failover_loss" and window.args["cut"] == ["st1", "st2"]
    assert window.bands == (Band(50.0, 1.0), Band(200.0, 0.5))
    assert not any(p.kind == "failover_loss" for p in lab.probes)  # the pass/fail probe it replaces
    assert lab.needs_live and lab.public_summary()["checks"] == 4  # 3 behaviours and the scored window


def test_lab_6_scores_the_time_from_the_scan_to_the_quarantine():
    lab = load_lab("iot_dpi")
    (scan,) = lab.scored
    assert scan.kind == "scan_quarantine" and scan.args["src"] == "cam2" and scan.lower_is_better
    assert scan.bands == (Band(3000.0, 1.0), Band(8000.0, 0.5))
    assert not any(step.kind == "telnet_scan" for step in lab.scenario)  # the scored scan is the attack
