"""Prometheus metrics of the classroom server (one registry per app, rendered at ``GET /metrics``).

Counters: logins by outcome, errors by HTTP status or cause, lab starts served by the warm
pool or not (``classroom_pool_takes{outcome=hit|miss}``); histograms: lab start and
check/submit latency; gauges read at scrape time: running sessions, users, open terminals,
warm pool sandboxes ready per lab, starting, targets and failed fills.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select

from sdnlab.classroom.db import RUNNING_STATES, LabSession, User

if TYPE_CHECKING:
    from sdnlab.classroom.room import Classroom

BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120)


class Metrics:
    """The server's metrics."""

    def __init__(self, room: Classroom):
        self.registry = CollectorRegistry()
        r = self.registry
        self.logins = Counter("classroom_logins", "Login attempts by outcome", ["outcome"], registry=r)
        self.errors = Counter(
            "classroom_errors", "Error answers by HTTP status or cause", ["cause"], registry=r
        )
        self.lab_start = Histogram(
            "classroom_lab_start_seconds",
            "Time from start request to a ready sandbox",
            buckets=BUCKETS,
            registry=r,
        )
        self.check = Histogram(
            "classroom_check_seconds",
            "Grading time of checks and submits",
            ["kind"],
            buckets=BUCKETS,
            registry=r,
        )
        self.pool_takes = Counter(
            "classroom_pool_takes",
            "Lab starts by outcome: hit (a warm pool sandbox) or miss (started cold)",
            ["outcome"],
            registry=r,
        )
        pool_ready = Gauge("classroom_pool_ready", "Warm pool sandboxes ready, by lab", ["lab"], registry=r)
        for lab in room.pool.targets:
            pool_ready.labels(lab).set_function(partial(room.pool.ready, lab))
        pool_target = Gauge("classroom_pool_target", "Warm pool target, by lab", ["lab"], registry=r)
        for lab, n in room.pool.targets.items():
            pool_target.labels(lab).set(n)
        Gauge("classroom_pool_starting", "Warm pool sandboxes being started", registry=r).set_function(
            room.pool.starting
        )
        Gauge(
            "classroom_pool_fill_failures", "Warm pool sandboxes that failed to start", registry=r
        ).set_function(lambda: room.pool.failures)
        self.terminals = Gauge("classroom_terminals", "Open terminal WebSockets", registry=r)
        sessions = Gauge("classroom_sessions_running", "Lab sessions starting or running", registry=r)
        users = Gauge("classroom_users", "Accounts", registry=r)
        sandboxes = Gauge("classroom_sandboxes_max", "Configured cap on concurrent sandboxes", registry=r)
        sandboxes.set(room.settings.max_sandboxes)

        def count(query) -> float:
            with room.factory() as db:
                return float(db.scalar(query) or 0)

        sessions.set_function(
            lambda: count(
                select(func.count()).select_from(LabSession).where(LabSession.state.in_(RUNNING_STATES))
            )
        )
        users.set_function(lambda: count(select(func.count()).select_from(User)))

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
