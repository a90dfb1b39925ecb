"""Fixtures for the sync engine's durable state: a migrated store on each backend, a clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from closedloop.runtime.clock import ManualClock
from closedloop.store.engine import create_store_engine
from closedloop.store.migrate import upgrade
from closedloop.sync.touchpoints import Touchpoint

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The store at the newest schema, on SQLite and on PostgreSQL."""
    store = create_store_engine(database_url)
    upgrade(store)
    yield store
    store.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test says so."""
    return ManualClock(START)


@pytest.fixture
def make_touch() -> Callable[..., Touchpoint]:
    """Build a touch ``minutes`` after START (other fields as keyword arguments)."""

    def make(minutes: float = 0, **fields: object) -> Touchpoint:
        values: dict[str, object] = {
            "origin": "collector",
            "utm_source": "google",
            "utm_medium": "cpc",
            "landing_page": "https://example.com/pricing",
            "channel": "Paid Search",
        }
        values.update(fields)
        return Touchpoint(occurred_at=START + timedelta(minutes=minutes), **values)  # type: ignore[arg-type]

    return make
