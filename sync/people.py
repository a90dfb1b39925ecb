"""The SQL under :class:`~closedloop.sync.identity.IdentityStore`: people and identities.

Plain functions over a :class:`~sqlalchemy.Connection`, so one transaction can combine them
(resolve = look up, maybe create a person, link; merge = absorb people one by one). They do not
commit; the caller's transaction decides.

A merged-away person keeps its row with ``merged_into`` pointing at the survivor, and chains
are flattened whenever a survivor is itself absorbed, so :func:`survivor` usually stops after
one step.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, select, update

from closedloop.store.schema import identities, people, touchpoints
from closedloop.sync.model import RecordRef
from closedloop.sync.sql import is_postgresql

__all__ = [
    "absorb",
    "by_email",
    "has_email",
    "insert_identity",
    "link",
    "new_person",
    "new_person_id",
    "person_of",
    "records",
    "survivor",
]

_MAX_CHAIN = 64


def survivor(conn: Connection, person_id: str) -> str:
    """The person ``person_id`` was merged into (itself when it was not merged)."""
    for _ in range(_MAX_CHAIN):
        merged_into = conn.execute(
            select(people.c.merged_into).where(people.c.person_id == person_id)
        ).scalar_one_or_none()
        if merged_into is None:
            return person_id
        person_id = merged_into
    return person_id


def _is_ref(ref: RecordRef) -> ColumnElement[bool]:
    return and_(
        identities.c.system == ref.system,
        identities.c.object_type == ref.object_type,
        identities.c.record_id == ref.record_id,
    )


def person_of(conn: Connection, ref: RecordRef) -> str | None:
    """The surviving person ``ref`` stands for, or None."""
    row = conn.execute(
        select(identities.c.person_id, people.c.merged_into)
        .join(people, people.c.person_id == identities.c.person_id)
        .where(_is_ref(ref))
    ).first()
    if row is None:
        return None
    if row.merged_into is None:
        return str(row.person_id)
    return survivor(conn, row.merged_into)


def has_email(conn: Connection, person_id: str) -> bool:
    """Whether the person has an email."""
    query = select(people.c.email).where(people.c.person_id == person_id)
    return conn.execute(query).scalar_one_or_none() is not None


def by_email(conn: Connection, email: str, *, include_merged: bool = False) -> str | None:
    """The oldest person with ``email`` (unmerged ones only, unless ``include_merged``).

    Without ``include_merged`` the caller is about to create a person when none is found: on
    PostgreSQL a transaction-scoped advisory lock on the email then serialises concurrent
    resolutions of one new email, so they create one person. (SQLite writers are serial.)
    """
    if is_postgresql(conn) and not include_merged:
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(email, 0))))
    query = select(people.c.person_id).where(people.c.email == email)
    if not include_merged:
        query = query.where(people.c.merged_into.is_(None))
    query = query.order_by(people.c.created_at, people.c.person_id).limit(1)
    found: str | None = conn.execute(query).scalar_one_or_none()
    return found


def new_person_id() -> str:
    """A fresh person id (a uuid4 in hex)."""
    return uuid.uuid4().hex


def new_person(conn: Connection, email: str | None, now: datetime) -> str:
    """Create a person (a uuid4 hex id) and return their id."""
    person_id = new_person_id()
    conn.execute(insert(people).values(person_id=person_id, email=email, created_at=now))
    return person_id


def insert_identity(conn: Connection, ref: RecordRef, person_id: str, now: datetime) -> None:
    """Tie a new ``ref`` to ``person_id``; IntegrityError when another transaction already did."""
    conn.execute(
        insert(identities).values(
            system=ref.system,
            object_type=ref.object_type,
            record_id=ref.record_id,
            person_id=person_id,
            created_at=now,
        )
    )


def link(conn: Connection, ref: RecordRef, person_id: str, now: datetime) -> None:
    """Tie ``ref`` to ``person_id``, moving it when it stood for someone else."""
    moved = conn.execute(update(identities).where(_is_ref(ref)).values(person_id=person_id))
    if moved.rowcount == 0:
        insert_identity(conn, ref, person_id, now)


def records(conn: Connection, person_id: str) -> list[RecordRef]:
    """Every ref tied to ``person_id``, sorted."""
    rows = conn.execute(
        select(identities.c.system, identities.c.object_type, identities.c.record_id)
        .where(identities.c.person_id == person_id)
        .order_by(identities.c.system, identities.c.object_type, identities.c.record_id)
    )
    return [RecordRef(row.system, row.object_type, row.record_id) for row in rows]


def absorb(conn: Connection, keep: str, other: str) -> None:
    """Fold person ``other`` into ``keep``.

    Identities and touches move to ``keep`` (a touch ``keep`` already has is dropped), people
    merged into ``other`` now point at ``keep``, ``keep`` takes ``other``'s email when it has
    none and the earlier of each of their lead, MQL, SQL and conversion moments, and
    ``other`` is marked ``merged_into = keep``.
    """
    # Lock both people first: a concurrent TouchLedger.add share-locks its person and then
    # sees the merge, instead of adding touches to ``other`` after they were moved.
    locked = select(people).where(people.c.person_id.in_([keep, other])).with_for_update()
    rows = {row.person_id: row for row in conn.execute(locked)}
    kept, gone = rows[keep], rows[other]
    conn.execute(update(identities).where(identities.c.person_id == other).values(person_id=keep))
    taken = select(touchpoints.c.touch_key).where(touchpoints.c.person_id == keep)
    conn.execute(
        update(touchpoints)
        .where(touchpoints.c.person_id == other, touchpoints.c.touch_key.not_in(taken))
        .values(person_id=keep)
    )
    conn.execute(delete(touchpoints).where(touchpoints.c.person_id == other))
    conn.execute(update(people).where(people.c.merged_into == other).values(merged_into=keep))
    conn.execute(
        update(people)
        .where(people.c.person_id == keep)
        .values(
            email=kept.email or gone.email,
            became_lead_at=_earliest(kept.became_lead_at, gone.became_lead_at),
            converted_at=_earliest(kept.converted_at, gone.converted_at),
            became_mql_at=_earliest(kept.became_mql_at, gone.became_mql_at),
            became_sql_at=_earliest(kept.became_sql_at, gone.became_sql_at),
        )
    )
    conn.execute(update(people).where(people.c.person_id == other).values(merged_into=keep))


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    moments = [moment for moment in (first, second) if moment is not None]
    return min(moments) if moments else None
