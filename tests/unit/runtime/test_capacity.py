"""The lab limit is sized from the machine (issue 12 item 8): no fixed cap of 10, a clear refusal."""

from __future__ import annotations

import pytest

from sdnlab.runtime.capacity import LONGEST_PREFIX, SLOT_CEILING, Limit, NoLabSlot, free_slot, limit_for


def test_this_kind_of_machine_allows_well_over_16_labs():
    limit = limit_for(None, memory_mib=24 * 1024, cpus=2)
    assert limit.labs >= 20 and "CPU" in limit.reason


def test_a_small_machine_is_limited_by_memory():
    limit = limit_for(None, memory_mib=1024, cpus=8)
    assert limit.labs == 6 and "MiB of memory" in limit.reason


def test_the_setting_overrides_the_computed_limit_and_is_validated():
    assert limit_for("3", 24 * 1024, 2) == Limit(3, "SDNLAB_MAX_LABS=3")
    for bad in ("0", "-1", "many", str(SLOT_CEILING + 1)):
        with pytest.raises(NoLabSlot, match="SDNLAB_MAX_LABS"):
            limit_for(bad, 24 * 1024, 2)


def test_slots_fill_the_lowest_free_number_and_refuse_beyond_the_limit():
    assert free_slot({0, 1, 3}, Limit(10, "test"), available_mib=4096) == 2
    with pytest.raises(NoLabSlot, match=r"3 labs are running and this machine allows 3 \(why\)"):
        free_slot({0, 1, 2}, Limit(3, "why"), available_mib=4096)


def test_a_lab_is_refused_when_memory_runs_out():
    with pytest.raises(NoLabSlot, match="only 50 MiB of memory is available"):
        free_slot(set(), Limit(10, "test"), available_mib=50)


def test_bridge_prefixes_stay_within_the_reserved_length():
    from sdnlab.topologies.mininet_build import bridge_name

    assert len(bridge_name("s", SLOT_CEILING - 1)) - 1 == LONGEST_PREFIX == 3
