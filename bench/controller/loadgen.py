"""cbench-style load against a controller: fake switches send packet-ins, count flow-mods back.

Throughput mode keeps ``window`` packet-ins outstanding per switch and reports flow-mods per
second; latency mode keeps one outstanding and reports packet-in -> flow-mod round trips.
Each switch has ``hosts`` MAC addresses spread over 4 ports; a warm-up round lets a learning
switch learn them all, so afterwards every packet-in has a known destination on another port.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from sdnlab.controller import fakeswitch as fk

N_PORTS = 4


def host_port(host: int) -> int:
    return host % N_PORTS + 1


def frame_for(switch_index: int, src: int, dst: int) -> bytes:
    base = switch_index * 10000
    return fk.ethernet_frame(fk.mac_bytes(base + dst), fk.mac_bytes(base + src))


async def _connect(port: int, n_switches: int) -> list[fk.FakeSwitch]:
    switches = [fk.FakeSwitch(dpid=0xB000 + i, n_ports=N_PORTS) for i in range(n_switches)]
    for switch in switches:
        await switch.connect("127.0.0.1", port)
    await asyncio.gather(*(asyncio.wait_for(s.ready.wait(), 10) for s in switches))
    await asyncio.sleep(0.5)
    return switches


async def _warm_up(switches: list[fk.FakeSwitch], hosts: int) -> None:
    for index, switch in enumerate(switches):
        for host in range(hosts):
            switch.packet_in(host_port(host), frame_for(index, host, (host + 1) % hosts))
        await switch.drain()
    await asyncio.sleep(1.0)


async def _throughput_one(index: int, switch: fk.FakeSwitch, hosts: int, end: float, window: int) -> int:
    sent = 0
    base = switch.counters.flow_mods
    host = 0
    while time.perf_counter() < end:
        while sent - (switch.counters.flow_mods - base) < window:
            switch.packet_in(host_port(host), frame_for(index, host, (host + 1) % hosts))
            sent += 1
            host = (host + 1) % hosts
        await switch.drain()
        switch.response_event.clear()
        try:
            await asyncio.wait_for(switch.response_event.wait(), 0.5)
        except TimeoutError:
            pass
    return switch.counters.flow_mods - base


async def _latency_one(index: int, switch: fk.FakeSwitch, hosts: int, end: float) -> list[float]:
    rtts = []
    host = 0
    while time.perf_counter() < end:
        before = switch.counters.flow_mods
        started = time.perf_counter()
        switch.response_event.clear()
        switch.packet_in(host_port(host), frame_for(index, host, (host + 1) % hosts))
        await switch.drain()
        try:
            while switch.counters.flow_mods == before:
                await asyncio.wait_for(switch.response_event.wait(), 1.0)
                switch.response_event.clear()
            rtts.append((time.perf_counter() - started) * 1000.0)
        except TimeoutError:
            pass
        host = (host + 1) % hosts
    return rtts


async def measure(
    port: int,
    n_switches: int = 8,
    hosts: int = 100,
    seconds: float = 5.0,
    window: int = 32,
    latency_seconds: float = 3.0,
) -> dict:
    """Throughput (flow-mods/s) and latency (ms) of the controller listening on ``port``."""
    switches = await _connect(port, n_switches)
    try:
        await _warm_up(switches, hosts)
        started = time.perf_counter()
        end = started + seconds
        counts = await asyncio.gather(
            *(_throughput_one(i, s, hosts, end, window) for i, s in enumerate(switches))
        )
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.5)
        end = time.perf_counter() + latency_seconds
        rtts = [
            r
            for rs in await asyncio.gather(*(_latency_one(i, s, hosts, end) for i, s in enumerate(switches)))
            for r in rs
        ]
    finally:
        for switch in switches:
            await switch.close()
    rtts.sort()
    return {
        "flow_setups_per_s": sum(counts) / elapsed,
        "latency_ms_median": statistics.median(rtts) if rtts else None,
        "latency_ms_p95": rtts[int(len(rtts) * 0.95)] if rtts else None,
        "latency_samples": len(rtts),
    }
