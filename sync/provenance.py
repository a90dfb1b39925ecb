"""Provenance: every decision the sync engine made about one field of one record.

Table ``field_decisions`` (:mod:`closedloop.store.schema`). One row per (record, field) decision:
the value chosen and the one it replaced, the ownership rule and the source that decided it, and
the outcome: ``written`` (sent), ``refused`` (a rule kept the old value, e.g. first touch is
written once), ``unchanged`` (the shadow state already held it) or ``planned`` (a dry run). This
is what ``closedloop explain`` shows, so every write can be traced to its source and rule.

Values are stored as JSON; datetimes become ISO 8601 text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Engine, Row, insert, select

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import field_decisions, people
from closedloop.sync import people as people_sql
from closedloop.sync.model import RecordRef
from closedloop.sync.sql import begin_write, chunked

__all__ = ["OUTCOMES", "FieldDecisionRow", "Outcome", "ProvenanceLog"]

Outcome = Literal["written", "refused", "unchanged", "planned"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass(frozen=True, kw_only=True)
class FieldDecisionRow:
    """One decision about one field of one record.

    Attributes:
        system: the vendor system (``hubspot``, ``salesforce``).
        object_type: the vendor object (``contacts``, ``Lead``...).
        record_id: the vendor id; None for a record not created yet (an upsert by match).
        field: the vendor field name.
        outcome: ``written``, ``refused``, ``unchanged`` or ``planned``.
        person_id: the person the record stands for, when known.
        canonical: the canonical field it maps from (``first_touch_source``...).
        value: the value decided on (what was or would be written).
        previous: the value it replaced (or that was kept, when refused).
        rule: the ownership rule that decided (``write_once``, ``overwrite``...).
        source: where the value came from (``touchpoints``, ``crm``, ``revenue``...).
        reason: why, in words, for refusals and anything surprising.
        run_id: the run that decided it.
        decided_at: when; the clock's now when left out.
        id: the stored row's id (set on rows read back).
    """

    system: str
    object_type: str
    record_id: str | None
    field: str
    outcome: Outcome
    person_id: str | None = None
    canonical: str | None = None
    value: Any = None
    previous: Any = None
    rule: str | None = None
    source: str | None = None
    reason: str | None = None
    run_id: int | None = None
    decided_at: datetime | None = None
    id: int | None = None

    @property
    def ref(self) -> RecordRef | None:
        """The record, when it has an id."""
        if self.record_id is None:
            return None
        return RecordRef(self.system, self.object_type, self.record_id)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


_COLUMNS = (
    "person_id",
    "system",
    "object_type",
    "record_id",
    "field",
    "canonical",
    "rule",
    "source",
    "outcome",
    "reason",
    "run_id",
)


class ProvenanceLog:
    """Record field decisions and read a person's or a record's history.

    Args:
        engine: the state store.
        clock: the default ``decided_at``.
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def record(self, decisions: Iterable[FieldDecisionRow]) -> int:
        """Store decisions (one executemany per 500); returns how many were stored.

        Raises:
            ValueError: a decision has an unknown outcome.
        """
        stored = 0
        for chunk in chunked(decisions):
            now = self._clock.now()
            rows = []
            for decision in chunk:
                if decision.outcome not in OUTCOMES:
                    raise ValueError(f"unknown outcome {decision.outcome!r}; use one of {OUTCOMES}")
                row = {name: getattr(decision, name) for name in _COLUMNS}
                row["value"] = _jsonable(decision.value)
                row["previous"] = _jsonable(decision.previous)
                row["decided_at"] = decision.decided_at or now
                rows.append(row)
            with begin_write(self._engine) as conn:
                conn.execute(insert(field_decisions), rows)
            stored += len(rows)
        return stored

    def history(self, person_id: str, limit: int | None = None) -> list[FieldDecisionRow]:
        """The person's decisions (those of people merged into them too), oldest first.

        With ``limit``, the newest ``limit`` decisions, still oldest first.
        """
        with self._engine.connect() as conn:
            target = people_sql.survivor(conn, person_id)
            merged = select(people.c.person_id).where(people.c.merged_into == target)
            query = select(field_decisions).where(
                (field_decisions.c.person_id == target) | field_decisions.c.person_id.in_(merged)
            )
            return self._ordered(conn.execute(self._newest(query, limit)).all())

    def history_of_record(self, ref: RecordRef, limit: int | None = None) -> list[FieldDecisionRow]:
        """Decisions about one record, oldest first (the newest ``limit`` when given)."""
        query = select(field_decisions).where(
            field_decisions.c.system == ref.system,
            field_decisions.c.object_type == ref.object_type,
            field_decisions.c.record_id == ref.record_id,
        )
        with self._engine.connect() as conn:
            return self._ordered(conn.execute(self._newest(query, limit)).all())

    @staticmethod
    def _newest(query: Any, limit: int | None) -> Any:
        order = (field_decisions.c.decided_at.desc(), field_decisions.c.id.desc())
        return query.order_by(*order).limit(limit)

    @staticmethod
    def _ordered(rows: Iterable[Row[Any]]) -> list[FieldDecisionRow]:
        decisions = [
            FieldDecisionRow(
                id=row.id,
                value=row.value,
                previous=row.previous,
                decided_at=row.decided_at,
                **{name: getattr(row, name) for name in _COLUMNS},
            )
            for row in rows
        ]
        decisions.reverse()
        return decisions
