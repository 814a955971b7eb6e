"""The warm pool: sandboxes started ahead, handed to trainees' starts, counted against the cap, cleaned.

Real database (SQLite and PostgreSQL), real workspace sandboxes (files copied from the lab's
starter, graded statically); live lab networks: tests/integration/classroom/test_sandboxes.py
and bench/classroom.
"""

import time

import pytest

from sdnlab.classroom.errors import ClassroomError
from sdnlab.classroom.pool import WarmPool, parse_targets

from .conftest import PASSWORD, USERS, Room

LABS = ["static_flows", "l2_learning", "smart_meters"]


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def pooled(factory, tmp_path):
    """A classroom whose server keeps two warm sandboxes of static_flows, with a cap of 3 sandboxes."""
    from fastapi.testclient import TestClient

    from sdnlab.classroom import accounts
    from sdnlab.classroom.app import Settings, create_app
    from sdnlab.classroom.runner import LocalRunner

    with factory.begin() as db:
        for name, (role, group) in USERS.items():
            accounts.add_user(db, accounts.check_new_user(name, PASSWORD + name, role, group))
    backend = LocalRunner(tmp_path / "sandboxes", network=False)
    backend.start("utwleft0ver", "static_flows")  # a pool sandbox a crashed server left behind
    settings = Settings(max_sandboxes=3, sandbox_prefix="ut", warm={"static_flows": 2}, warm_every_s=0.02)
    app = create_app(factory, backend, settings)
    with TestClient(app) as base:
        yield Room(app, base, backend)


def test_warm_targets_are_lab_equals_count_and_bad_items_are_named():
    assert parse_targets("static_flows=4, smart_meters=0", LABS) == {"static_flows": 4, "smart_meters": 0}
    assert parse_targets("", LABS) == {}
    for text, named in (
        ("static_flows", "give LAB=N"),
        ("static_flows=-1", "give LAB=N"),
        ("nolab=2", "no lab 'nolab'"),
        ("static_flows=999", "at most 200"),
    ):
        with pytest.raises(ClassroomError, match=named):
            parse_targets(text, LABS)


def test_the_server_fills_the_pool_and_a_start_takes_a_warm_sandbox(pooled):
    room = pooled.room
    assert wait_for(lambda: room.pool.ready("static_flows") == 2)
    assert "utwleft0ver" not in pooled.backend.sandboxes(), "reconcile stopped a pool sandbox left behind"
    warm = set(pooled.backend.sandboxes())
    assert len(warm) == 2 and all(name.startswith("utw") for name in warm)
    ann = pooled.login("ann")
    started = ann.post("/api/labs/static_flows/start").json()
    assert started["state"] == "running" and started["sandbox"] in warm
    files = [f["path"] for f in ann.get("/api/session/files").json()["files"]]
    assert files == ["flows/s1.flows", "flows/s2.flows", "flows/s3.flows"], "the starter, as a cold start"
    assert ann.post("/api/session/check").status_code == 200
    assert wait_for(lambda: room.pool.ready("static_flows") == 2), "the pool refills behind the hit"
    metrics = pooled.base.get("/metrics").text
    assert 'classroom_pool_takes_total{outcome="hit"} 1.0' in metrics
    assert 'classroom_pool_ready{lab="static_flows"} 2.0' in metrics
    assert 'classroom_pool_target{lab="static_flows"} 2.0' in metrics


def test_a_lab_without_warm_sandboxes_starts_cold_and_counts_a_miss(pooled):
    assert wait_for(lambda: pooled.room.pool.ready("static_flows") == 2)
    ann = pooled.login("ann")
    started = ann.post("/api/labs/l2_learning/start").json()
    assert started["state"] == "running" and started["sandbox"] == f"ut{started['id']}"
    assert 'classroom_pool_takes_total{outcome="miss"} 1.0' in pooled.base.get("/metrics").text


def test_pool_sandboxes_count_against_the_cap_and_give_way_to_starts(pooled):
    room = pooled.room
    assert wait_for(lambda: room.pool.ready("static_flows") == 2)
    ann, ben, ivy = (pooled.login(name) for name in ("ann", "ben", "ivy"))
    assert ann.post("/api/labs/l2_learning/start").status_code == 200  # 1 session + 2 warm = the cap
    assert room.pool.size() == 2 and room.free_places() == 0 and room.reserve_fill() is None
    assert ben.post("/api/labs/l2_learning/start").status_code == 200, "a warm sandbox made way"
    assert room.pool.ready("static_flows") == 1
    assert ivy.post("/api/labs/static_flows/start").status_code == 200, "the last warm one is taken"
    assert room.pool.size() == 0 and room.active_sessions() == 3
    full = pooled.login("ada").post("/api/labs/static_flows/start")
    assert full.status_code == 503 and "class is full" in full.json()["error"]
    assert len(pooled.backend.sandboxes()) == 3, "never more sandboxes than the cap"


def test_an_exam_task_counts_the_pool_against_the_cap_and_a_warm_sandbox_makes_way(pooled):
    """An exam task's sandbox (its own variant: never a warm one) is admitted by the same rule as a
    lab start (it counted only sessions: one more sandbox than the cap)."""
    from .test_exams import schedule

    room = pooled.room
    assert wait_for(lambda: room.pool.ready("static_flows") == 2)
    ann, ben, ivy = (pooled.login(name) for name in ("ann", "ben", "ivy"))
    assert ben.post("/api/labs/l2_learning/start").status_code == 200  # 1 session + 2 warm = the cap
    made = schedule(ivy)
    answer = ann.post(f"/api/exams/{made['id']}/start")  # its first task is static_flows, a variant
    assert answer.status_code == 200, answer.text
    assert room.pool.size() == 1 and room.active_sessions() == 2, "a warm sandbox made way"
    assert len(pooled.backend.sandboxes()) == 3, "never more sandboxes than the cap"


def test_a_trainee_never_reaches_a_pool_sandbox_before_it_is_hers(pooled):
    assert wait_for(lambda: pooled.room.pool.ready("static_flows") == 2)
    ann = pooled.login("ann")
    assert ann.get("/api/session").status_code == 409
    for sandbox in pooled.backend.sandboxes():
        assert ann.get(f"/api/session/files/{sandbox}").status_code == 409
    with pooled.room.factory() as db:
        from sdnlab.classroom.db import LabSession

        assert db.query(LabSession).count() == 0, "pool sandboxes have no session row"


def test_server_shutdown_stops_the_pool_sandboxes_but_not_the_trainees(factory, tmp_path):
    from fastapi.testclient import TestClient

    from sdnlab.classroom import accounts
    from sdnlab.classroom.app import Settings, create_app
    from sdnlab.classroom.runner import LocalRunner

    with factory.begin() as db:
        accounts.add_user(db, accounts.check_new_user("ann", PASSWORD + "ann", "trainee", None))
    backend = LocalRunner(tmp_path / "sandboxes", network=False)
    settings = Settings(max_sandboxes=5, sandbox_prefix="ut", warm={"static_flows": 2}, warm_every_s=0.02)
    app = create_app(factory, backend, settings)
    with TestClient(app) as base:
        room = Room(app, base, backend)
        assert wait_for(lambda: room.room.pool.ready("static_flows") == 2)
        mine = room.login("ann").post("/api/labs/static_flows/start").json()["sandbox"]
        assert wait_for(lambda: room.room.pool.ready("static_flows") == 2)
    assert backend.sandboxes() == [mine]


class FailingBackend:
    """A backend whose starts fail: the pool counts the failures and keeps no sandbox."""

    def __init__(self):
        self.stopped = []

    def start(self, sandbox, lab_id, **_labels):
        raise ClassroomError(f"lab {lab_id} did not start")

    def stop(self, sandbox):
        self.stopped.append(sandbox)


def test_a_failed_fill_is_counted_cleaned_and_keeps_nothing():
    pool = WarmPool(FailingBackend(), {"static_flows": 1}, "ut")  # type: ignore[arg-type]
    assert pool.fill_one() is None
    assert pool.failures == 1 and pool.size() == 0
    assert pool.backend.stopped and pool.backend.stopped[0].startswith("utw")
    assert pool.take("static_flows") is None and pool.misses == 1


def test_the_pool_is_not_refilled_while_a_trainee_s_lab_is_being_graded(pooled):
    room = pooled.room
    assert wait_for(lambda: room.pool.ready("static_flows") == 2)
    ann = pooled.login("ann")
    with room.grading():
        assert ann.post("/api/labs/static_flows/start").status_code == 200  # a hit: the pool wants one
        assert room.free_places() == 1 and room.reserve_fill() is None
        time.sleep(0.3)
        assert room.pool.ready("static_flows") == 1 and room.pool.starting() == 0
    assert wait_for(lambda: room.pool.ready("static_flows") == 2), "refilled once the grading ended"
