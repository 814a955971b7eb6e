"""The failover loss of a cut, charged beyond the witness (``sdnlab.labs.failover``): pure parts.

The loss is read from which datagrams came through and when they entered the network; the
answer is charged only what it lost beyond a witness fast-failover bridge cut at the same
instant (the switch process's own delay). Live: tests/integration/certification/
test_failover_under_load_live.py.
"""

import math

import pytest

from sdnlab.labs.failover import MISSES, Cut, best_cut, loss_at_cut, switch_delay_ms, witness_for


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


def test_the_answer_is_charged_only_what_it_lost_beyond_the_witness():
    assert Cut(330.0, 330.0, 322.0).charged_ms == 8.0  # a stalled switch: fast failover all the same
    assert Cut(40.0, 41.0, 55.0).charged_ms == 0.0  # never below zero
    assert Cut(260.0, 260.0, 20.0).charged_ms == 240.0  # waited for something the witness did not
    gone = Cut(math.inf, math.inf, 20.0)
    assert gone.charged_ms == math.inf and not gone.recovered
    assert Cut(70.0, 70.0, None).charged_ms == 70.0  # no witness measurement: the whole loss
    text = Cut(330.0, 331.0, 322.0).text("st1", "rx3")
    assert "st1 forwarded the stream again after 330 ms (rx3 lost 331 ms)" in text
    assert "322 ms (witness): 8 ms charged" in text
    assert Cut(math.inf, math.inf, 20.0).text("st1", "rx3") == "the stream never came back to rx3"


@pytest.mark.parametrize("slot", [0, 7, 99])
def test_the_witness_names_fit_interface_names(slot):
    witness = witness_for(slot)
    names = [witness.bridge, witness.feed, *witness.interfaces]
    names += [witness.primary + "x", witness.backup + "x"]
    assert all(len(n) <= 15 for n in names) and len(set(names)) == len(names)


def test_the_witness_delay_counts_a_pause_of_its_sender_at_the_cut():
    ingress = _stream(1000)
    ingress.update({seq: 100.0 + (seq + 80) / 1000 for seq in range(500, 1000)})  # paused 80 ms after 499
    received = set(range(1000))  # nothing lost: the switch had switched over when 500 came
    assert loss_at_cut(received, ingress, cut_done=100.4995, interval_ms=1.0) == 0.0
    assert switch_delay_ms(received, ingress, cut_done=100.4995, interval_ms=1.0) == pytest.approx(80.0)
    received = set(range(500)) | set(range(510, 1000))  # 10 lost after the pause: 90 ms dark
    assert switch_delay_ms(received, ingress, cut_done=100.4995, interval_ms=1.0) == pytest.approx(90.0)
    assert math.isinf(switch_delay_ms(set(range(500)), ingress, cut_done=100.4995, interval_ms=1.0))


def test_the_witness_delay_is_that_of_its_slowest_flow():
    from sdnlab.labs.failover import WITNESS_FLOWS, witness_delay_ms

    ingress = _stream(4000)
    slow = 1  # this flow's datagrams went nowhere for 120 ms after the cut, the others' for 20 ms
    received = {
        seq for seq in range(4000) if not (500 <= seq < (620 if seq % WITNESS_FLOWS == slow else 520))
    }
    assert witness_delay_ms(received, ingress, cut_done=100.4995) == pytest.approx(120.0, abs=WITNESS_FLOWS)
    assert math.isnan(witness_delay_ms(set(), ingress, cut_done=100.4995))


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
