"""The schema comes from the Alembic migrations and matches the models, on SQLite and PostgreSQL."""

from sqlalchemy import inspect, select

from sdnlab.classroom import accounts
from sdnlab.classroom import db as cdb


def test_migrations_create_every_model_table_with_its_columns(factory):
    engine = factory.kw["bind"]
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    for table in cdb.Base.metadata.tables.values():
        assert table.name in tables
        assert {c["name"] for c in insp.get_columns(table.name)} == {c.name for c in table.columns}
    assert "alembic_version" in tables


def test_migrating_twice_is_harmless_and_keeps_data(db_url):
    maker = cdb.open_database(db_url)
    with maker.begin() as db:
        accounts.add_user(db, accounts.check_new_user("alice", "correct horse", "trainee", "c1"))
    maker.kw["bind"].dispose()
    again = cdb.open_database(db_url)
    with again() as db:
        assert db.scalar(select(cdb.User.username)) == "alice"
        assert accounts.user_classes(db, db.scalar(select(cdb.User.id))) == ["c1"]
    again.kw["bind"].dispose()


def test_postgresql_urls_use_the_psycopg3_driver():
    assert cdb.normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert cdb.normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert cdb.normalise_url("sqlite:///x.db") == "sqlite:///x.db"
