"""Accounts: argon2 hashes, validated names and roles, CSV import checked as a whole, login limits."""

import pytest
from sqlalchemy import func, select

from sdnlab.classroom import accounts, security
from sdnlab.classroom.db import AuditEntry, LoginFailure, User
from sdnlab.classroom.errors import AccountError


def test_passwords_are_stored_as_argon2id_hashes_and_verified():
    stored = security.hash_password("s3cret-pass")
    assert stored.startswith("$argon2id$") and "s3cret-pass" not in stored
    assert security.verify_password(stored, "s3cret-pass")
    assert not security.verify_password(stored, "s3cret-pasS")
    assert not security.verify_password(None, "anything")
    assert not security.verify_password("not a hash", "anything")


@pytest.mark.parametrize(
    ("name", "password", "role", "problem"),
    [
        ("Alice", "longenough", "trainee", "username"),
        ("../x", "longenough", "trainee", "username"),
        ("alice", "short", "trainee", "password"),
        ("alice", "longenough", "root", "role"),
    ],
)
def test_bad_accounts_are_refused_naming_the_field(name, password, role, problem):
    with pytest.raises(AccountError, match=problem):
        accounts.check_new_user(name, password, role, None)


def test_adding_a_user_twice_is_refused_and_the_audit_log_records_the_add(factory):
    with factory.begin() as db:
        accounts.add_user(db, accounts.check_new_user("bob", "longenough", "instructor", None))
    with factory.begin() as db, pytest.raises(AccountError, match="exists already"):
        accounts.add_user(db, accounts.check_new_user("bob", "otherpass1", "trainee", None))
    with factory() as db:
        entries = db.scalars(select(AuditEntry.detail)).all()
        assert entries == ["bob role=instructor class=-"]


def test_csv_import_reports_every_bad_line_and_writes_nothing(factory):
    text = "username,password,role,class\nann,longenough,trainee,a1\nBAD,longenough,,a1\nann,x,trainee,a1\n"
    with pytest.raises(AccountError) as caught:
        accounts.parse_csv(text, "class.csv")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("class.csv: line 3: username 'BAD'")
    assert lines[1].startswith("class.csv: line 4: password of ann")
    with factory() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 0


def test_csv_import_creates_users_in_their_classes(factory):
    users = accounts.parse_csv("username,password,class\nann,longenough,a1\nben,longenough2,a1\n")
    with factory.begin() as db:
        accounts.import_users(db, users)
    with factory() as db:
        for name in ("ann", "ben"):
            user = db.scalar(select(User).where(User.username == name))
            assert user.role == "trainee"
            assert accounts.user_classes(db, user.id) == ["a1"]


def test_the_login_limiter_blocks_after_five_failures_within_the_window(factory):
    limiter = security.LoginLimiter(attempts=5, window=60)
    with factory.begin() as db:
        for i in range(5):
            assert limiter.retry_after(db, ["u:ann"], now=100 + i) == 0
            limiter.failed(db, ["u:ann"], now=100 + i)
    with factory.begin() as db:
        assert limiter.retry_after(db, ["u:ann"], now=105) == pytest.approx(55)
        assert limiter.retry_after(db, ["u:ben"], now=105) == 0
        assert limiter.retry_after(db, ["u:ann"], now=161) == 0
        limiter.failed(db, ["u:ann"], now=200)
    with factory.begin() as db:
        assert db.query(LoginFailure).count() == 1, "failures out of the window are deleted"
        limiter.succeeded(db, ["u:ann"])
    with factory() as db:
        assert db.query(LoginFailure).count() == 0


def test_two_limiters_on_one_database_share_the_count(factory, db_url):
    from sdnlab.classroom import db as cdb

    other = cdb.open_database(db_url)  # a second server replica: its own engine and pool
    try:
        limiter = security.LoginLimiter(attempts=5, window=60)
        for i in range(5):
            with (other if i % 2 else factory).begin() as db:
                limiter.failed(db, ["u:ann"], now=100 + i)
        for replica in (factory, other):
            with replica() as db:
                assert limiter.retry_after(db, ["u:ann"], now=105) == pytest.approx(55)
    finally:
        other.kw["bind"].dispose()
