"""The transactional outbox: every intended vendor write, durable until it is done or dead.

Table ``outbox`` (:mod:`closedloop.store.schema`). The engine enqueues writes in the same
transaction as the state change that caused them (pass ``connection``); a relay claims due
items, hands them to the connector as :class:`~closedloop.connectors.contract.RowWrite` and
reports each row back. ``push_key`` is UNIQUE and enqueueing is ``INSERT ... ON CONFLICT DO
NOTHING``, so scheduling the same change twice is a no-op (reliability.md §2).

Life of an item::

    pending --claim--> sending --complete--> done
       ^                  |
       |                  +--fail(retry_at)--> pending (due again at retry_at)
       |                  +--fail(None)------> dead --replay--> pending
       +--(a relay died while sending: verify on recovery, see below)

A ``sending`` row whose relay died is never re-sent blindly: the vendor may already have
applied it. :mod:`closedloop.sync.outbox_recovery` (called by every flush) reclaims rows whose
relay stopped refreshing them (a live relay touches its claims every few seconds), reads the
target records' current values, completes without writing the rows whose values are already
there, and puts only the others back to ``pending``. :meth:`Outbox.release_stale` is the blunt
tool for an operator who knows the writes did not happen.

Claims never hand one item to two workers: on PostgreSQL the due rows are selected ``FOR UPDATE
SKIP LOCKED`` and marked ``sending`` in the same statement; on SQLite the same statement runs
in a ``BEGIN IMMEDIATE`` transaction, so claims are serial. Each claim counts as an attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, Row, bindparam, func, or_, select, update

from closedloop.connectors.contract import RowResult, RowWrite, Value
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import outbox
from closedloop.sync.sql import begin_write, chunked, insert_ignoring, transaction

__all__ = ["Outbox", "OutboxItem", "OutboxState", "item_from_row"]

OutboxState = Literal["pending", "sending", "done", "dead"]


@dataclass(frozen=True, kw_only=True)
class OutboxItem:
    """One intended write.

    Attributes:
        push_key: the idempotency key (unique per intended change).
        system: the connector that writes it (``hubspot``, ``salesforce``).
        object_type: the vendor object.
        fields: vendor field name -> value (only changed fields).
        record_id: the vendor id when known; else ``match`` says what to upsert by.
        match: (unique field, value) to upsert by.
        person_id: the person the write is about, when there is one.
        run_id: the run that enqueued it.
        attempts: claims so far.
        last_error: why the last attempt failed.
        state: where the item is in its life (see the module docstring).
        next_attempt_at: when it is due.
        id: the row id (set on items read back).
    """

    push_key: str
    system: str
    object_type: str
    fields: dict[str, Value]
    record_id: str | None = None
    match: tuple[str, str] | None = None
    person_id: str | None = None
    run_id: int | None = None
    attempts: int = 0
    last_error: str | None = None
    state: OutboxState = "pending"
    next_attempt_at: datetime | None = None
    id: int | None = field(default=None, compare=False)

    def to_row_write(self) -> RowWrite:
        """The write as the connector contract takes it."""
        return RowWrite(
            push_key=self.push_key,
            object_type=self.object_type,
            fields=dict(self.fields),
            record_id=self.record_id,
            match=self.match,
        )


def item_from_row(row: Row[Any]) -> OutboxItem:
    """An item from its ``outbox`` table row."""
    match = None if row.match_field is None else (row.match_field, row.match_value or "")
    return OutboxItem(
        id=row.id,
        push_key=row.push_key,
        system=row.system,
        object_type=row.object_type,
        fields=dict(row.fields),
        record_id=row.record_id,
        match=match,
        person_id=row.person_id,
        run_id=row.run_id,
        attempts=row.attempts,
        last_error=row.last_error,
        state=row.state,
        next_attempt_at=row.next_attempt_at,
    )


class Outbox:
    """Enqueue, claim and settle intended writes.

    Args:
        engine: the state store.
        clock: the source of timestamps and of "due".
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def store(self) -> Engine:
        """The state store the outbox lives in."""
        return self._engine

    @property
    def clock(self) -> Clock:
        """The outbox's clock."""
        return self._clock

    def enqueue(self, items: Iterable[OutboxItem], connection: Connection | None = None) -> int:
        """Add items (due now, or at their ``next_attempt_at``); returns how many were new.

        An item whose push key is already in the outbox, in any state, is skipped. With
        ``connection`` the rows join the caller's transaction (the transactional outbox);
        otherwise the outbox commits them itself.
        """
        now = self._clock.now()
        added = 0
        with transaction(self._engine, connection) as conn:
            statement = insert_ignoring(outbox, conn, ["push_key"]).returning(outbox.c.id)
            for chunk in chunked(items):
                rows: dict[str, dict[str, Any]] = {}
                for item in chunk:  # the first of two items with one push key wins
                    rows.setdefault(item.push_key, self._row(item, now))
                added += len(conn.execute(statement, list(rows.values())).all())
        return added

    def claim(self, system: str, limit: int, now: datetime | None = None) -> list[OutboxItem]:
        """Take up to ``limit`` due pending items of ``system``, oldest first, as ``sending``.

        No other worker can claim them until they are settled or released.
        """
        moment = now or self._clock.now()
        due = (
            select(outbox.c.id)
            .where(
                outbox.c.state == "pending",
                outbox.c.system == system,
                outbox.c.next_attempt_at <= moment,
            )
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()))
            .values(state="sending", attempts=outbox.c.attempts + 1, updated_at=moment)
            .returning(*outbox.c)
        )
        with begin_write(self._engine) as conn:
            rows = conn.execute(statement).all()
        return sorted((item_from_row(row) for row in rows), key=lambda item: item.id or 0)

    def complete(self, ids_or_keys: Iterable[int | str], results: Iterable[RowResult] = ()) -> int:
        """Mark items done (by row id or push key); returns how many changed.

        ``results`` (the connector's, for those items) fill in the record id of rows that were
        created by an upsert.
        """
        keys = list(ids_or_keys)
        created = [
            {"b_key": r.push_key, "b_record": r.record_id} for r in results if r.ok and r.record_id
        ]
        now = self._clock.now()
        done = 0
        with begin_write(self._engine) as conn:
            for chunk in chunked(keys):
                ids = [key for key in chunk if isinstance(key, int)]
                push_keys = [key for key in chunk if isinstance(key, str)]
                # Only lists given: an empty IN in the OR made SQLite scan every pending row.
                wanted = [
                    c.in_(v) for c, v in ((outbox.c.id, ids), (outbox.c.push_key, push_keys)) if v
                ]
                result = conn.execute(
                    update(outbox)
                    .where(or_(*wanted))
                    .where(outbox.c.state.in_(["pending", "sending"]))
                    .values(state="done", last_error=None, updated_at=now)
                    .returning(outbox.c.id)
                )
                done += len(result.all())
            if created:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.push_key == bindparam("b_key"), outbox.c.record_id.is_(None))
                    .values(record_id=bindparam("b_record")),
                    created,
                )
        return done

    def fail(self, push_key: str, reason: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: due again at ``retry_at``, or dead when it is None."""
        values: dict[str, Any] = {"last_error": reason, "updated_at": self._clock.now()}
        if retry_at is None:
            values["state"] = "dead"
        else:
            values.update(state="pending", next_attempt_at=retry_at)
        with begin_write(self._engine) as conn:
            conn.execute(update(outbox).where(outbox.c.push_key == push_key).values(**values))

    def release_stale(self, older_than: datetime) -> int:
        """Put ``sending`` items untouched since ``older_than`` back to pending, unverified.

        Flushes recover abandoned rows by verifying them first
        (:mod:`closedloop.sync.outbox_recovery`); this re-sends them as they are.
        """
        with begin_write(self._engine) as conn:
            result = conn.execute(
                update(outbox)
                .where(outbox.c.state == "sending", outbox.c.updated_at < older_than)
                .values(state="pending", updated_at=self._clock.now())
            )
            return result.rowcount

    def dead_letters(self, limit: int = 100) -> list[OutboxItem]:
        """Dead items, oldest first, with their last error."""
        query = select(outbox).where(outbox.c.state == "dead").order_by(outbox.c.id).limit(limit)
        with self._engine.connect() as conn:
            return [item_from_row(row) for row in conn.execute(query)]

    def replay(self, push_key: str | None = None) -> int:
        """Make one dead item (or all) pending and due now, with fresh attempts."""
        statement = update(outbox).where(outbox.c.state == "dead")
        if push_key is not None:
            statement = statement.where(outbox.c.push_key == push_key)
        now = self._clock.now()
        with begin_write(self._engine) as conn:
            result = conn.execute(
                statement.values(state="pending", attempts=0, next_attempt_at=now, updated_at=now)
            )
            return result.rowcount

    def get(self, push_key: str) -> OutboxItem | None:
        """One item by push key."""
        with self._engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.push_key == push_key)).first()
        return None if row is None else item_from_row(row)

    def pending_count(self, system: str | None = None) -> int:
        """Items waiting to be sent (due or not)."""
        with self._engine.connect() as conn:
            return self._count(conn, "pending", system)

    def dead_count(self, system: str | None = None) -> int:
        """Items in the dead-letter list."""
        with self._engine.connect() as conn:
            return self._count(conn, "dead", system)

    @staticmethod
    def _count(conn: Connection, state: OutboxState, system: str | None = None) -> int:
        query = select(func.count()).select_from(outbox).where(outbox.c.state == state)
        if system is not None:
            query = query.where(outbox.c.system == system)
        return int(conn.execute(query).scalar_one())

    @staticmethod
    def _row(item: OutboxItem, now: datetime) -> dict[str, Any]:
        return {
            "push_key": item.push_key,
            "system": item.system,
            "object_type": item.object_type,
            "record_id": item.record_id,
            "match_field": item.match[0] if item.match else None,
            "match_value": item.match[1] if item.match else None,
            "fields": dict(item.fields),
            "person_id": item.person_id,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": item.next_attempt_at or now,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
            "run_id": item.run_id,
        }
