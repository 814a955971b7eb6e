"""The failover loss of a cut, charged beyond the witness (``sdnlab.labs.failover``): pure parts.

A cut is judged by when the cut switch sent the stream on again after its loss (the switch's
own kernel timestamps); the answer is charged only the time beyond a witness fast-failover
bridge cut at the same instant (the switch process's own delay), less any time its sender sent
nothing. Live: tests/integration/certification/
test_failover_under_load_live.py.
"""

import math

import pytest

from sdnlab.labs.failover import (
    MISSES,
    WITNESS_FLOWS,
    Cut,
    best_cut,
    loss_at_cut,
    resumed_ms,
    sender_silent_ms,
    witness_for,
    witness_resumed_ms,
)


def _stream(n: int, start: float = 100.0) -> dict[int, float]:
    """Sequence number -> ingress time: one datagram per ms from ``start``."""
    return {seq: start + seq / 1000 for seq in range(n)}


def test_the_loss_is_the_datagrams_missing_before_the_first_one_through_after_the_cut():
    ingress = _stream(1000)
    received = set(range(500)) | set(range(530, 1000))  # 500..529 lost: 30 ms
    assert loss_at_cut(received, ingress, cut_done=100.505, interval_ms=1.0) == 30.0


def test_losses_elsewhere_in_the_stream_are_not_the_cut():
    ingress = _stream(1000)
    received = (set(range(100)) | set(range(400, 500)) | set(range(520, 1000))) - set(range(800, 900))
    assert loss_at_cut(received, ingress, cut_done=100.505, interval_ms=1.0) == 20.0


def test_datagrams_queued_in_a_stalled_switch_before_the_cut_count_with_it():
    ingress = _stream(1000)
    received = set(range(300)) | set(range(560, 1000))  # a stalled switch dropped its backlog
    assert loss_at_cut(received, ingress, cut_done=100.505, interval_ms=1.0) == 260.0


def test_a_stream_that_never_came_back_is_an_infinite_loss_and_one_that_never_flowed_is_not_judged():
    ingress = _stream(1000)
    assert loss_at_cut(set(range(500)), ingress, cut_done=100.505, interval_ms=1.0) == math.inf
    assert math.isnan(loss_at_cut(set(), ingress, cut_done=100.505, interval_ms=1.0))
    assert math.isnan(loss_at_cut(set(range(600, 1000)), ingress, cut_done=100.505, interval_ms=1.0))


def test_the_answer_is_charged_only_the_time_beyond_the_witness_and_its_senders_silence():
    assert Cut(330.0, 330.0, 322.0).charged_ms == 8.0  # a stalled switch: fast failover all the same
    assert Cut(40.0, 41.0, 55.0).charged_ms == 0.0  # never below zero
    assert Cut(260.0, 260.0, 20.0).charged_ms == 240.0  # waited for something the witness did not
    assert Cut(260.0, 260.0, 20.0, silent_ms=230.0).charged_ms == 10.0  # its sender paused 230 ms
    assert Cut(0.0, 0.0, 300.0).charged_ms == 0.0  # lost nothing
    gone = Cut(math.inf, math.inf, 20.0)
    assert gone.charged_ms == math.inf and not gone.recovered and gone.judged
    assert Cut(70.0, 70.0, None).charged_ms == 70.0  # no witness measurement: the whole time
    text = Cut(330.0, 331.0, 322.0).text("st1", "rx3")
    assert "st1 forwarded the stream again after 330 ms (rx3 lost 331 ms)" in text
    assert "322 ms (witness): 8 ms charged" in text
    assert "silent 230 ms" in Cut(260.0, 260.0, 20.0, silent_ms=230.0).text("st1", "rx3")
    assert Cut(math.inf, math.inf, 20.0).text("st1", "rx3") == "the stream never came back to rx3"


def test_a_cut_after_which_even_the_witness_never_resumed_judges_nothing():
    stalled = Cut(math.inf, math.inf, math.inf)
    assert not stalled.judged and not Cut(math.nan, math.nan, 20.0).judged


def _sent(ingress: dict[int, float], lost: range, resumed_at: float | None = None) -> dict[int, float]:
    """Sequence number -> when the switch sent it on: 0.1 ms after it entered, except the
    ``lost`` ones; from ``resumed_at`` on, what had queued up leaves then (a drained backlog)."""
    out = {}
    for seq, at in ingress.items():
        if seq in lost:
            continue
        leaves = at + 0.0001
        out[seq] = max(leaves, resumed_at) if resumed_at is not None and seq > lost.start else leaves
    return out


def test_a_stream_is_judged_by_when_the_switch_sent_it_on_again_not_by_how_many_datagrams_it_lost():
    ingress = _stream(1000)
    cut = 100.5
    # a stalled switch resumed 120 ms after the cut and drained its backlog at once: 64 lost
    # datagrams (two of its 32-datagram bursts) or 8, the stream resumed at the same instant
    many = _sent(ingress, range(500, 564), resumed_at=cut + 0.120)
    few = _sent(ingress, range(496, 504), resumed_at=cut + 0.120)
    assert resumed_ms(many, ingress, cut) == pytest.approx(120.0)
    assert resumed_ms(few, ingress, cut) == pytest.approx(120.0)


def test_datagrams_a_full_receive_buffer_dropped_after_the_switch_resumed_are_not_the_answers():
    ingress = _stream(1000)
    cut = 100.5
    # the switch sent its backlog (up to 480) on by the other path 556 ms after the cut; its
    # receive buffer had overflowed meanwhile: 481..606 never reached it, 607 on left at 682 ms
    out = dict.fromkeys(range(400, 481), cut + 0.556)
    out.update({seq: at + 0.0001 for seq, at in ingress.items() if seq < 400})
    out.update({seq: max(at, cut + 0.682) for seq, at in ingress.items() if seq >= 607})
    assert resumed_ms(out, ingress, cut) == pytest.approx(556.0)


def test_a_stream_that_lost_nothing_resumed_at_once_unless_it_is_the_witness():
    ingress = _stream(1000)
    cut = 100.5
    late = _sent(ingress, range(0), resumed_at=cut + 0.080)  # queued 80 ms, nothing lost
    assert resumed_ms(late, ingress, cut) == 0.0
    assert resumed_ms(late, ingress, cut, lost_only=False) == pytest.approx(80.0, abs=1.0)


def test_a_stream_that_never_came_back_never_resumed_and_one_that_never_flowed_is_not_judged():
    ingress = _stream(1000)
    cut = 100.5
    assert resumed_ms(_sent(ingress, range(500, 1000)), ingress, cut) == math.inf
    assert math.isnan(resumed_ms({}, ingress, cut))


def test_the_witness_resumed_when_its_slowest_flow_did():
    ingress = _stream(4000)
    cut = 100.5
    slow = 1  # this flow's datagrams went nowhere for 120 ms after the cut, the others' for 20 ms
    out = {
        seq: at + 0.0001
        for seq, at in ingress.items()
        if not (500 <= seq < (620 if seq % WITNESS_FLOWS == slow else 520))
    }
    assert witness_resumed_ms(out, ingress, cut) == pytest.approx(120.0, abs=WITNESS_FLOWS)
    assert math.isnan(witness_resumed_ms({}, ingress, cut))


def test_time_the_sender_sent_nothing_after_the_witness_resumed_is_found():
    ingress = _stream(1000)
    ingress.update({seq: 100.0 + (seq + 80) / 1000 for seq in range(500, 1000)})  # paused 80 ms after 499
    cut = 100.4995
    out = _sent(ingress, range(490, 500))  # lost 490..499 before the pause; 500 through after it
    assert sender_silent_ms(out, ingress, cut, since_ms=5.0, interval_ms=1.0) == pytest.approx(74.5, abs=0.5)
    assert sender_silent_ms(out, ingress, cut, since_ms=200.0, interval_ms=1.0) == 0.0  # witness later
    steady = _stream(1000)
    out = _sent(steady, range(500, 560))  # a steady sender: no silence worth charging less for
    assert sender_silent_ms(out, steady, cut, since_ms=5.0, interval_ms=1.0) == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize("slot", [0, 7, 99])
def test_the_witness_names_fit_interface_names(slot):
    witness = witness_for(slot)
    names = [witness.bridge, witness.feed, *witness.interfaces]
    names += [witness.primary + "x", witness.backup + "x"]
    assert all(len(n) <= 15 for n in names) and len(set(names)) == len(names)


def _cuts(*cuts: Cut):
    """A ``measure`` for ``best_cut`` that makes the given cuts in order and counts them."""
    made = []

    def measure() -> Cut:
        made.append(cuts[len(made)])
        return made[-1]

    return measure, made


def test_a_feed_that_never_flowed_judges_nothing_and_is_not_charged_zero():
    # (its charged_ms would be max(0, nan) = 0: a pass; best_cut must skip it)
    never = Cut(math.nan, math.nan, 20.0)
    measure, made = _cuts(never, never, never, never, never)
    assert best_cut(measure, tries=5, good=50.0) is None
    assert len(made) == MISSES  # stops after two cuts without a verdict


def test_the_best_cut_is_the_least_charged_and_cutting_stops_once_one_meets_the_limit():
    measure, made = _cuts(
        Cut(300.0, 300.0, 100.0), Cut(90.0, 90.0, 20.0), Cut(60.0, 61.0, 30.0), Cut(1.0, 1.0, 1.0)
    )
    best = best_cut(measure, tries=5, good=50.0)
    assert best == Cut(60.0, 61.0, 30.0) and len(made) == 3


def test_a_feed_that_never_came_back_stops_after_two_cuts_and_is_an_infinite_loss():
    gone = Cut(math.inf, math.inf, 20.0)
    measure, made = _cuts(gone, gone, gone)
    best = best_cut(measure, tries=5, good=50.0)
    assert best is not None and best.charged_ms == math.inf and len(made) == 2


def test_a_cut_that_never_flowed_does_not_hide_a_finite_one_and_all_tries_are_made_above_the_limit():
    measure, made = _cuts(
        Cut(math.nan, math.nan, 20.0),
        Cut(200.0, 200.0, 20.0),
        Cut(150.0, 150.0, 20.0),
        Cut(300.0, 300.0, 20.0),
    )
    assert best_cut(measure, tries=4, good=50.0) == Cut(150.0, 150.0, 20.0)
    assert len(made) == 4


def test_cuts_after_which_the_switch_process_never_resumed_are_skipped_and_are_no_misses():
    stalled = Cut(math.inf, math.inf, math.inf)
    measure, made = _cuts(stalled, stalled, Cut(300.0, 301.0, 290.0))
    best = best_cut(measure, tries=5, good=50.0)
    assert best == Cut(300.0, 301.0, 290.0) and len(made) == 3
