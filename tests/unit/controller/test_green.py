"""The app lock: Ryu-style app code runs one piece at a time and sets the lock aside while it waits."""

from __future__ import annotations

import threading
import time

from sdnlab.controller import green, hub


def test_only_code_written_for_ryu_takes_the_lock():
    assert green.written_for_ryu("rest_router")  # an app loaded from a file
    assert green.written_for_ryu("mylab.apps.switch")
    assert not green.written_for_ryu("sdnlab.controller.apps.builtin")
    assert not green.written_for_ryu("os_ken.topology.switches")
    assert not green.written_for_ryu("ryu.app.ofctl_rest")  # sdnlab's own file behind the alias
    assert green.lock_for("rest_router") is green.APP_LOCK


def test_the_lock_is_reentrant_and_set_aside_completely_while_waiting():
    lock = green.AppLock()
    with lock, lock:
        assert lock.depth() == 2
        with lock.suspended():
            assert lock.depth() == 0
            other = threading.Thread(target=lambda: lock.__enter__() and lock.__exit__())
            other.start()
            other.join(2)
            assert not other.is_alive()  # another thread got the lock meanwhile
        assert lock.depth() == 2
    assert lock.depth() == 0


def until(condition, within_s: float = 10.0) -> None:
    """Wait for another thread to reach a point (no fixed sleep: a loaded machine may be slow)."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.01)


def run_holding_the_lock(order: list[str], name: str, wait) -> None:
    with green.APP_LOCK:
        order.append(f"{name} in")
        wait()
        order.append(f"{name} out")


def test_a_hub_wait_lets_other_app_code_run_and_plain_code_does_not():
    event = hub.Event()
    order: list[str] = []
    waiter = threading.Thread(target=run_holding_the_lock, args=(order, "waiter", event.wait))
    waiter.start()
    until(lambda: "waiter in" in order)
    run_holding_the_lock(order, "rest", event.set)  # gets the lock while the waiter waits in the hub
    waiter.join(10)
    assert order == ["waiter in", "rest in", "rest out", "waiter out"]

    order.clear()
    busy = threading.Thread(target=run_holding_the_lock, args=(order, "busy", lambda: time.sleep(0.3)))
    busy.start()
    until(lambda: "busy in" in order)
    run_holding_the_lock(order, "rest", lambda: None)  # time.sleep is no hub wait: rest waits its turn
    busy.join(10)
    assert order == ["busy in", "busy out", "rest in", "rest out"]


def test_hub_queues_and_semaphores_set_the_lock_aside_only_when_they_must_wait():
    replies: hub.Queue = hub.Queue()
    got: list[object] = []

    asking = threading.Event()

    def ask() -> None:
        with green.APP_LOCK:
            asking.set()
            got.append(replies.get(timeout=10))

    asker = threading.Thread(target=ask)
    asker.start()
    assert asking.wait(10)
    with green.APP_LOCK:  # the reply comes from other app code, which needs the lock
        replies.put("answer")
    asker.join(10)
    assert got == ["answer"]

    slots = hub.BoundedSemaphore(1)
    with green.APP_LOCK:
        assert slots.acquire()
        assert not slots.acquire(blocking=False)
        assert green.APP_LOCK.depth() == 1
    slots.release()
