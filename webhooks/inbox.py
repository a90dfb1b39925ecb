"""The durable webhook inbox: every accepted event, its processing state and dead letters.

Table ``webhook_inbox`` (:mod:`closedloop.store.schema`). The listener adds a request's events in
one transaction with ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` and answers the sender
only after that transaction committed, so an acknowledged event is never lost and a redelivered
one is never stored twice. Workers then claim due events, process them and settle each one.

Life of an event::

    pending --claim--> processing --complete--> done
       ^                   |
       |                   +--fail (attempts left)--> pending (due after a back-off)
       |                   +--fail (no attempts left)--> dead --replay--> pending
       +--release_stale (the worker holding the claim died)

A live worker refreshes its claims (:meth:`Inbox.touch`) every few seconds while it works, so a
claim untouched for a minute belongs to a process that was killed; :meth:`Inbox.release_stale`
makes such events due again. Re-processing is harmless: it re-reads the records, and writes
already applied are found there (see :mod:`closedloop.sync.outbox_recovery`).

Claims never hand one event to two workers: on PostgreSQL the due rows are selected ``FOR UPDATE
SKIP LOCKED`` and marked ``processing`` in the same statement; on SQLite the same conditional
``UPDATE`` runs in a ``BEGIN IMMEDIATE`` transaction, so claims are serial. Each claim counts as
an attempt.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import Any, Literal
from weakref import WeakKeyDictionary

from sqlalchemy import Dialect, Engine, Row, func, select, update

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import webhook_inbox
from closedloop.sync.sql import begin_write, chunked

__all__ = ["Inbox", "InboxEvent", "InboxState", "StoredEvent", "backoff_seconds"]

InboxState = Literal["pending", "processing", "done", "dead"]
BACKOFF_BASE_SECONDS = 5.0
BACKOFF_CAP_SECONDS = 3600.0


def backoff_seconds(attempts: int) -> float:
    """Delay before the next try after ``attempts`` failed ones: 5 s, 10 s, 20 s ... at most 1 h."""
    return float(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True, kw_only=True)
class InboxEvent:
    """One event to store, as parsed from a request (never the raw body or its headers).

    Attributes:
        source: the endpoint that received it (``hubspot``, ``salesforce_outbound``, ...).
        dedupe_key: identical for every delivery of the same event (UNIQUE in the table).
        system: the vendor system the record lives in (``hubspot``, ``salesforce``).
        object_type: the vendor object (``contacts``, ``Lead``, ``Opportunity`` ...).
        record_id: the record the event is about.
        event_type: what happened (``contact.propertyChange``, ``outbound_message`` ...).
        occurred_at: when it happened, when the sender says so.
        payload: the parsed event as JSON.
    """

    source: str
    dedupe_key: str
    system: str
    object_type: str
    record_id: str
    event_type: str
    occurred_at: datetime | None
    payload: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class StoredEvent(InboxEvent):
    """An event read back from the inbox, with its processing state."""

    id: int
    state: InboxState
    attempts: int
    received_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    processed_at: datetime | None


def _stored(row: Row[Any]) -> StoredEvent:
    values = row._mapping
    return StoredEvent(**{k: values[k] for k in values if k != "claimed_at"})


class Inbox:
    """Reads and writes the ``webhook_inbox`` table.

    Args:
        engine: the state store.
        clock: the source of timestamps and of "due".
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def add(self, events: Sequence[InboxEvent]) -> int:
        """Store ``events`` in one committed transaction; returns how many were new.

        An event whose dedupe key is already stored (in any state) is skipped, as is the
        second of two events with one key in ``events``.

        The rows go in with ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING`` at the driver
        level (multi-row ``VALUES`` on SQLite, ``SELECT ... FROM unnest(arrays)`` on
        PostgreSQL), their values converted beforehand by the columns' own bind processors: they
        are stored exactly as through SQLAlchemy Core, without its per-row cost. A single
        statement (any batch a webhook delivers) runs autocommitted: it is its own transaction,
        committed when it returns, so the write lock is held for one database call. On SQLite
        the listener's threads queue for that lock in-process rather than in SQLite's busy
        handler, which sleeps up to 100 ms per try.
        """
        if not events:
            return 0
        unique: dict[str, InboxEvent] = {}
        for event in events:
            unique.setdefault(event.dedupe_key, event)
        writer = _row_writer(self._engine.dialect)
        statements = writer.statements(list(unique.values()), self._clock.now())
        if len(statements) == 1:  # one statement is its own transaction: commit and all
            sql, values = statements[0]
            with self._engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                with _writer_queue(self._engine):
                    return int(conn.exec_driver_sql(sql, values).rowcount)
        added = 0
        with _writer_queue(self._engine), begin_write(self._engine) as conn:
            for sql, values in statements:
                added += conn.exec_driver_sql(sql, values).rowcount
        return added

    def claim(self, limit: int, ids: Iterable[int] | None = None) -> list[StoredEvent]:
        """Take up to ``limit`` due pending events (only ``ids``, if given) as ``processing``."""
        now = self._clock.now()
        due = select(webhook_inbox.c.id).where(webhook_inbox.c.state == "pending")
        if ids is not None:
            due = due.where(webhook_inbox.c.id.in_(list(ids)))
        else:
            due = due.where(webhook_inbox.c.next_attempt_at <= now)
        due = due.order_by(webhook_inbox.c.id).limit(limit).with_for_update(skip_locked=True)
        statement = (
            update(webhook_inbox)
            .where(webhook_inbox.c.id.in_(due.scalar_subquery()))
            .where(webhook_inbox.c.state == "pending")
            .values(state="processing", attempts=webhook_inbox.c.attempts + 1, claimed_at=now)
            .returning(*webhook_inbox.c)
        )
        with begin_write(self._engine) as conn:
            rows = conn.execute(statement).all()
        return sorted((_stored(row) for row in rows), key=lambda event: event.id)

    def touch(self, ids: Iterable[int]) -> int:
        """Refresh the claims on ``ids`` still ``processing``: their worker is alive."""
        now = self._clock.now()
        touched = 0
        with begin_write(self._engine) as conn:
            for chunk in chunked(ids):
                statement = (
                    update(webhook_inbox)
                    .where(webhook_inbox.c.id.in_(chunk), webhook_inbox.c.state == "processing")
                    .values(claimed_at=now)
                )
                touched += conn.execute(statement).rowcount
        return touched

    def complete(self, ids: Iterable[int], note: str | None = None) -> int:
        """Mark claimed events done (``note`` says why nothing had to be done, if so)."""
        now = self._clock.now()
        done = 0
        with begin_write(self._engine) as conn:
            for chunk in chunked(ids):
                result = conn.execute(
                    update(webhook_inbox)
                    .where(webhook_inbox.c.id.in_(chunk), webhook_inbox.c.state == "processing")
                    .values(state="done", processed_at=now, last_error=note, claimed_at=None)
                )
                done += result.rowcount
        return done

    def fail(self, event: StoredEvent, reason: str, max_attempts: int) -> InboxState:
        """Record a failed attempt: due again after a back-off, or dead when none are left."""
        now = self._clock.now()
        values: dict[str, Any] = {"last_error": reason[:2000], "claimed_at": None}
        if event.attempts >= max_attempts:
            values.update(state="dead", processed_at=now)
        else:
            delay = timedelta(seconds=backoff_seconds(event.attempts))
            values.update(state="pending", next_attempt_at=now + delay)
        with begin_write(self._engine) as conn:
            conn.execute(
                update(webhook_inbox)
                .where(webhook_inbox.c.id == event.id, webhook_inbox.c.state == "processing")
                .values(**values)
            )
        state: InboxState = values["state"]
        return state

    def release_stale(self, older_than: datetime, max_attempts: int) -> int:
        """Settle claims held since before ``older_than`` (their worker died): retry or dead."""
        stale = (webhook_inbox.c.state == "processing", webhook_inbox.c.claimed_at < older_than)
        now = self._clock.now()
        with begin_write(self._engine) as conn:
            dead = conn.execute(
                update(webhook_inbox)
                .where(*stale, webhook_inbox.c.attempts >= max_attempts)
                .values(
                    state="dead",
                    processed_at=now,
                    claimed_at=None,
                    last_error="the worker stopped while processing it, on every attempt",
                )
            ).rowcount
            retried = conn.execute(
                update(webhook_inbox)
                .where(*stale)
                .values(state="pending", next_attempt_at=now, claimed_at=None)
            ).rowcount
        return int(dead) + int(retried)

    def replay(self, event_id: int | None = None) -> list[int]:
        """Make one dead event (or all) pending and due now, with fresh attempts; their ids."""
        statement = update(webhook_inbox).where(webhook_inbox.c.state == "dead")
        if event_id is not None:
            statement = statement.where(webhook_inbox.c.id == event_id)
        now = self._clock.now()
        with begin_write(self._engine) as conn:
            result = conn.execute(
                statement.values(
                    state="pending", attempts=0, next_attempt_at=now, processed_at=None
                ).returning(webhook_inbox.c.id)
            )
            return sorted(result.scalars())

    def get(self, event_id: int) -> StoredEvent | None:
        """One event by id."""
        with self._engine.connect() as conn:
            row = conn.execute(select(webhook_inbox).where(webhook_inbox.c.id == event_id)).first()
        return None if row is None else _stored(row)

    def events(self, state: InboxState | None = None, limit: int = 1000) -> list[StoredEvent]:
        """Events (in ``state``, if given), oldest first."""
        query = select(webhook_inbox).order_by(webhook_inbox.c.id).limit(limit)
        if state is not None:
            query = query.where(webhook_inbox.c.state == state)
        with self._engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def counts(self) -> dict[str, int]:
        """Events per state (every state present, zero when empty)."""
        query = select(webhook_inbox.c.state, func.count()).group_by(webhook_inbox.c.state)
        counts = dict.fromkeys(("pending", "processing", "done", "dead"), 0)
        with self._engine.connect() as conn:
            counts.update({state: int(n) for state, n in conn.execute(query).all()})
        return counts


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
def _row_writer(dialect: Dialect) -> _RowWriter:
    return _RowWriter(dialect)


_sqlite_write_locks: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_sqlite_write_locks_guard = threading.Lock()


def _writer_queue(engine: Engine) -> AbstractContextManager[object]:
    """SQLite: this engine's in-process write lock (one writer at a time anyway); else none."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _sqlite_write_locks_guard:
        lock = _sqlite_write_locks.get(engine)
        if lock is None:
            lock = _sqlite_write_locks[engine] = threading.Lock()
    return lock
