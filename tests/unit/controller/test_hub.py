"""The hub behaves as Ryu apps written for eventlet expect, on native threads.

Each primitive is checked on its own: timeouts fire at cooperative points, kills end threads,
events time out, sleeps sleep, and ``install()`` makes ``ryu.lib.hub`` and ``os_ken.lib.hub``
hand out these primitives.
"""

from __future__ import annotations

import threading
import time

import pytest

from sdnlab.controller import hub


def elapsed(func, *args, **kwargs):
    started = time.monotonic()
    result = func(*args, **kwargs)
    return time.monotonic() - started, result


# --- Timeout -------------------------------------------------------------------------------


def test_a_timeout_created_before_a_wait_interrupts_that_wait_with_the_same_instance():
    event = hub.Event()
    timeout = hub.Timeout(0.2)
    started = time.monotonic()
    with pytest.raises(hub.Timeout) as raised:
        event.wait()
    assert raised.value is timeout
    assert 0.15 < time.monotonic() - started < 1.0


def test_a_cancelled_timeout_never_fires():
    timeout = hub.Timeout(0.05)
    timeout.cancel()
    assert not timeout.pending
    hub.sleep(0.15)  # would raise if still armed


def test_a_timeout_given_an_exception_raises_that_exception():
    class Late(Exception):
        pass

    hub.Timeout(0.05, Late("too slow"))
    with pytest.raises(Late, match="too slow"):
        hub.sleep(1)


def test_with_timeout_false_ends_the_block_silently():
    reached_end = False
    with hub.Timeout(0.05, False):
        hub.sleep(1)
        reached_end = True
    assert not reached_end


def test_leaving_a_with_block_in_time_cancels_the_timeout():
    with hub.Timeout(0.1) as timeout:
        hub.sleep(0.01)
    assert not timeout.pending
    hub.sleep(0.2)


def test_the_earliest_of_nested_timeouts_fires_first():
    outer = hub.Timeout(1.0)
    inner = hub.Timeout(0.05)
    with pytest.raises(hub.Timeout) as raised:
        hub.sleep(2)
    assert raised.value is inner
    assert outer.pending
    outer.cancel()


def test_a_timeout_is_not_an_exception_so_except_exception_does_not_swallow_it():
    assert not issubclass(hub.Timeout, Exception)
    hub.Timeout(0.05)
    with pytest.raises(hub.Timeout):
        try:
            hub.sleep(1)
        except Exception:  # what app code often has around its loop body
            pass


def test_a_timeout_of_none_never_fires():
    with hub.Timeout(None):
        hub.sleep(0.05)


def test_a_timeout_belongs_to_the_thread_that_created_it():
    hub.Timeout(0.05)  # armed for this thread only ...
    other = hub.spawn(hub.sleep, 0.15)
    time.sleep(0.3)  # not a cooperative point: this thread's timeout stays pending meanwhile
    other.join(5)  # nor is a native join; a loaded machine may start the other thread late
    assert not other.is_alive() and other.exception is None  # ... the other thread slept undisturbed
    with pytest.raises(hub.Timeout):
        hub.sleep(0)


# --- Event ----------------------------------------------------------------------------------


def test_event_wait_with_a_timeout_returns_false_after_the_timeout():
    took, result = elapsed(hub.Event().wait, 0.1)
    assert result is False and 0.08 < took < 5  # returns (os-ken's native wait blocked for good)


def test_event_wait_returns_true_as_soon_as_another_thread_sets_it():
    event = hub.Event()
    hub.spawn_after(0.05, event.set)
    took, result = elapsed(event.wait, 5)
    assert result is True and took < 4  # woken by the set, not by the timeout


def test_set_wakes_every_waiter():
    event = hub.Event()
    results: list[bool] = []
    waiters = [hub.spawn(lambda: results.append(event.wait(5))) for _ in range(4)]
    hub.sleep(0.05)
    event.set()
    hub.joinall(waiters)
    assert results == [True] * 4


def test_clear_makes_wait_block_again():
    event = hub.Event()
    event.set()
    assert event.wait(0) is True
    event.clear()
    assert not event.is_set() and event.wait(0.02) is False


# --- sleep, spawn, kill, joinall --------------------------------------------------------------


def test_sleep_sleeps_for_the_given_time():
    took, _ = elapsed(hub.sleep, 0.1)
    assert 0.09 < took < 5


def test_sleep_zero_returns_at_once():
    took, _ = elapsed(hub.sleep, 0)
    assert took < 2  # no timer: a loaded machine only delays the call itself


def test_spawn_runs_the_function_and_wait_returns_its_result():
    thread = hub.spawn(lambda a, b=0: a + b, 2, b=3)
    assert thread.wait() == 5 and thread.daemon


def test_an_uncaught_error_in_a_thread_is_logged_not_raised(caplog):
    def broken():
        raise ValueError("boom")

    thread = hub.spawn(broken)
    hub.joinall([thread])
    assert isinstance(thread.exception, ValueError)
    assert "boom" in caplog.text


def test_kill_ends_a_thread_blocked_in_sleep():
    thread = hub.spawn(hub.sleep, 60)
    hub.sleep(0.02)
    hub.kill(thread)
    took, _ = elapsed(hub.joinall, [thread])
    assert not thread.is_alive() and took < 10 and thread.exception is None  # not the 60 s sleep


def test_kill_ends_a_thread_blocked_in_event_wait_without_a_timeout():
    thread = hub.spawn(hub.Event().wait)
    hub.sleep(0.02)
    hub.kill(thread)
    hub.joinall([thread])
    assert not thread.is_alive()


def test_a_killed_thread_runs_its_finally_blocks():
    cleaned = threading.Event()

    def loop():
        try:
            while True:
                hub.sleep(0.01)
        finally:
            cleaned.set()

    thread = hub.spawn(loop)
    hub.sleep(0.03)
    hub.kill(thread)
    hub.joinall([thread])
    assert cleaned.is_set()


def test_kill_is_not_swallowed_by_except_exception_in_the_thread():
    def stubborn():
        while True:
            try:
                hub.sleep(0.01)
            except Exception:
                pass

    thread = hub.spawn(stubborn)
    hub.sleep(0.02)
    hub.kill(thread)
    thread.wait(2)
    assert not thread.is_alive()


def test_killing_the_calling_thread_raises_task_exit_at_once():
    def suicide():
        hub.kill(hub.getcurrent())
        return "not reached"

    thread = hub.spawn(suicide)
    assert thread.wait() is None and thread.exception is None


def test_kill_of_a_finished_thread_is_harmless():
    thread = hub.spawn(lambda: None)
    hub.joinall([thread])
    hub.kill(thread)


def test_spawn_after_runs_later_and_can_be_cancelled():
    ran: list[str] = []
    later = hub.spawn_after(0.05, ran.append, "late")
    cancelled = hub.spawn_after(0.05, ran.append, "cancelled")
    cancelled.cancel()
    hub.joinall([later, cancelled])
    assert ran == ["late"]


def test_joinall_waits_for_plain_threads_too():
    plain = threading.Thread(target=time.sleep, args=(0.05,))
    plain.start()
    hub.joinall([plain])
    assert not plain.is_alive()


def test_joinall_is_a_cooperative_point_for_the_caller():
    forever = hub.spawn(hub.Event().wait)
    with pytest.raises(hub.Timeout):
        hub.Timeout(0.05)
        hub.joinall([forever])
    hub.kill(forever)
    hub.joinall([forever])


def test_getcurrent_is_a_function_returning_the_calling_thread():
    assert hub.getcurrent() is threading.current_thread()


# --- the state machine pattern of stplib ------------------------------------------------------


def test_a_timer_driven_state_machine_advances_like_stplibs():
    """LISTEN -> LEARN -> FORWARD on a forward-delay timer, the pattern stplib's ports use."""
    states: list[str] = []
    following = {"LISTEN": "LEARN", "LEARN": "FORWARD"}

    def machine():
        state = "LISTEN"
        while True:
            states.append(state)
            if state not in following:
                hub.Event().wait()
            timeout = hub.Timeout(0.05)
            try:
                hub.Event().wait()
            except hub.Timeout as fired:
                assert fired is timeout
                state = following[state]
            finally:
                timeout.cancel()

    thread = hub.spawn(machine)
    deadline = time.monotonic() + 5  # two 0.05 s timers; a loaded machine may take longer
    while states[-1:] != ["FORWARD"] and time.monotonic() < deadline:
        hub.sleep(0.01)
    hub.sleep(0.2)  # a cancelled timer firing late would move it on from FORWARD
    hub.kill(thread)
    hub.joinall([thread])
    assert states == ["LISTEN", "LEARN", "FORWARD"]


# --- install ---------------------------------------------------------------------------------


def test_install_gives_ryu_and_os_ken_hub_these_primitives():
    from sdnlab.controller import alias

    alias.install()
    hub.install()
    import os_ken.lib.hub as os_ken_hub

    import ryu.lib.hub as ryu_hub

    assert ryu_hub is os_ken_hub
    for name in ("Timeout", "Event", "spawn", "kill", "joinall", "sleep", "TaskExit", "getcurrent"):
        assert getattr(ryu_hub, name) is getattr(hub, name), name
    assert hub.installed()


def test_os_ken_stplib_port_timer_uses_the_installed_timeout():
    hub.install()
    from os_ken.lib import stplib

    assert stplib.hub.Timeout is hub.Timeout and stplib.hub.kill is hub.kill


def test_hardenings_event_wait_patch_still_works_on_the_installed_event():
    """hardening.install() patches hub.Event.wait with code that reads os-ken's ``_ev``/``_cond``."""
    from os_ken.lib import hub as os_ken_hub

    from sdnlab.controller import hardening

    hub.install()
    hardening.install()
    try:
        event = os_ken_hub.Event()
        took, result = elapsed(event.wait, 0.1)
        assert result is False and took < 5
        hub.spawn_after(0.05, event.set)
        assert event.wait(5) is True
    finally:
        hub.install()  # restores the cooperative wait
