"""Room for a class (issue 12 item 8): 16 labs start at once on this machine (the old cap was 10)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sdnlab.runtime import api

pytestmark = pytest.mark.network

COUNT = 16


def test_sixteen_labs_start_at_once_and_each_carries_traffic():
    names = [f"rt-many-{i}" for i in range(COUNT)]

    def start(name: str):
        try:
            return api.up("linear", {"switches": 2}, name=name, controller="builtin")
        except Exception as exc:  # reported below, after every lab is down
            return exc

    try:
        with ThreadPoolExecutor(max_workers=COUNT) as pool:
            states = list(pool.map(start, names))
        failures = [s for s in states if isinstance(s, Exception)]
        assert not failures, failures[:3]
        assert len({s["slot"] for s in states}) == COUNT
        assert max(s["slot"] for s in states) >= 10  # beyond the old fixed cap
        for name in names:
            ping = api.run_in(name, "h1", ["ping", "-c1", "-w10", "10.0.0.2"], timeout=20)
            assert ping.returncode == 0, (name, ping.stdout)
    finally:
        for name in names:
            try:
                api.down(name)
            except Exception:
                pass
