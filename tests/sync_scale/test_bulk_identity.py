"""Bulk identity resolution resolves a page exactly as resolving its records one by one would.

A full reconciliation resolves every record of both systems; :meth:`IdentityStore.resolve_many`
does a page in one transaction. Here the same items go through ``resolve`` one at a time on a
reference store and through ``resolve_many`` on the store under test (SQLite and PostgreSQL),
from the same starting people, and must end with the same people, the same records per person
and the same emails.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from closedloop.runtime.clock import ManualClock
from closedloop.store.schema import identities, people
from closedloop.sync.identity import IdentityStore
from closedloop.sync.model import RecordRef

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

Item = tuple[RecordRef, str | None]


class TickingClock(ManualClock):
    """A clock that moves a millisecond every time it is read: no two people are created at
    the same instant, so "the oldest person with this email" never depends on random ids."""

    def now(self) -> datetime:
        self.advance(0.001)
        return super().now()


def contact(n: int) -> RecordRef:
    return RecordRef("hubspot", "contacts", str(n))


def lead(n: int) -> RecordRef:
    return RecordRef("salesforce", "Lead", f"00Q{n:012d}")


def seed(store: IdentityStore, clock: ManualClock) -> None:
    """Starting people: one without an email, two sharing one, a merged pair."""
    steps: list[Item] = [
        (contact(1), None),  # the oldest person, no email yet
        (contact(2), "shared@example.com"),
        (contact(3), None),
        (contact(4), "gone@example.com"),
        (contact(5), "kept@example.com"),
        (contact(1), "shared@example.com"),  # now two people hold this email
    ]
    for ref, email in steps:
        clock.advance(1)
        store.resolve(ref, email)
    store.merge(contact(5), [contact(4)])


def shape(engine: Engine) -> set[tuple[frozenset[RecordRef], str | None]]:
    """Every surviving person as (their refs, their email), person ids left out."""
    with engine.connect() as conn:
        refs: dict[str, set[RecordRef]] = {}
        for row in conn.execute(select(identities)):
            refs.setdefault(row.person_id, set()).add(
                RecordRef(row.system, row.object_type, row.record_id)
            )
        emails = {
            row.person_id: row.email
            for row in conn.execute(select(people).where(people.c.merged_into.is_(None)))
        }
    return {(frozenset(refs.get(p, set())), e) for p, e in emails.items()}


def same_grouping(first: list[str], second: list[str]) -> bool:
    """Whether two answers put the same items together (whatever the person ids)."""
    pairs = range(len(first))
    return all((first[i] == first[j]) == (second[i] == second[j]) for i in pairs for j in pairs)


def compare(engine: Engine, reference_engine: Engine, items: list[Item]) -> list[str]:
    """Resolve ``items`` one by one on ``reference_engine`` and in bulk on ``engine``."""
    one_clock, bulk_clock = TickingClock(START), TickingClock(START)
    one_by_one, bulk = IdentityStore(reference_engine, one_clock), IdentityStore(engine, bulk_clock)
    seed(one_by_one, one_clock)
    seed(bulk, bulk_clock)
    expected = [one_by_one.resolve(ref, email) for ref, email in items]
    found = bulk.resolve_many(items)
    assert len(found) == len(items)
    assert same_grouping(found, expected)
    assert shape(engine) == shape(reference_engine)
    return found


def test_known_refs_new_refs_and_emails_resolve_as_one_by_one(
    engine: Engine, reference_engine: Engine
) -> None:
    items: list[Item] = [
        (contact(2), None),  # known
        (contact(10), "Shared@Example.com "),  # a new ref joins the oldest holder of the email
        (contact(3), "late@example.com"),  # a known person without an email gets one...
        (lead(1), "late@example.com"),  # ...and the next new ref with it joins them
        (lead(2), "new@example.com"),  # a new email makes a new person...
        (contact(11), "new@example.com"),  # ...whom the next one joins
        (lead(2), "other@example.com"),  # a ref seen again keeps its person
        (contact(12), None),  # no email: a person of its own
        (contact(4), "gone@example.com"),  # a merged-away ref leads to the survivor
        (lead(3), "gone@example.com"),  # the merged-away person's email is not used
    ]
    found = compare(engine, reference_engine, items)
    assert found[4] == found[5]
    assert found[2] == found[3]
    assert found[8] == IdentityStore(engine).person_of(contact(5))


@pytest.mark.parametrize("seed_value", [5, 11, 23])
def test_random_pages_resolve_as_one_by_one(
    engine: Engine, reference_engine: Engine, seed_value: int
) -> None:
    rng = random.Random(seed_value)
    emails = [None, None, "shared@example.com", "gone@example.com", "kept@example.com"]
    emails += [f"p{n}@example.com" for n in range(12)]
    refs = [contact(n) for n in range(1, 30)] + [lead(n) for n in range(1, 30)]
    items: list[Item] = [(rng.choice(refs), rng.choice(emails)) for _ in range(700)]
    compare(engine, reference_engine, items)  # 700 items: two chunks of the bulk path


def test_a_page_of_known_refs_only_reads(engine: Engine, clock: ManualClock) -> None:
    store = IdentityStore(engine, clock)
    first = store.resolve_many([(contact(n), f"p{n}@example.com") for n in range(40)])
    with engine.connect() as conn:
        before = conn.execute(select(people.c.person_id, people.c.email)).all()
    again = store.resolve_many([(contact(n), f"P{n}@example.com") for n in range(40)])
    assert again == first
    with engine.connect() as conn:
        assert conn.execute(select(people.c.person_id, people.c.email)).all() == before


def _race(workers: int, action: Callable[[int], list[str]]) -> list[list[str]]:
    barrier = threading.Barrier(workers)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results.append(action(index))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_concurrent_pages_of_new_records_make_one_person_per_email(
    engine: Engine, clock: ManualClock
) -> None:
    stores = [IdentityStore(engine, clock) for _ in range(4)]
    pages = [
        [(contact(n + 100 * worker), f"p{n}@example.com") for n in range(30)]
        + [(lead(n), f"p{n}@example.com") for n in range(30)]
        for worker in range(4)
    ]
    results = _race(4, lambda i: stores[i].resolve_many(pages[i]))
    for found in results:
        assert found[30:] == results[0][30:]  # the shared leads: one identity each
        assert found[:30] == found[30:]  # every new contact joined its email's person
    with engine.connect() as conn:
        assert len(conn.execute(select(people.c.person_id)).all()) == 30
        assert len(conn.execute(select(identities.c.id)).all()) == 4 * 30 + 30


def test_link_many_moves_refs_to_the_survivors(engine: Engine, clock: ManualClock) -> None:
    store = IdentityStore(engine, clock)
    ann, bob, gone = store.resolve_many([(contact(n), None) for n in (1, 2, 3)])
    store.merge(contact(2), [contact(3)])
    store.link_many([(lead(1), ann), (lead(2), gone), (contact(1), bob)])
    assert store.person_of(lead(1)) == ann
    assert store.person_of(lead(2)) == bob  # linked to the merged-away person: its survivor
    assert store.person_of(contact(1)) == bob  # moved from Ann
    assert store.records_of(ann) == [lead(1)]


def test_mark_leads_keeps_the_earliest_moment_through_merges(
    engine: Engine, clock: ManualClock
) -> None:
    store = IdentityStore(engine, clock)
    ann, bob = store.resolve_many([(contact(1), None), (contact(2), None)])
    store.merge(contact(1), [contact(2)])
    store.mark_leads(
        [
            (ann, START + timedelta(days=3)),
            (bob, START + timedelta(days=1)),  # merged into Ann: her moment
            (ann, START + timedelta(days=2)),
        ]
    )
    store.mark_leads([(ann, START + timedelta(days=5))])  # later: ignored
    assert store.lead_moments([ann, bob]) == {
        ann: (START + timedelta(days=1), None),
        bob: (START + timedelta(days=1), None),
    }
