"""Identity resolution: which person each CRM record, email and anonymous visitor id stands for.

Tables ``people`` and ``identities`` (:mod:`closedloop.store.schema`); the SQL lives in
:mod:`closedloop.sync.people`. An identity ties one :class:`~closedloop.sync.model.RecordRef` to
one person; ``UNIQUE(system, object_type, record_id)`` makes two workers that resolve the same
new record at once end with one identity (the loser's transaction rolls back and its retry
finds the winner's). Anonymous visitor ids are refs too: ``RecordRef("visitor", "anonymous",
<visitor id>)`` (:func:`visitor_ref`).

People are never merged silently: a new record whose email belongs to a person joins that
person, and only an explicit signal (a HubSpot merge, a Salesforce lead conversion) folds one
person into another. The absorbed person keeps its row with ``merged_into`` set, its identities
and touches move to the survivor (duplicate touches are dropped), and every lookup follows
``merged_into`` so a stale person id still leads to the survivor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, select, update

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import identities, people
from closedloop.sync import people as sql
from closedloop.sync import people_bulk as bulk
from closedloop.sync.model import Person, RecordRef
from closedloop.sync.refs import VISITOR, normalise_email, parse_ref, visitor_ref
from closedloop.sync.sql import begin_write, chunked, retry_on_conflict

__all__ = ["VISITOR", "IdentityStore", "normalise_email", "parse_ref", "visitor_ref"]


class IdentityStore:
    """People and the records that stand for them.

    Args:
        engine: the state store.
        clock: the source of ``created_at`` and default conversion times.
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def resolve(self, ref: RecordRef, email: str | None = None) -> str:
        """The person ``ref`` stands for, linking it first when it is new.

        An existing identity wins (and gives its person ``email`` when they have none); else
        the oldest unmerged person with that email; else a new person.
        """
        email = normalise_email(email)
        with self._engine.connect() as conn:  # the common case only reads
            known = sql.person_of(conn, ref)
            if known is not None and (email is None or sql.has_email(conn, known)):
                return known

        def attempt() -> str:
            with begin_write(self._engine) as conn:
                found = sql.person_of(conn, ref)
                if found is not None:
                    conn.execute(
                        update(people)
                        .where(people.c.person_id == found, people.c.email.is_(None))
                        .values(email=email)
                    )
                    return found
                person_id = sql.by_email(conn, email) if email is not None else None
                if person_id is None:
                    person_id = sql.new_person(conn, email, self._clock.now())
                sql.insert_identity(conn, ref, person_id, self._clock.now())
                return person_id

        return retry_on_conflict(attempt)

    def resolve_many(self, items: Sequence[tuple[RecordRef, str | None]]) -> list[str]:
        """:meth:`resolve` for each ``(ref, email)`` in order, in one transaction per 500.

        The outcome is exactly that of resolving them one after another (two new records with
        one new email share one new person); only the queries are shared.
        """
        found: list[str] = []
        for chunk in chunked([(ref, normalise_email(email)) for ref, email in items]):
            found += self._resolve_chunk(chunk)
        return found

    def _resolve_chunk(self, items: list[tuple[RecordRef, str | None]]) -> list[str]:
        with self._engine.connect() as conn:  # the common case (every ref known) only reads
            known = bulk.known_people(conn, (ref for ref, _ in items))
            if all(ref in known for ref, _ in items):
                wanting = {known[ref] for ref, email in items if email is not None}
                facts = bulk.person_facts(conn, wanting)
                if all(facts[p].email is not None for p in wanting):
                    return [known[ref] for ref, _ in items]

        def attempt() -> list[str]:
            with begin_write(self._engine) as conn:
                return bulk.resolve_batch(conn, items, self._clock.now)

        return retry_on_conflict(attempt)

    def link(self, ref: RecordRef, person_id: str) -> None:
        """Make ``ref`` stand for ``person_id`` (moving it from another person if need be)."""

        def attempt() -> None:
            with begin_write(self._engine) as conn:
                target = sql.survivor(conn, person_id)
                sql.link(conn, ref, target, self._clock.now())

        retry_on_conflict(attempt)

    def link_many(self, links: Sequence[tuple[RecordRef, str]]) -> None:
        """:meth:`link` for many ``(ref, person id)`` pairs, one transaction per 500."""
        for chunk in chunked(links):

            def attempt(pairs: list[tuple[RecordRef, str]] = chunk) -> None:
                with begin_write(self._engine) as conn:
                    targets = bulk.survivors(conn, (person for _, person in pairs))
                    for ref, person_id in pairs:
                        sql.link(conn, ref, targets.get(person_id, person_id), self._clock.now())

            retry_on_conflict(attempt)

    def person_of(self, ref: RecordRef) -> str | None:
        """The (surviving) person ``ref`` stands for, or None when it is unknown."""
        with self._engine.connect() as conn:
            return sql.person_of(conn, ref)

    def records_of(self, person_id: str) -> list[RecordRef]:
        """Every ref of the person (visitor ids included), sorted."""
        with self._engine.connect() as conn:
            return sql.records(conn, sql.survivor(conn, person_id))

    def find(self, text: str) -> str | None:
        """The person named by an email, ``system:object:id``, ``system:id`` or a bare record id.

        For ``closedloop explain``. A bare id answers only when it belongs to one person.
        """
        text = text.strip()
        with self._engine.connect() as conn:
            if "@" in text and ":" not in text:
                found = sql.by_email(conn, text.lower(), include_merged=True)
                return None if found is None else sql.survivor(conn, found)
            if ":" in text:
                try:
                    return sql.person_of(conn, parse_ref(text))
                except ValueError:
                    return None
            owners = conn.execute(
                select(identities.c.person_id).where(identities.c.record_id == text).distinct()
            ).scalars()
            survivors = {sql.survivor(conn, owner) for owner in owners}
            return survivors.pop() if len(survivors) == 1 else None

    def merge(self, survivor_ref: RecordRef, merged_away_refs: Iterable[RecordRef]) -> str:
        """A vendor merge: fold the people of ``merged_away_refs`` into ``survivor_ref``'s.

        Returns the surviving person id.
        """
        away = list(merged_away_refs)

        def attempt() -> str:
            with begin_write(self._engine) as conn:
                keep = self._person_or_new(conn, survivor_ref)
                for ref in away:
                    self._join(conn, ref, keep)
                return keep

        return retry_on_conflict(attempt)

    def convert(
        self,
        lead_ref: RecordRef,
        contact_ref: RecordRef,
        opportunity_ref: RecordRef | None = None,
        at: datetime | None = None,
    ) -> str:
        """A converted lead: its contact (and opportunity) join the lead's person.

        A contact that already stood for another person folds that person in. ``converted_at``
        becomes ``at`` (default: now) unless the person had converted already. Returns the
        person id.
        """
        moment = at or self._clock.now()

        def attempt() -> str:
            with begin_write(self._engine) as conn:
                person_id = self._person_or_new(conn, lead_ref)
                self._join(conn, contact_ref, person_id)
                if opportunity_ref is not None:
                    sql.link(conn, opportunity_ref, person_id, self._clock.now())
                conn.execute(
                    update(people)
                    .where(people.c.person_id == person_id, people.c.converted_at.is_(None))
                    .values(converted_at=moment)
                )
                return person_id

        return retry_on_conflict(attempt)

    def mark_lead(self, person_id: str, at: datetime) -> None:
        """Record when the person became a lead (the earliest moment wins)."""
        self.mark_leads([(person_id, at)])

    def mark_leads(self, moments: Iterable[tuple[str, datetime]]) -> None:
        """:meth:`mark_lead` for many people, in one transaction."""
        wanted = list(moments)
        if not wanted:
            return
        lead_at = people.c.became_lead_at
        statement = (
            update(people)
            .where(
                people.c.person_id == bindparam("b_person"),
                lead_at.is_(None) | (lead_at > bindparam("b_at")),
            )
            .values(became_lead_at=bindparam("b_at"))
        )
        with begin_write(self._engine) as conn:
            targets = bulk.survivors(conn, (person_id for person_id, _ in wanted))
            earliest: dict[str, datetime] = {}
            for person_id, at in wanted:
                target = targets.get(person_id, person_id)
                earliest[target] = min(at, earliest.get(target, at))
            conn.execute(statement, [{"b_person": p, "b_at": at} for p, at in earliest.items()])

    def lead_moments(
        self, person_ids: Iterable[str]
    ) -> dict[str, tuple[datetime | None, datetime | None]]:
        """``(became_lead_at, converted_at)`` of each person (of its survivor, if merged).

        One query per 500 people; a merged-away id is looked up through its survivor.
        """
        with self._engine.connect() as conn:
            return bulk.lead_moments(conn, person_ids)

    def records_of_many(self, person_ids: Iterable[str]) -> dict[str, list[RecordRef]]:
        """:meth:`records_of` for many people (unmerged ones in one query per 500)."""
        with self._engine.connect() as conn:
            return bulk.records_of_many(conn, person_ids)

    def person(self, person_id: str) -> Person:
        """The person (the survivor, for a merged id) with their records and visitor ids.

        Raises:
            KeyError: no such person.
        """
        with self._engine.connect() as conn:
            target = sql.survivor(conn, person_id)
            row = conn.execute(select(people).where(people.c.person_id == target)).first()
            if row is None:
                raise KeyError(person_id)
            refs = sql.records(conn, target)
            merged = conn.execute(
                select(people.c.person_id)
                .where(people.c.merged_into == target)
                .order_by(people.c.created_at, people.c.person_id)
            ).scalars()
            return Person(
                person_id=target,
                email=row.email,
                records=[ref for ref in refs if ref.system != VISITOR],
                visitor_ids=[ref.record_id for ref in refs if ref.system == VISITOR],
                merged_ids=list(merged),
                became_lead_at=row.became_lead_at,
                converted_at=row.converted_at,
            )

    def _person_or_new(self, conn: Connection, ref: RecordRef) -> str:
        found = sql.person_of(conn, ref)
        if found is not None:
            return found
        person_id = sql.new_person(conn, None, self._clock.now())
        sql.insert_identity(conn, ref, person_id, self._clock.now())
        return person_id

    def _join(self, conn: Connection, ref: RecordRef, keep: str) -> None:
        """Make ``ref``'s person (if any) part of ``keep``; else link ``ref`` to ``keep``."""
        other = sql.person_of(conn, ref)
        if other is None:
            sql.insert_identity(conn, ref, keep, self._clock.now())
        elif other != keep:
            sql.absorb(conn, keep, other)
