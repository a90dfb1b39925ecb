"""The outbox: idempotent enqueue, the claim/complete/fail/dead/replay life, concurrent claims."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from closedloop.connectors.contract import RowResult, RowWrite
from closedloop.runtime.clock import ManualClock
from closedloop.sync.outbox import Outbox, OutboxItem


def _item(n: int, system: str = "hubspot", **extra: object) -> OutboxItem:
    values: dict[str, object] = {"record_id": str(n), **extra}
    return OutboxItem(
        push_key=f"key-{n}",
        system=system,
        object_type="contacts",
        fields={"cl_touch_count": n},
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
def box(engine: Engine, clock: ManualClock) -> Outbox:
    return Outbox(engine, clock)


def test_enqueue_is_idempotent_by_push_key(box: Outbox) -> None:
    assert box.enqueue([_item(1), _item(2), _item(1)]) == 2
    assert box.enqueue([_item(1), _item(3)]) == 1
    assert box.pending_count() == 3
    assert box.pending_count("salesforce") == 0


def test_enqueue_joins_the_callers_transaction(box: Outbox, engine: Engine) -> None:
    with engine.connect() as conn:
        assert box.enqueue([_item(1)], connection=conn) == 1
        conn.rollback()
    assert box.pending_count() == 0
    with engine.begin() as conn:
        box.enqueue([_item(2)], connection=conn)
        conn.execute(text("SELECT 1"))  # the caller's own change would go here
    assert box.pending_count() == 1


def test_items_become_row_writes() -> None:
    upsert = OutboxItem(
        push_key="k",
        system="salesforce",
        object_type="Lead",
        fields={"Email": "a@b.c"},
        match=("Email", "a@b.c"),
    )
    assert upsert.to_row_write() == RowWrite(
        "k", "Lead", {"Email": "a@b.c"}, None, ("Email", "a@b.c")
    )


def test_claim_complete_lifecycle(box: Outbox, clock: ManualClock) -> None:
    box.enqueue([_item(n) for n in range(5)] + [_item(9, system="salesforce")])
    first = box.claim("hubspot", 3)
    assert [item.push_key for item in first] == ["key-0", "key-1", "key-2"]
    assert all(item.state == "sending" and item.attempts == 1 for item in first)
    rest = box.claim("hubspot", 10)
    assert [item.push_key for item in rest] == ["key-3", "key-4"]
    assert box.claim("hubspot", 10) == []
    assert box.complete([first[0].id or 0, "key-1", "key-2", "key-2", "missing"]) == 3
    assert box.get("key-0").state == "done"  # type: ignore[union-attr]
    assert box.pending_count() == 1  # the salesforce item
    assert box.enqueue([_item(0)]) == 0  # done items still block a second push


def test_complete_records_created_ids(box: Outbox) -> None:
    box.enqueue([_item(1, record_id=None, match=("email", "a@b.c"))])
    claimed = box.claim("hubspot", 1)
    box.complete(["key-1"], [RowResult("key-1", ok=True, record_id="501", created=True)])
    done = box.get("key-1")
    assert done is not None
    assert (done.record_id, done.match, done.state) == ("501", ("email", "a@b.c"), "done")
    assert claimed[0].to_row_write().match == ("email", "a@b.c")


def test_fail_retries_later_then_dies_and_replays(box: Outbox, clock: ManualClock) -> None:
    box.enqueue([_item(1), _item(2)])
    box.claim("hubspot", 2)
    box.fail("key-1", "429 rate limited", clock.now() + timedelta(minutes=5))
    box.fail("key-2", "INVALID_FIELD: no such field", None)
    assert box.claim("hubspot", 10) == []  # not due yet
    assert box.dead_count() == 1
    [dead] = box.dead_letters()
    assert (dead.push_key, dead.last_error, dead.attempts) == (
        "key-2",
        "INVALID_FIELD: no such field",
        1,
    )

    clock.advance(300)
    [retry] = box.claim("hubspot", 10)
    assert (retry.push_key, retry.attempts, retry.last_error) == ("key-1", 2, "429 rate limited")
    box.complete(["key-1"])

    assert box.replay("key-404") == 0
    assert box.replay() == 1
    assert box.dead_count() == 0
    [again] = box.claim("hubspot", 10)
    assert (again.push_key, again.attempts) == ("key-2", 1)


def test_a_claim_due_now_honours_next_attempt_at(box: Outbox, clock: ManualClock) -> None:
    box.enqueue([_item(1, next_attempt_at=clock.now() + timedelta(hours=1))])
    assert box.claim("hubspot", 10) == []
    assert len(box.claim("hubspot", 10, now=clock.now() + timedelta(hours=1))) == 1


def test_stale_sending_items_are_released(box: Outbox, clock: ManualClock) -> None:
    box.enqueue([_item(1)])
    box.claim("hubspot", 1)
    clock.advance(600)
    assert box.release_stale(clock.now() - timedelta(minutes=15)) == 0
    assert box.release_stale(clock.now() - timedelta(minutes=5)) == 1
    assert [item.push_key for item in box.claim("hubspot", 1)] == ["key-1"]


def test_concurrent_claims_never_share_an_item(engine: Engine, clock: ManualClock) -> None:
    total, workers = 300, 6
    Outbox(engine, clock).enqueue([_item(n) for n in range(total)])
    barrier = threading.Barrier(workers)
    claimed: list[list[str]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        box = Outbox(engine, clock)
        barrier.wait()
        try:
            while batch := box.claim("hubspot", 7):
                claimed[index].extend(item.push_key for item in batch)
                box.complete([item.push_key for item in batch])
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    everything = [key for keys in claimed for key in keys]
    assert len(everything) == total
    assert len(set(everything)) == total
    assert Outbox(engine, clock).pending_count() == 0
