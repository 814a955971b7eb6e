"""The ``rate`` probe's verdict: a measured TCP rate against its bounds."""

from sdnlab.labs.probes import judge_rate


def test_a_rate_within_the_bounds_passes_and_says_what_was_measured():
    assert judge_rate(0.9, None, 1.5) == (True, "0.9 Mbit/s (expected <= 1.5 Mbit/s)")
    assert judge_rate(42.0, 5.0, None) == (True, "42.0 Mbit/s (expected >= 5 Mbit/s)")
    assert judge_rate(3.0, 1.0, 4.0) == (True, "3.0 Mbit/s (expected >= 1 and <= 4 Mbit/s)")


def test_a_rate_outside_the_bounds_or_no_connection_fails():
    assert judge_rate(95.2, None, 1.5)[0] is False
    assert judge_rate(2.0, 5.0, None)[0] is False
    assert judge_rate(None, None, 1.5) == (False, "no TCP connection (iperf3 could not connect)")
