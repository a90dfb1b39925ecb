"""Migration 0002 creates exactly the tables in store/schema.py; timestamps stay UTC-aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import StatementError

from closedloop.store.migrate import _alembic_config, head_revision, upgrade
from closedloop.store.schema import metadata, people

SYNC_TABLES = {
    "people",
    "identities",
    "touchpoints",
    "shadow_records",
    "field_decisions",
    "outbox",
    "watermarks",
    "runs",
}


def _diffs(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_upgraded_schema_matches_the_metadata(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= SYNC_TABLES
    assert _diffs(engine) == []


def test_downgrade_drops_the_tables_and_upgrade_restores_them(engine: Engine) -> None:
    config = _alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert not SYNC_TABLES & set(inspect(engine).get_table_names())
    missing = {diff[1].name for diff in _diffs(engine) if diff[0] == "add_table"}  # type: ignore[index]
    assert missing >= SYNC_TABLES
    applied = upgrade(engine).applied
    assert applied[0] == "0002"
    assert applied[-1] == head_revision()
    assert _diffs(engine) == []


def test_timestamps_come_back_in_utc_and_compare_by_instant(engine: Engine) -> None:
    paris = timezone(timedelta(hours=1))
    early = datetime(2026, 1, 1, 12, 0, tzinfo=paris)  # 11:00 UTC
    late = datetime(2026, 1, 1, 11, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(people),
            [
                {"person_id": "early", "created_at": early},
                {"person_id": "late", "created_at": late},
            ],
        )
    with engine.connect() as conn:
        stored = dict(conn.execute(select(people.c.person_id, people.c.created_at)).all())
        after = conn.execute(
            select(people.c.person_id).where(
                people.c.created_at > datetime(2026, 1, 1, 12, 15, tzinfo=paris)
            )
        ).scalars()
        assert list(after) == ["late"]
    assert stored["early"] == early
    assert stored["early"].tzinfo == UTC
    assert stored["late"] == late


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(
            insert(people).values(person_id="p", created_at=datetime(2026, 1, 1))  # noqa: DTZ001
        )
