"""Bulk SQL under :class:`~closedloop.sync.identity.IdentityStore`: a page of records at a time.

A full reconciliation resolves hundreds of thousands of records. Resolving them one by one
costs a transaction and several queries each; these functions do the same work for a whole
batch inside one transaction: one query per 500 refs to find the known ones, one per 500
emails to find their people, and multi-row inserts for the new people and identities. The
outcome is exactly that of resolving the items one after another, in order
(:func:`resolve_batch`). Like :mod:`closedloop.sync.people` they never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, text, update

from closedloop.store.schema import identities, people
from closedloop.sync import people as sql
from closedloop.sync.model import RecordRef
from closedloop.sync.sql import chunked, is_postgresql

__all__ = [
    "PersonFacts",
    "known_people",
    "lead_moments",
    "person_facts",
    "records_of_many",
    "resolve_batch",
    "survivors",
]

_LOCK_EMAILS = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended(wanted.email, 0))) "
    "FROM (SELECT email FROM unnest(CAST(:emails AS text[])) AS email ORDER BY email) AS wanted"
)


@dataclass
class PersonFacts:
    """What resolution needs to know of one person: their email and when they were created."""

    email: str | None
    created_at: datetime


def survivors(conn: Connection, person_ids: Iterable[str]) -> dict[str, str]:
    """Each person id mapped to its survivor (itself when it was not merged)."""
    found: dict[str, str] = {}
    for chunk in chunked(dict.fromkeys(person_ids)):
        query = select(people.c.person_id, people.c.merged_into).where(
            people.c.person_id.in_(chunk)
        )
        for row in conn.execute(query):
            merged = row.merged_into
            found[row.person_id] = row.person_id if merged is None else sql.survivor(conn, merged)
    return found


def known_people(conn: Connection, refs: Iterable[RecordRef]) -> dict[RecordRef, str]:
    """The surviving person of every ref that has an identity (one query per object, 500 ids)."""
    by_object: dict[tuple[str, str], list[str]] = {}
    for ref in dict.fromkeys(refs):
        by_object.setdefault((ref.system, ref.object_type), []).append(ref.record_id)
    found: dict[RecordRef, str] = {}
    merged: dict[RecordRef, str] = {}
    for (system, object_type), record_ids in by_object.items():
        for chunk in chunked(record_ids):
            query = (
                select(identities.c.record_id, identities.c.person_id, people.c.merged_into)
                .join(people, people.c.person_id == identities.c.person_id)
                .where(
                    identities.c.system == system,
                    identities.c.object_type == object_type,
                    identities.c.record_id.in_(chunk),
                )
            )
            for row in conn.execute(query):
                ref = RecordRef(system, object_type, row.record_id)
                if row.merged_into is None:
                    found[ref] = row.person_id
                else:
                    merged[ref] = row.merged_into
    for ref, merged_into in merged.items():
        found[ref] = sql.survivor(conn, merged_into)
    return found


def person_facts(conn: Connection, person_ids: Iterable[str]) -> dict[str, PersonFacts]:
    """Email and creation time of each person (one query per 500)."""
    found: dict[str, PersonFacts] = {}
    for chunk in chunked(dict.fromkeys(person_ids)):
        query = select(people.c.person_id, people.c.email, people.c.created_at).where(
            people.c.person_id.in_(chunk)
        )
        for row in conn.execute(query):
            found[row.person_id] = PersonFacts(row.email, row.created_at)
    return found


def lead_moments(
    conn: Connection, person_ids: Iterable[str]
) -> dict[str, tuple[datetime | None, datetime | None]]:
    """``(became_lead_at, converted_at)`` of each person (its survivor's, when merged)."""
    found: dict[str, tuple[datetime | None, datetime | None]] = {}
    merged: dict[str, str] = {}
    columns = (people.c.person_id, people.c.merged_into)
    moments = (people.c.became_lead_at, people.c.converted_at)
    for chunk in chunked(dict.fromkeys(person_ids)):
        for row in conn.execute(select(*columns, *moments).where(people.c.person_id.in_(chunk))):
            if row.merged_into is None:
                found[row.person_id] = (row.became_lead_at, row.converted_at)
            else:
                merged[row.person_id] = sql.survivor(conn, row.merged_into)
    for person_id, target in merged.items():
        at = conn.execute(select(*moments).where(people.c.person_id == target)).one()
        found[person_id] = (at.became_lead_at, at.converted_at)
    return found


def records_of_many(conn: Connection, person_ids: Iterable[str]) -> dict[str, list[RecordRef]]:
    """Every ref of each person, sorted (a merged-away id: its survivor's refs)."""
    wanted = list(dict.fromkeys(person_ids))
    found: dict[str, list[RecordRef]] = {p: [] for p in wanted}
    merged: set[str] = set()
    columns = (identities.c.system, identities.c.object_type, identities.c.record_id)
    for chunk in chunked(wanted):
        query = select(people.c.person_id).where(
            people.c.person_id.in_(chunk), people.c.merged_into.is_not(None)
        )
        merged.update(conn.execute(query).scalars())
        rows = conn.execute(
            select(identities.c.person_id, *columns).where(identities.c.person_id.in_(chunk))
        )
        for row in rows:
            found[row.person_id].append(RecordRef(row.system, row.object_type, row.record_id))
    for person_id in merged:
        found[person_id] = sql.records(conn, sql.survivor(conn, person_id))
    return {
        p: sorted(refs, key=lambda r: (r.system, r.object_type, r.record_id))
        for p, refs in found.items()
    }


def _oldest_with_email(conn: Connection, emails: Sequence[str]) -> dict[str, tuple[datetime, str]]:
    """The oldest unmerged person of each email, as ``(created_at, person_id)``.

    On PostgreSQL the emails are first locked (transaction-scoped advisory locks, in sorted
    order), as :func:`~closedloop.sync.people.by_email` does for one email, so concurrent
    resolutions of one new email create one person.
    """
    if is_postgresql(conn) and emails:
        conn.execute(_LOCK_EMAILS, {"emails": sorted(emails)})
    found: dict[str, tuple[datetime, str]] = {}
    for chunk in chunked(emails):
        query = select(people.c.person_id, people.c.email, people.c.created_at).where(
            people.c.email.in_(chunk), people.c.merged_into.is_(None)
        )
        for row in conn.execute(query):
            candidate = (row.created_at, row.person_id)
            if row.email not in found or candidate < found[row.email]:
                found[row.email] = candidate
    return found


class _Resolution:
    """One batch being resolved in order (see :func:`resolve_batch`)."""

    def __init__(self, conn: Connection, items: Sequence[tuple[RecordRef, str | None]]) -> None:
        self.known = known_people(conn, (ref for ref, _ in items))
        self.facts = person_facts(conn, self.known.values())
        unknown = {email for ref, email in items if email and ref not in self.known}
        self.by_email = _oldest_with_email(conn, sorted(unknown))
        self.new_people: list[dict[str, object]] = []
        self.new_identities: list[dict[str, object]] = []
        self.emails_given: dict[str, str] = {}

    def take_email(self, person_id: str, email: str) -> None:
        """A known person without an email gets this one (and may now own it)."""
        facts = self.facts[person_id]
        facts.email = email
        self.emails_given[person_id] = email
        candidate = (facts.created_at, person_id)
        if email not in self.by_email or candidate < self.by_email[email]:
            self.by_email[email] = candidate

    def new_person(self, email: str | None, now: datetime) -> str:
        """A person created in this batch (inserted when the batch is written)."""
        person_id = sql.new_person_id()
        self.new_people.append({"person_id": person_id, "email": email, "created_at": now})
        self.facts[person_id] = PersonFacts(email, now)
        if email is not None:
            self.by_email[email] = (now, person_id)
        return person_id

    def link(self, ref: RecordRef, person_id: str, now: datetime) -> None:
        """Tie a new ref to its person (inserted when the batch is written)."""
        self.known[ref] = person_id
        self.new_identities.append(
            {
                "system": ref.system,
                "object_type": ref.object_type,
                "record_id": ref.record_id,
                "person_id": person_id,
                "created_at": now,
            }
        )

    def write(self, conn: Connection) -> None:
        """Store the batch's new people, emails and identities (multi-row statements).

        People first: a person created without an email may have been given one later in
        the batch.
        """
        for chunk in chunked(self.new_people):
            conn.execute(insert(people), chunk)
        if self.emails_given:
            conn.execute(
                update(people)
                .where(people.c.person_id == bindparam("b_person"), people.c.email.is_(None))
                .values(email=bindparam("b_email")),
                [{"b_person": p, "b_email": e} for p, e in self.emails_given.items()],
            )
        for chunk in chunked(self.new_identities):
            conn.execute(insert(identities), chunk)


def resolve_batch(
    conn: Connection, items: Sequence[tuple[RecordRef, str | None]], now: Callable[[], datetime]
) -> list[str]:
    """The person of each ``(ref, normalised email)``, as resolving them one by one would.

    An existing identity wins (giving its person the email when they have none); else the
    oldest unmerged person with that email, counting people created earlier in the batch;
    else a new person. Raises :class:`~sqlalchemy.exc.IntegrityError` when another
    transaction tied one of the refs meanwhile (the caller retries the whole batch).
    """
    batch = _Resolution(conn, items)
    found: list[str] = []
    for ref, email in items:
        person_id = batch.known.get(ref)
        if person_id is not None:
            if email is not None and batch.facts[person_id].email is None:
                batch.take_email(person_id, email)
            found.append(person_id)
            continue
        owner = batch.by_email.get(email) if email is not None else None
        person_id = owner[1] if owner is not None else batch.new_person(email, now())
        batch.link(ref, person_id, now())
        found.append(person_id)
    batch.write(conn)
    return found
