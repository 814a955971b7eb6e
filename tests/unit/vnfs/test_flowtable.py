"""The bounded flow table: LRU eviction, idle timeouts, eviction hooks."""

from sdnlab.vnfs.framework.flowtable import FlowTable


def test_get_returns_value_and_refreshes_idle_timer():
    table = FlowTable(max_flows=10, idle_timeout=5)
    table.put("a", 1, now=0)
    assert table.get("a", now=4) == 1
    assert table.get("a", now=8) == 1  # refreshed at 4
    assert table.get("a", now=14) is None  # idle 6 s > 5 s
    assert len(table) == 0 and table.expired_idle == 1


def test_full_table_evicts_least_recently_used():
    gone = []
    table = FlowTable(max_flows=3, idle_timeout=100, on_evict=lambda k, v, why: gone.append((k, why)))
    for i, key in enumerate("abc"):
        table.put(key, i, now=i)
    table.get("a", now=3)  # b is now the least recently used
    table.put("d", 3, now=4)
    assert "b" not in table and {k for k, _ in table.items()} == {"a", "c", "d"}
    assert gone == [("b", "lru")] and table.evicted_lru == 1


def test_expire_removes_only_idle_entries_in_order():
    table = FlowTable(max_flows=10, idle_timeout=10)
    table.put("old", 1, now=0)
    table.put("new", 2, now=8)
    assert table.expire(now=12) == 1
    assert "new" in table and "old" not in table


def test_memory_stays_bounded_with_a_million_keys():
    table = FlowTable(max_flows=1000, idle_timeout=1e9)
    for i in range(1_000_000):
        table.put(i, None, now=i)
    assert len(table) == 1000
    assert table.evicted_lru == 999_000
