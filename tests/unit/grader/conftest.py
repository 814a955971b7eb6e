"""Shared fixtures for grader unit tests: the three-switch line with simple destination routes."""

import pytest

LINE_RULES = {
    "s1": (
        "priority=10,ip,nw_dst=10.0.0.1 actions=output:1\n"
        "priority=5,ip actions=output:2\n"
        "priority=5,arp actions=FLOOD\n"
    ),
    "s2": (
        "priority=10,ip,nw_dst=10.0.0.1 actions=output:2\n"
        "priority=10,ip,nw_dst=10.0.0.2 actions=output:1\n"
        "priority=10,ip,nw_dst=10.0.0.3 actions=output:3\n"
        "priority=5,arp actions=FLOOD\n"
    ),
    "s3": (
        "priority=10,ip,nw_dst=10.0.0.3 actions=output:1\n"
        "priority=5,ip actions=output:2\n"
        "priority=5,arp actions=FLOOD\n"
    ),
}


@pytest.fixture
def line_rules():
    return dict(LINE_RULES)
