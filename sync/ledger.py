"""The touchpoint ledger: every distinct marketing touch of every person.

Table ``touchpoints`` (:mod:`closedloop.store.schema`). A touch is identified by its
:func:`~closedloop.sync.touchpoints.touch_key` within its person: ``UNIQUE(person_id,
touch_key)`` and ``INSERT ... ON CONFLICT DO NOTHING`` make a touch seen twice (a webhook
redelivered, the collector and a CRM import reporting one click) a harmless no-op. The key is
unique per person, not globally, because it carries no personal data: two people arriving on the
same page from the same referrer in the same minute produce the same key and must both keep
their touch. A merge (:mod:`closedloop.sync.identity`) moves touches to the survivor and drops
the ones it already had.

Touches are written in chunks of 2,000, one transaction each, with
one executemany ``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` (SQLAlchemy batches it into
multi-row statements); the returned ids count the new touches exactly. Person ids of merged-away
people are followed to their survivor first, with the people rows share-locked on PostgreSQL so
a concurrent merge cannot strand new touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import people, touchpoints
from closedloop.sync import people as people_sql
from closedloop.sync.sql import begin_write, chunked, insert_ignoring
from closedloop.sync.touchpoints import Touchpoint, touch_key

__all__ = ["TouchLedger"]

_BATCH = 2_000
"""Touches per transaction in :meth:`TouchLedger.add_many`."""
_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


class TouchLedger:
    """Record touches against people and read them back in order.

    Args:
        engine: the state store.
        clock: the source of ``created_at`` (when a touch was recorded).
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def add(self, person_id: str, touches: Iterable[Touchpoint]) -> int:
        """Record ``touches`` of one person; returns how many were new.

        Raises:
            sqlalchemy.exc.IntegrityError: ``person_id`` is not a person.
        """
        return self.add_many((person_id, touch) for touch in touches)

    def add_many(self, items: Iterable[tuple[str, Touchpoint]]) -> int:
        """Record (person id, touch) pairs of any number of people; returns how many were new.

        Streams ``items`` in chunks, one transaction per chunk.

        Raises:
            sqlalchemy.exc.IntegrityError: a person id is not a person.
        """
        inserted = 0
        for chunk in chunked(items, _BATCH):
            now = self._clock.now()
            rows: dict[tuple[str, str], dict[str, Any]] = {}
            for person_id, touch in chunk:
                key = touch_key(touch)
                rows.setdefault((person_id, key), _row(person_id, key, touch, now))
            with begin_write(self._engine) as conn:
                survivors = self._survivors(conn, {person for person, _ in rows})
                unique: dict[tuple[str, str], dict[str, Any]] = {}
                for (person_id, key), row in rows.items():
                    row["person_id"] = survivors.get(person_id, person_id)
                    unique.setdefault((row["person_id"], key), row)
                statement = insert_ignoring(touchpoints, conn, ["person_id", "touch_key"])
                result = conn.execute(statement.returning(touchpoints.c.id), list(unique.values()))
                inserted += len(result.all())
        return inserted

    def touches_of(self, person_id: str, until: datetime | None = None) -> list[Touchpoint]:
        """The person's touches (at or before ``until``), ordered by (time, touch key)."""
        with self._engine.connect() as conn:
            target = people_sql.survivor(conn, person_id)
            query = select(touchpoints).where(touchpoints.c.person_id == target)
            if until is not None:
                query = query.where(touchpoints.c.occurred_at <= until)
            query = query.order_by(touchpoints.c.occurred_at, touchpoints.c.touch_key)
            return [_touch(row) for row in conn.execute(query)]

    def touches_by_person(
        self, person_ids: Iterable[str], until: datetime | None = None
    ) -> dict[str, list[Touchpoint]]:
        """:meth:`touches_of` for many people at once (ids as stored; no merge following)."""
        found: dict[str, list[Touchpoint]] = {}
        with self._engine.connect() as conn:
            for chunk in chunked(dict.fromkeys(person_ids)):
                query = select(touchpoints).where(touchpoints.c.person_id.in_(chunk))
                if until is not None:
                    query = query.where(touchpoints.c.occurred_at <= until)
                query = query.order_by(
                    touchpoints.c.person_id, touchpoints.c.occurred_at, touchpoints.c.touch_key
                )
                for row in conn.execute(query):
                    found.setdefault(row.person_id, []).append(_touch(row))
        return found

    def count(self) -> int:
        """How many touches the ledger holds."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(touchpoints)).scalar_one())

    def people_with_touches_since(self, moment: datetime) -> list[str]:
        """People with a touch *recorded* at or after ``moment``, sorted.

        Recording time, not the touch's own time: a late-arriving old touch can still change a
        person's first touch. Touches moved by a merge keep their recording time; the merge
        itself tells the engine to restamp the survivor.
        """
        query = (
            select(touchpoints.c.person_id)
            .where(touchpoints.c.created_at >= moment)
            .distinct()
            .order_by(touchpoints.c.person_id)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _survivors(self, conn: Connection, person_ids: Iterable[str]) -> dict[str, str]:
        """Map merged-away person ids to their survivors (share-locking the rows on PostgreSQL)."""
        query = (
            select(people.c.person_id, people.c.merged_into)
            .where(people.c.person_id.in_(list(person_ids)), people.c.merged_into.is_not(None))
            .with_for_update(read=True)
        )
        return {
            row.person_id: people_sql.survivor(conn, row.merged_into) for row in conn.execute(query)
        }


def _row(person_id: str, key: str, touch: Touchpoint, now: datetime) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "touch_key": key,
        "occurred_at": touch.occurred_at,
        **{name: getattr(touch, name) for name in _UTM},
        "click_ids": dict(touch.click_ids),
        "landing_page": touch.landing_page,
        "referrer": touch.referrer,
        "channel": touch.channel,
        "origin": touch.origin,
        "external_id": touch.external_id,
        "created_at": now,
    }


def _touch(row: Row[Any]) -> Touchpoint:
    values: Sequence[str | None] = [getattr(row, name) for name in _UTM]
    return Touchpoint(
        occurred_at=row.occurred_at,
        origin=row.origin,
        utm_source=values[0],
        utm_medium=values[1],
        utm_campaign=values[2],
        utm_term=values[3],
        utm_content=values[4],
        click_ids=dict(row.click_ids or {}),
        landing_page=row.landing_page,
        referrer=row.referrer,
        channel=row.channel,
        external_id=row.external_id,
    )
