"""The touchpoint ledger: dedup by touch key per person, ordering, and streaming reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from closedloop.runtime.clock import ManualClock
from closedloop.sync.identity import IdentityStore
from closedloop.sync.ledger import TouchLedger
from closedloop.sync.model import RecordRef
from closedloop.sync.touchpoints import Touchpoint, touch_key

MakeTouch = Callable[..., Touchpoint]


@pytest.fixture
def ledger(engine: Engine, clock: ManualClock) -> TouchLedger:
    return TouchLedger(engine, clock)


@pytest.fixture
def identity(engine: Engine, clock: ManualClock) -> IdentityStore:
    return IdentityStore(engine, clock)


def _person(identity: IdentityStore, n: int) -> str:
    return identity.resolve(RecordRef("hubspot", "contacts", str(n)))


def test_duplicate_touches_are_no_ops(
    ledger: TouchLedger, identity: IdentityStore, make_touch: MakeTouch
) -> None:
    person = _person(identity, 1)
    touches = [make_touch(0), make_touch(5, utm_campaign="spring")]
    assert ledger.add(person, touches) == 2
    assert ledger.add(person, touches) == 0
    # The same click reported again by another producer, in the same minute: one touch.
    echo = make_touch(0.5, origin="hubspot", external_id="e-1")
    assert touch_key(echo) == touch_key(touches[0])
    assert ledger.add(person, [echo, echo]) == 0
    assert ledger.count() == 2


def test_touches_round_trip_in_time_then_key_order(
    ledger: TouchLedger, identity: IdentityStore, make_touch: MakeTouch
) -> None:
    person = _person(identity, 1)
    late = make_touch(60, click_ids={"gclid": "abc", "fbclid": "f"}, referrer="https://t.co/x")
    early = make_touch(0, utm_source=None, utm_medium=None, channel="Direct", landing_page=None)
    tie = make_touch(0, utm_campaign="tie")
    ledger.add(person, [late, early, tie])
    stored = ledger.touches_of(person)
    assert stored[-1] == late
    assert stored[-1].click_ids == {"fbclid": "f", "gclid": "abc"}
    assert stored[:2] == sorted([early, tie], key=touch_key)
    assert [touch_key(t) for t in stored] == [
        touch_key(t)
        for t in sorted([late, early, tie], key=lambda t: (t.occurred_at, touch_key(t)))
    ]
    assert ledger.touches_of(person, until=early.occurred_at) == stored[:2]


def test_the_same_touch_of_two_people_is_kept_for_each(
    ledger: TouchLedger, identity: IdentityStore, make_touch: MakeTouch
) -> None:
    ann, bob = _person(identity, 1), _person(identity, 2)
    direct = make_touch(0, utm_source=None, utm_medium=None, channel="Direct")
    assert ledger.add_many([(ann, direct), (bob, direct), (ann, direct)]) == 2
    assert ledger.touches_by_person([ann, bob, "nobody"]) == {ann: [direct], bob: [direct]}


def test_touches_added_to_a_merged_person_land_on_the_survivor(
    ledger: TouchLedger, identity: IdentityStore, make_touch: MakeTouch
) -> None:
    keep, gone = _person(identity, 1), _person(identity, 2)
    identity.merge(RecordRef("hubspot", "contacts", "1"), [RecordRef("hubspot", "contacts", "2")])
    assert ledger.add(gone, [make_touch(0)]) == 1
    assert ledger.add(keep, [make_touch(0)]) == 0
    assert len(ledger.touches_of(keep)) == 1


def test_people_with_touches_recorded_since(
    ledger: TouchLedger, identity: IdentityStore, clock: ManualClock, make_touch: MakeTouch
) -> None:
    ann, bob = _person(identity, 1), _person(identity, 2)
    ledger.add(ann, [make_touch(0)])
    clock.advance(3600)
    checkpoint = clock.now()
    ledger.add(bob, [make_touch(-600)])  # an old touch, recorded late
    assert ledger.people_with_touches_since(checkpoint) == [bob]
    assert ledger.people_with_touches_since(checkpoint - timedelta(hours=2)) == sorted([ann, bob])


def test_a_touch_for_an_unknown_person_is_refused(
    ledger: TouchLedger, make_touch: MakeTouch
) -> None:
    with pytest.raises(IntegrityError):
        ledger.add("f" * 32, [make_touch(0)])
    assert ledger.count() == 0


def test_large_batches_are_chunked(
    ledger: TouchLedger, identity: IdentityStore, make_touch: MakeTouch
) -> None:
    people = [_person(identity, n) for n in range(3)]
    items = [(people[i % 3], make_touch(i)) for i in range(1_234)]
    assert ledger.add_many(items) == 1_234
    assert ledger.add_many(items) == 0
    assert sum(len(v) for v in ledger.touches_by_person(people).values()) == 1_234
