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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Engine, Row, delete, func, select, update

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import webhook_inbox
from closedloop.sync.sql import begin_write, chunked
from closedloop.webhooks.inbox_rows import row_writer, writer_queue

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
        writer = row_writer(self._engine.dialect)
        statements = writer.statements(list(unique.values()), self._clock.now())
        if len(statements) == 1:  # one statement is its own transaction: commit and all
            sql, values = statements[0]
            with self._engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                with writer_queue(self._engine):
                    return int(conn.exec_driver_sql(sql, values).rowcount)
        added = 0
        with writer_queue(self._engine), begin_write(self._engine) as conn:
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

    def purge_done(self, older_than: datetime, chunk: int = 5000) -> int:
        """Delete events processed before ``older_than``; returns how many went.

        Done rows are kept for a while because their dedupe keys absorb redeliveries: senders
        retry for up to three days (Standard Webhooks' schedule), so ``serve`` keeps them for
        ``webhooks.done_retention_days`` (7). Dead events are never purged here: they wait for
        a replay. Deletes go in chunks, so the write lock is never held for long.
        """
        purged = 0
        while True:
            ids = (
                select(webhook_inbox.c.id)
                .where(webhook_inbox.c.state == "done", webhook_inbox.c.processed_at < older_than)
                .limit(chunk)
                .scalar_subquery()
            )
            with begin_write(self._engine) as conn:
                gone = int(
                    conn.execute(delete(webhook_inbox).where(webhook_inbox.c.id.in_(ids))).rowcount
                )
            purged += gone
            if gone < chunk:
                return purged

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
