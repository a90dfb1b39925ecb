"""Fixtures for the bulk paths of a large run: a migrated store on each backend, a clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from closedloop.runtime.clock import ManualClock
from closedloop.store.engine import create_store_engine
from closedloop.store.migrate import upgrade

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def migrated(url: str) -> Engine:
    """A store at the newest schema."""
    store = create_store_engine(url)
    upgrade(store)
    return store


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The store at the newest schema, on SQLite and on PostgreSQL."""
    store = migrated(database_url)
    yield store
    store.dispose()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test says so."""
    return ManualClock(START)


@pytest.fixture
def reference_engine(tmp_path: Path) -> Iterator[Engine]:
    """A second, separate store (SQLite) to run the one-by-one reference on."""
    store = migrated(f"sqlite:///{tmp_path / 'reference.db'}")
    yield store
    store.dispose()
