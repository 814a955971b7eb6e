"""Replays classes' arrival patterns against N cluster nodes with measured per-sandbox costs.

A discrete-event simulation (seeded, deterministic) backing the numbers in docs/scale-out.md.
Per-sandbox costs come from bench/results/scaleout-measure.json (bench/scaleout/measure.py:
podman containers of lab 3 on this project's 2-core host); what cannot be measured without a
cluster is an explicit assumption below (pod scheduling, image pull), printed in the output.

Model. A node has ``cores`` and ``memory_gib``; it holds as many sandboxes as its allocatable
CPU and memory allow at the sandbox's requests (the LimitRange of deploy/kubernetes), and it
runs at most ``cores`` start phases at a time (container start and lab start each keep about
one core busy: OVS, the agent, the lab's namespaces and controller), others queue. A trainee's
start is placed on the least-loaded node with room, else rejected. Cold start = scheduling +
container (OVS + agent ready) + lab start; with a warm pool the container part is done ahead, a
start only claims a ready pod and starts the lab, and the pool is refilled in the background
(using node room and start slots like any start). Classes arrive staggered; each class's
trainees log in over an arrival window (most in its first minutes); sessions last 60-120 min.

Usage: python -m bench.scaleout.simulate  (writes bench/results/scaleout.json)
"""

from __future__ import annotations

import heapq
import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"
MEASURED = RESULTS / "scaleout-measure.json"
# assumptions (no cluster here): the API server binding a pod and the kubelet starting it with
# the image already on the node; a cold image pull of the 501 MiB image is excluded (pre-pulled
# by a DaemonSet or the node image), see docs/scale-out.md
SCHEDULE_S = 1.0
EXEC_OVERHEAD_S = 0.15  # one pods/exec round trip for the claim and the start request


@dataclass(frozen=True)
class Costs:
    """One sandbox: requests and the measured start phases (seconds on a 2-core host)."""

    cpu_request: float = 0.1  # podspec.Resources: 100m
    memory_request_gib: float = 0.125  # 128Mi
    container_s: float = 0.5
    lab_s: float = 2.2
    source: str = "defaults"


@dataclass(frozen=True)
class Scenario:
    """A day's load: classes of trainees on a cluster of identical nodes."""

    name: str
    trainees: int
    class_size: int
    nodes: int
    cores: int = 8
    memory_gib: float = 32.0
    warm_pool: int = 0
    stagger_s: float = 60.0
    arrival_window_s: float = 600.0
    burst_s: float = 120.0
    seed: int = 1


def load_costs(path: Path = MEASURED) -> Costs:
    """Costs from the measurement file when it exists (else the defaults, marked as such)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return Costs()
    starts = [s for s in data.get("start_s", []) if isinstance(s, dict)]
    if not starts:
        return Costs()
    container = sorted(s["container_s"] for s in starts)[len(starts) // 2]
    lab = sorted(s["lab_s"] for s in starts)[len(starts) // 2]
    return Costs(container_s=container, lab_s=lab, source=str(path.name))


def per_node(scenario: Scenario, costs: Costs) -> int:
    """Sandboxes one node holds at the requests (90% of the node allocatable)."""
    by_cpu = math.floor(scenario.cores * 0.9 / costs.cpu_request)
    by_memory = math.floor(scenario.memory_gib * 0.9 / costs.memory_request_gib)
    return min(by_cpu, by_memory)


def nodes_for(trainees: int, scenario: Scenario, costs: Costs, headroom: float = 0.1) -> int:
    """Nodes for ``trainees`` concurrent sandboxes with ``headroom`` spare (a node may fail)."""
    return max(1, math.ceil(trainees * (1 + headroom) / per_node(scenario, costs)))


def arrivals(scenario: Scenario) -> list[tuple[float, float]]:
    """(arrival time, session length) of every trainee: classes staggered, logins front-loaded."""
    rng = random.Random(scenario.seed)
    out = []
    for index in range(scenario.trainees):
        klass = index // scenario.class_size
        late = rng.random() < 0.2  # a fifth trickle in over the whole window, the rest in the burst
        offset = rng.uniform(0, scenario.arrival_window_s) if late else rng.uniform(0, scenario.burst_s)
        out.append((klass * scenario.stagger_s + offset, rng.uniform(3600.0, 7200.0)))
    return sorted(out)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ranked = sorted(values)
    return round(ranked[min(len(ranked) - 1, max(0, math.ceil(q / 100 * len(ranked)) - 1))], 2)


def simulate(scenario: Scenario, costs: Costs) -> dict:
    """Run one scenario; start-latency percentiles, rejections, peak use."""
    capacity = per_node(scenario, costs)
    used = [0] * scenario.nodes  # sandboxes (and warm pods) placed on each node
    slots_free = [scenario.cores] * scenario.nodes
    start_queue: list[list[tuple[float, str, int, float]]] = [[] for _ in range(scenario.nodes)]
    events: list[tuple[float, int, str, int, float]] = []  # (time, seq, kind, node or -1, payload)
    seq = 0

    def push(t: float, kind: str, node: int = -1, payload: float = 0.0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, node, payload))

    for t, length in arrivals(scenario):
        push(t, "arrive", -1, length)
    warm_nodes: list[int] = []  # the node of each ready warm pod
    latencies: list[float] = []
    warm_hits = rejected = peak = 0
    pending: dict[int, tuple[float, float]] = {}  # start id -> (arrival time, session length)
    start_ids = 0

    def place() -> int | None:
        room = [n for n in range(scenario.nodes) if used[n] < capacity]
        return min(room, key=lambda n: used[n]) if room else None

    def begin_start(now: float, node: int, kind: str, ident: int, busy_s: float) -> None:
        """CPU-bound start work on ``node`` (``busy_s`` seconds): runs now if a slot is free, else queues."""
        if slots_free[node] > 0:
            slots_free[node] -= 1
            push(now + busy_s, kind, node, ident)
        else:
            start_queue[node].append((now, kind, ident, busy_s))

    def slot_done(now: float, node: int) -> None:
        slots_free[node] += 1
        if start_queue[node]:
            queued_at, kind, ident, busy_s = start_queue[node].pop(0)
            slots_free[node] -= 1
            push(max(now, queued_at) + busy_s, kind, node, ident)

    def refill(now: float) -> None:
        in_flight = sum(1 for q in start_queue for item in q if item[1] == "warm_up")
        starting = sum(1 for e in events if e[2] == "warm_up") + in_flight
        for _ in range(scenario.warm_pool - len(warm_nodes) - starting):
            node = place()
            if node is None:
                return
            used[node] += 1
            begin_start(now + SCHEDULE_S, node, "warm_up", -1, costs.container_s)

    refill(0.0)
    while events:
        now, _seq, kind, node, payload = heapq.heappop(events)
        if kind == "arrive":
            if warm_nodes:  # claim a ready pod: only the lab start is left, on that pod's node
                warm_hits += 1
                start_ids += 1
                pending[start_ids] = (now, payload)
                begin_start(now + EXEC_OVERHEAD_S, warm_nodes.pop(0), "lab_ready", start_ids, costs.lab_s)
                refill(now)
                continue
            target = place()
            if target is None:
                rejected += 1
                continue
            used[target] += 1
            start_ids += 1
            pending[start_ids] = (now, payload)
            begin_start(now + SCHEDULE_S, target, "lab_ready", start_ids, costs.container_s + costs.lab_s)
        elif kind == "lab_ready":
            slot_done(now, node)
            arrived, length = pending.pop(int(payload))
            latencies.append(now - arrived)
            push(now + length, "leave", node)
        elif kind == "warm_up":
            slot_done(now, node)
            warm_nodes.append(node)
        elif kind == "leave":
            used[node] -= 1
        peak = max(peak, sum(used))
    return {
        "scenario": asdict(scenario),
        "sandboxes_per_node": capacity,
        "started": len(latencies),
        "rejected": rejected,
        "warm_hits": warm_hits,
        "start_latency_s": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99),
            "max": round(max(latencies), 2) if latencies else 0.0,
        },
        "peak_pods": peak,
    }


def scenarios(costs: Costs) -> list[Scenario]:
    """40, 400 and 4,000 concurrent trainees, cold and with a warm pool, and one undersized cluster."""
    out = []
    base = Scenario("size", 0, 20, 1)
    for trainees, class_size in ((40, 20), (400, 20), (4000, 25)):
        nodes = nodes_for(trainees, base, costs)
        for warm in (0, max(5, trainees // 10)):
            out.append(Scenario(f"{trainees}-{'warm' + str(warm) if warm else 'cold'}", trainees,
                                class_size, nodes, warm_pool=warm))  # fmt: skip
    under = nodes_for(400, base, costs) // 2
    out.append(Scenario("400-undersized", 400, 20, under))
    # twenty classes start together: everyone clicks "start" within 20 s of the instructors' word
    burst_nodes = nodes_for(400, base, costs)
    out.append(Scenario("400-burst20s-cold", 400, 20, burst_nodes, stagger_s=0.0, burst_s=20.0,
                        arrival_window_s=20.0))  # fmt: skip
    out.append(Scenario("400-burst20s-warm100", 400, 20, burst_nodes, stagger_s=0.0, burst_s=20.0,
                        arrival_window_s=20.0, warm_pool=100))  # fmt: skip
    out.append(Scenario("20-one-2core-host", 20, 20, 1, cores=2, memory_gib=24.0))
    out.append(Scenario("20-one-2core-host-burst", 20, 20, 1, cores=2, memory_gib=24.0, burst_s=20.0,
                        arrival_window_s=20.0))  # fmt: skip
    return out


def main() -> dict:
    """Run every scenario; write bench/results/scaleout.json."""
    costs = load_costs()
    result = {
        "costs": asdict(costs),
        "assumptions": {
            "schedule_s": SCHEDULE_S,
            "exec_overhead_s": EXEC_OVERHEAD_S,
            "image": "pre-pulled on every node",
            "node_allocatable": 0.9,
        },
        "runs": [simulate(s, costs) for s in scenarios(costs)],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scaleout.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    for run in main()["runs"]:
        s, lat = run["scenario"], run["start_latency_s"]
        print(
            f"{s['name']:>24}: {s['nodes']:>3} nodes x {run['sandboxes_per_node']:>2}, "
            f"started {run['started']:>4}, rejected {run['rejected']:>4}, warm hits {run['warm_hits']:>4}, "
            f"latency p50/p95/p99 {lat['p50']}/{lat['p95']}/{lat['p99']} s"
        )
