"""KeyedLocks: one lock per key (a certificate page's print), and no entry left for a key nobody
holds or waits for, so a server that prints many certificates keeps no lock per certificate."""

import threading
import time

import pytest

from sdnlab.classroom.keyed_locks import KeyedLocks


def test_many_distinct_keys_leave_no_entry_behind():
    locks = KeyedLocks()
    for n in range(10_000):
        with locks.hold(f"page-{n}", timeout=1) as mine:
            assert mine and len(locks) == 1
    assert len(locks) == 0


def test_a_second_thread_waits_for_the_holder_of_the_same_key_and_the_entry_goes_after_both():
    locks, order = KeyedLocks(), []
    holding, release = threading.Event(), threading.Event()

    def first():
        with locks.hold("page", timeout=5) as mine:
            assert mine
            order.append("first in")
            holding.set()
            release.wait(5)
            order.append("first out")

    def second():
        holding.wait(5)
        with locks.hold("page", timeout=5) as mine:
            assert mine
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    holding.wait(5)
    time.sleep(0.2)  # the second is waiting on the first's lock by now
    assert order == ["first in"] and len(locks) == 1, "one entry, shared by the holder and the waiter"
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["first in", "first out", "second in"]
    assert len(locks) == 0


def test_a_wait_that_times_out_yields_false_and_leaves_the_holders_entry_alone():
    locks = KeyedLocks()
    with locks.hold("page", timeout=1) as mine:
        assert mine
        got = []

        def wait():
            with locks.hold("page", timeout=0.2) as theirs:
                got.append(theirs)

        waiter = threading.Thread(target=wait)
        waiter.start()
        waiter.join(5)
        assert got == [False]
        assert len(locks) == 1, "the holder's entry stays while it holds the lock"
        with locks.hold("other", timeout=1) as other:
            assert other and len(locks) == 2
    assert len(locks) == 0


def test_an_error_in_the_block_releases_the_lock_and_drops_the_entry():
    locks = KeyedLocks()
    with pytest.raises(RuntimeError), locks.hold("page", timeout=1):
        raise RuntimeError("the print failed")
    assert len(locks) == 0
    with locks.hold("page", timeout=0) as mine:
        assert mine, "not left locked"


def test_under_contention_each_key_has_one_holder_at_a_time_and_nothing_is_left():
    locks, guard = KeyedLocks(), threading.Lock()
    inside = dict.fromkeys("abc", 0)
    most = dict(inside)

    def work(n):
        key = "abc"[n % 3]
        for _ in range(200):
            with locks.hold(key, timeout=10) as mine:
                assert mine
                with guard:
                    inside[key] += 1
                    most[key] = max(most[key], inside[key])
                time.sleep(0)
                with guard:
                    inside[key] -= 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert most == {"a": 1, "b": 1, "c": 1}
    assert len(locks) == 0
