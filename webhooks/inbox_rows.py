"""How the listener's inbox rows are written: one driver-level INSERT per batch.

:class:`~closedloop.webhooks.inbox.Inbox` adds a request's events with a single
``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` (multi-row ``VALUES`` on SQLite; ``SELECT ...
FROM unnest(arrays)`` on PostgreSQL), its values converted beforehand by the columns' own bind
processors, so rows are stored exactly as through SQLAlchemy Core without its per-row cost.
SQLite writers of one process queue on an in-process lock (:func:`writer_queue`) rather than in
SQLite's busy handler, which sleeps up to 100 ms per try.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Dialect, Engine

from closedloop.store.schema import webhook_inbox
from closedloop.sync.sql import chunked

if TYPE_CHECKING:
    from closedloop.webhooks.inbox import InboxEvent

__all__ = ["row_writer", "writer_queue"]

# Columns the listener fills per event; the rest are constants (state, attempts) or NULL.
_PER_EVENT = ("source", "dedupe_key", "system", "object_type", "record_id", "event_type")
_INTO = (
    f"INSERT INTO {webhook_inbox.name} ({', '.join(_PER_EVENT)}, occurred_at, payload,"
    " received_at, next_attempt_at, state, attempts)"
)
_per_event = attrgetter(*_PER_EVENT)
_ON_CONFLICT = "ON CONFLICT (dedupe_key) DO NOTHING"
# PostgreSQL: one array per column, unnested in batch order; one short statement for any
# number of rows, which psycopg caches and prepares.
_UNNEST = ", ".join(["%b::text[]"] * len(_PER_EVENT) + ["%b::timestamptz[]", "%b::json[]"])
_BATCH = f"{', '.join(_PER_EVENT)}, occurred_at, payload"
_SELECT = f"SELECT {_BATCH}, %s, %s, 'pending', 0"
_FROM = f"FROM unnest({_UNNEST}) WITH ORDINALITY AS batch({_BATCH}, position) ORDER BY position"
_POSTGRESQL_INSERT = f"{_INTO} {_SELECT} {_FROM} {_ON_CONFLICT}"
# 10 parameters a row: at most 999 per statement before SQLite 3.32, 32766 since.
_SQLITE_ROWS_PER_INSERT = 3000 if sqlite3.sqlite_version_info >= (3, 32) else 90


class _RowWriter:
    """Turns events into INSERT statements with driver-level parameters for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self._postgresql = dialect.name == "postgresql"
        self._stamp = _processor(dialect, "received_at")
        self._occurred = _processor(dialect, "occurred_at")
        self._payload = _processor(dialect, "payload")
        self._sqlite_inserts: dict[int, str] = {}

    def statements(
        self, events: Sequence[InboxEvent], now: datetime
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """The statements inserting ``events`` (received ``now``), skipping stored dedupe keys."""
        stamp, occurred, payload = self._stamp(now), self._occurred, self._payload
        rows = [(*_per_event(e), occurred(e.occurred_at), payload(e.payload)) for e in events]
        if self._postgresql:
            return [(_POSTGRESQL_INSERT, (stamp, stamp, *map(list, zip(*rows, strict=True))))]
        statements = []
        for chunk in chunked(rows, _SQLITE_ROWS_PER_INSERT):
            values = tuple(value for row in chunk for value in (*row, stamp, stamp))
            statements.append((self._sqlite_insert(len(chunk)), values))
        return statements

    def _sqlite_insert(self, rows: int) -> str:
        statement = self._sqlite_inserts.get(rows)
        if statement is None:
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)"] * rows)
            statement = self._sqlite_inserts[rows] = f"{_INTO} VALUES {values} {_ON_CONFLICT}"
        return statement


def _processor(dialect: Dialect, column: str) -> Callable[[Any], Any]:
    """The bind processor SQLAlchemy applies to ``column`` on ``dialect`` (identity if none)."""
    processor = webhook_inbox.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return processor or (lambda value: value)


@lru_cache(maxsize=8)
def row_writer(dialect: Dialect) -> _RowWriter:
    """The (cached) statement builder for ``dialect``."""
    return _RowWriter(dialect)


_sqlite_write_locks: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_sqlite_write_locks_guard = threading.Lock()


def writer_queue(engine: Engine) -> AbstractContextManager[object]:
    """SQLite: this engine's in-process write lock (one writer at a time anyway); else none."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _sqlite_write_locks_guard:
        lock = _sqlite_write_locks.get(engine)
        if lock is None:
            lock = _sqlite_write_locks[engine] = threading.Lock()
    return lock
