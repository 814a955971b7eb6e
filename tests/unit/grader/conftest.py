"""Shared fixtures for grader unit tests: the three-switch line with simple destination routes."""

import pytest
from grader_line import LINE_RULES


@pytest.fixture
def line_rules():
    return dict(LINE_RULES)
