"""The scale-out simulation: its costs match the sandbox spec, and its outcomes follow its inputs."""

from __future__ import annotations

from bench.scaleout import simulate
from sdnlab.classroom import podspec

COSTS = simulate.Costs(container_s=0.5, lab_s=2.2)


def test_the_simulated_requests_are_the_sandbox_specs():
    resources = podspec.SandboxSpec().resources
    assert resources.cpu_request == f"{round(simulate.Costs().cpu_request * 1000)}m"
    assert resources.memory_request == f"{round(simulate.Costs().memory_request_gib * 1024)}Mi"


def test_a_cold_start_costs_scheduling_container_and_lab_and_a_warm_one_only_the_lab():
    run = simulate.simulate(simulate.Scenario("t", 40, 20, 2), COSTS)
    assert run["rejected"] == 0 and run["started"] == 40
    assert run["start_latency_s"]["p50"] == round(simulate.SCHEDULE_S + 0.5 + 2.2, 2)
    warm = simulate.simulate(simulate.Scenario("t", 40, 20, 2, warm_pool=10), COSTS)
    assert warm["warm_hits"] > 30
    assert warm["start_latency_s"]["p50"] == round(simulate.EXEC_OVERHEAD_S + 2.2, 2)


def test_a_cluster_too_small_rejects_what_does_not_fit_and_a_burst_queues_on_start_slots():
    one = simulate.Scenario("t", 40, 20, 1, cores=2, memory_gib=24.0)
    run = simulate.simulate(one, COSTS)
    assert simulate.per_node(one, COSTS) == 18
    assert run["started"] == 18 and run["rejected"] == 22
    burst = simulate.simulate(
        simulate.Scenario("t", 18, 18, 1, cores=2, memory_gib=24.0, burst_s=1.0, arrival_window_s=1.0), COSTS
    )
    assert burst["rejected"] == 0 and burst["start_latency_s"]["max"] > 8 * (simulate.SCHEDULE_S + 0.5)


def test_the_same_seed_gives_the_same_day():
    scenario = simulate.Scenario("t", 400, 20, 7)
    assert simulate.simulate(scenario, COSTS) == simulate.simulate(scenario, COSTS)
