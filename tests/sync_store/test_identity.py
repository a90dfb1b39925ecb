"""Identity resolution: refs, emails, visitor ids, merges and lead conversion, on both backends."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from closedloop.runtime.clock import ManualClock
from closedloop.store.schema import identities, people
from closedloop.sync.identity import IdentityStore, normalise_email, parse_ref, visitor_ref
from closedloop.sync.ledger import TouchLedger
from closedloop.sync.model import RecordRef
from closedloop.sync.touchpoints import Touchpoint

LEAD = RecordRef("salesforce", "Lead", "00Q000000000001")
CONTACT = RecordRef("salesforce", "Contact", "003000000000001")
OPPORTUNITY = RecordRef("salesforce", "Opportunity", "006000000000001")
HS_A = RecordRef("hubspot", "contacts", "101")
HS_B = RecordRef("hubspot", "contacts", "202")


@pytest.fixture
def store(engine: Engine, clock: ManualClock) -> IdentityStore:
    return IdentityStore(engine, clock)


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_resolving_a_ref_twice_gives_one_person(store: IdentityStore, engine: Engine) -> None:
    first = store.resolve(HS_A, "Ann@Example.com ")
    assert store.resolve(HS_A) == first
    assert store.resolve(HS_A, "ann@example.com") == first
    assert store.person_of(HS_A) == first
    assert _count(engine, people) == 1
    assert _count(engine, identities) == 1
    assert store.person(first).email == "ann@example.com"


def test_a_new_ref_with_a_known_email_joins_that_person(store: IdentityStore) -> None:
    person = store.resolve(HS_A, "ann@example.com")
    assert store.resolve(LEAD, "ANN@example.com") == person
    assert store.records_of(person) == [HS_A, LEAD]


def test_different_refs_without_a_shared_email_are_different_people(store: IdentityStore) -> None:
    assert store.resolve(HS_A, "ann@example.com") != store.resolve(HS_B, "bob@example.com")
    assert store.resolve(LEAD) != store.resolve(CONTACT)


def test_an_existing_identity_wins_over_the_email(store: IdentityStore) -> None:
    ann = store.resolve(HS_A, "ann@example.com")
    bob = store.resolve(HS_B, "bob@example.com")
    # HS_B now claims Ann's email: nobody is merged silently.
    assert store.resolve(HS_B, "ann@example.com") == bob
    assert store.person(bob).email == "bob@example.com"
    assert store.person_of(HS_A) == ann


def test_an_email_fills_a_person_without_one(store: IdentityStore) -> None:
    person = store.resolve(LEAD)
    assert store.person(person).email is None
    assert store.resolve(LEAD, "late@example.com") == person
    assert store.find("late@example.com") == person


def test_visitor_ids_are_identities(store: IdentityStore) -> None:
    person = store.resolve(HS_A, "ann@example.com")
    store.link(visitor_ref("cookie-1"), person)
    assert store.person_of(visitor_ref("cookie-1")) == person
    found = store.person(person)
    assert found.visitor_ids == ["cookie-1"]
    assert found.records == [HS_A]


def test_link_moves_a_ref_to_another_person(store: IdentityStore) -> None:
    ann = store.resolve(HS_A)
    bob = store.resolve(HS_B)
    store.link(visitor_ref("v"), ann)
    store.link(visitor_ref("v"), bob)
    assert store.person_of(visitor_ref("v")) == bob
    assert store.records_of(ann) == [HS_A]


def test_find_by_email_or_reference(store: IdentityStore) -> None:
    person = store.resolve(HS_A, "ann@example.com")
    store.link(LEAD, person)
    assert store.find(" ANN@example.com") == person
    assert store.find("hubspot:101") == person
    assert store.find("hubspot:contacts:101") == person
    assert store.find("salesforce:Lead:00Q000000000001") == person
    assert store.find("salesforce:00Q000000000001") == person
    assert store.find("00Q000000000001") == person
    assert store.find("nobody@example.com") is None
    assert store.find("hubspot:999") is None
    assert store.find("nonsense:") is None
    assert store.find("999") is None


def test_parse_ref_and_normalise_email() -> None:
    assert parse_ref("hubspot:7") == RecordRef("hubspot", "contacts", "7")
    assert parse_ref("salesforce:0061x") == RecordRef("salesforce", "Opportunity", "0061x")
    assert parse_ref("visitor:abc") == visitor_ref("abc")
    assert parse_ref("HubSpot:deals:9") == RecordRef("hubspot", "deals", "9")
    with pytest.raises(ValueError, match="not a record reference"):
        parse_ref("salesforce:XYZ123")
    assert normalise_email("  ") is None
    assert normalise_email(" A@B.C ") == "a@b.c"


def test_merge_moves_identities_and_touches_to_the_survivor(
    store: IdentityStore,
    engine: Engine,
    clock: ManualClock,
    make_touch: Callable[..., Touchpoint],
) -> None:
    ledger = TouchLedger(engine, clock)
    keep = store.resolve(HS_A, "ann@example.com")
    gone = store.resolve(HS_B, "ann.other@example.com")
    store.link(visitor_ref("cookie-b"), gone)
    store.mark_lead(gone, clock.now() - timedelta(days=3))
    shared = make_touch(0)
    ledger.add(keep, [shared, make_touch(10)])
    ledger.add(gone, [shared, make_touch(20), make_touch(30)])

    assert store.merge(HS_A, [HS_B]) == keep

    assert store.person_of(HS_B) == keep
    assert store.person_of(visitor_ref("cookie-b")) == keep
    assert [t.occurred_at for t in ledger.touches_of(keep)] == [
        make_touch(m).occurred_at for m in (0, 10, 20, 30)
    ]
    assert ledger.count() == 4  # the shared touch is kept once
    assert ledger.touches_of(gone) == ledger.touches_of(keep)  # a stale id leads to the survivor
    merged = store.person(gone)
    assert merged.person_id == keep
    assert merged.merged_ids == [gone]
    assert merged.became_lead_at == clock.now() - timedelta(days=3)
    assert store.find("ann.other@example.com") == keep
    assert store.merge(HS_A, [HS_B]) == keep  # a redelivered merge changes nothing


def test_merge_chains_point_at_the_last_survivor(store: IdentityStore) -> None:
    a, b, c = (store.resolve(RecordRef("hubspot", "contacts", n)) for n in ("1", "2", "3"))
    store.merge(RecordRef("hubspot", "contacts", "2"), [RecordRef("hubspot", "contacts", "1")])
    store.merge(RecordRef("hubspot", "contacts", "3"), [RecordRef("hubspot", "contacts", "2")])
    assert {store.person(x).person_id for x in (a, b, c)} == {c}
    assert sorted(store.person(c).merged_ids) == sorted([a, b])


def test_merge_with_unknown_refs_links_them(store: IdentityStore) -> None:
    person = store.merge(HS_A, [HS_B])
    assert store.records_of(person) == [HS_A, HS_B]


def test_conversion_joins_contact_and_opportunity_to_the_lead(
    store: IdentityStore,
    engine: Engine,
    clock: ManualClock,
    make_touch: Callable[..., Touchpoint],
) -> None:
    ledger = TouchLedger(engine, clock)
    lead_person = store.resolve(LEAD, "ann@example.com")
    ledger.add(lead_person, [make_touch(0)])
    contact_person = store.resolve(CONTACT)  # seen before the conversion event arrived
    ledger.add(contact_person, [make_touch(5)])
    clock.advance(3600)

    assert store.convert(LEAD, CONTACT, OPPORTUNITY) == lead_person

    assert store.person_of(CONTACT) == lead_person
    assert store.person_of(OPPORTUNITY) == lead_person
    person = store.person(lead_person)
    assert person.converted_at == clock.now()
    assert set(person.records) == {LEAD, CONTACT, OPPORTUNITY}
    assert len(ledger.touches_of(lead_person)) == 2
    clock.advance(60)
    store.convert(LEAD, CONTACT)  # the first conversion time stays
    assert store.person(lead_person).converted_at == person.converted_at


def test_mark_lead_keeps_the_earliest_moment(store: IdentityStore, clock: ManualClock) -> None:
    person = store.resolve(LEAD)
    store.mark_lead(person, clock.now())
    store.mark_lead(person, clock.now() + timedelta(days=1))
    assert store.person(person).became_lead_at == clock.now()
    store.mark_lead(person, clock.now() - timedelta(days=1))
    assert store.person(person).became_lead_at == clock.now() - timedelta(days=1)


def test_unknown_person_is_a_key_error(store: IdentityStore) -> None:
    with pytest.raises(KeyError):
        store.person("0" * 32)


def _race(workers: int, action: Callable[[int], str]) -> list[str]:
    barrier = threading.Barrier(workers)
    results: list[str] = []
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


def test_concurrent_resolution_of_one_new_ref_makes_one_identity(
    engine: Engine, clock: ManualClock
) -> None:
    stores = [IdentityStore(engine, clock) for _ in range(6)]
    results = _race(6, lambda i: stores[i].resolve(HS_A, "ann@example.com"))
    assert len(set(results)) == 1
    assert _count(engine, identities) == 1
    assert _count(engine, people) == 1


def test_concurrent_resolution_of_one_new_email_makes_one_person(
    engine: Engine, clock: ManualClock
) -> None:
    store = IdentityStore(engine, clock)
    refs = [RecordRef("hubspot", "contacts", str(n)) for n in range(6)]
    results = _race(6, lambda i: store.resolve(refs[i], "ann@example.com"))
    assert len(set(results)) == 1
    assert _count(engine, identities) == 6
