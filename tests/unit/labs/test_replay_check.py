"""Which labs ``lab check`` replays, and the replay steps that mirror their live grading."""

from dataclasses import replace

from sdnlab.labs import live
from sdnlab.labs.loader import load_lab
from sdnlab.labs.model import LabProbe, ScenarioStep
from sdnlab.labs.replay_check import replay_reason, replay_steps


def test_only_labs_graded_on_the_trainees_app_alone_are_replayed():
    assert replay_reason(load_lab("l2_learning")) is None
    assert replay_reason(load_lab("iot_dpi")) == "its controller is not the trainee's app"
    assert replay_reason(load_lab("static_flows")) == "its controller is not the trainee's app"
    lab = load_lab("l2_learning")
    scan = replace(lab, scenario=(ScenarioStep("telnet_scan", {}),))
    assert replay_reason(scan) == "its scenario step 'telnet_scan' is not simulated"
    tcp = LabProbe("web", "tcp", "", {"src": "h1", "dst": "h2", "port": 80}, hidden=True)
    with_tcp = replace(lab, probes=(*lab.probes, tcp))
    assert replay_reason(with_tcp) is None  # check never runs hidden probes
    assert replay_reason(with_tcp, include_hidden=True) == "its probe 'web' (tcp) is not simulated"


def test_the_scenario_runs_first_then_each_ping_probe_count_times_per_pair():
    lab = load_lab("l2_learning")
    topology = live.load_topology(lab)
    steps, sent = replay_steps(lab, topology, include_hidden=False)
    assert steps[:2] == ["pingall", {"mark": "scenario"}]
    hosts = [h.name for h in topology.hosts()]
    pairs = [(s, d) for s in hosts for d in hosts if s != d]
    assert sent == {"ping-all": pairs * 2}  # ping -c 2 live: two echo requests per pair
    assert steps[2:] == [{"ping": {"src": s, "dst": d}} for s, d in pairs * 2]


def test_an_app_that_does_not_compile_is_named_with_its_line(tmp_path):
    import pytest

    from sdnlab.labs.errors import LabSessionError
    from sdnlab.labs.replay_check import grade_replay

    (tmp_path / "l2_switch.py").write_text("import os\ndef broken(:\n")
    with pytest.raises(LabSessionError, match=r"l2_switch.py:2: syntax error in controller app"):
        grade_replay(load_lab("l2_learning"), tmp_path)


def test_the_replay_note_reads_in_japanese_too():
    from sdnlab.render import feedback

    note = (
        "graded by replay: l2_switch.py ran against simulated switches in 0.92 s (no network); "
        "`sdnlab lab submit` grades your running lab live"
    )
    assert feedback(note, "ja").startswith("リプレイで採点: l2_switch.py を模擬スイッチに対して 0.92 秒")


def test_a_lab_that_waits_for_the_apps_timers_replays_its_settle_step_first():
    # real time passes while the simulated switches carry stplib's BPDUs, until they are quiet
    stp = load_lab("ryubook_spanning_tree")
    assert replay_reason(stp) is None
    steps, _ = replay_steps(stp, live.load_topology(stp), include_hidden=False)
    assert steps[:2] == [{"settle": {"stable_s": 10.0, "timeout_s": 90.0}}, {"mark": "scenario"}]


def test_a_lab_whose_hosts_route_through_a_gateway_is_replayed():
    # simulated hosts ARP for their gateway for other subnets, as lab 13's hosts do live
    router = load_lab("ryubook_router")
    assert any(host.gateway for host in live.load_topology(router).hosts())
    assert replay_reason(router) is None
    assert replay_reason(load_lab("ryubook_switching_hub")) is None
