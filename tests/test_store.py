"""The state store on SQLite and PostgreSQL: engines and migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from closedloop.runtime.errors import StoreError
from closedloop.store.engine import create_store_engine, describe_url, parse_url
from closedloop.store.migrate import current_revision, head_revision, upgrade


def test_upgrade_creates_the_schema_once(database_url: str) -> None:
    engine = create_store_engine(database_url)
    try:
        first = upgrade(engine)
        assert first.before is None
        assert first.after == head_revision()
        assert first.applied
        assert first.installation_id
        assert "installation" in inspect(engine).get_table_names()

        second = upgrade(engine)
        assert second.applied == ()
        assert second.before == second.after == head_revision()
        assert second.installation_id == first.installation_id
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM installation")).scalar_one() == 1
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'c.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        engine.dispose()


def test_plain_postgresql_urls_use_psycopg3() -> None:
    assert parse_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_describe_url_hides_the_password() -> None:
    assert "hunter2" not in describe_url("postgresql://u:hunter2@h/db")


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db"])
def test_bad_urls_are_store_errors(url: str) -> None:
    with pytest.raises(StoreError):
        parse_url(url)


def test_unreachable_database_is_a_store_error() -> None:
    engine = create_store_engine("postgresql://nobody:pw@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreError) as caught:
        upgrade(engine)
    assert "pw" not in str(caught.value).replace("upgrade", "")
    assert current_revision is not None
