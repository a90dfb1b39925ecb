"""Shadow state: merged fields, stable hashes, chunked reads, concurrent first writes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from closedloop.runtime.clock import ManualClock
from closedloop.sync.model import RecordRef
from closedloop.sync.shadow import ShadowStore

DEAL = RecordRef("hubspot", "deals", "77")
LEAD = RecordRef("salesforce", "Lead", "00Q1")


@pytest.fixture
def shadow(engine: Engine, clock: ManualClock) -> ShadowStore:
    return ShadowStore(engine, clock)


def test_hash_ignores_key_order_and_sees_values() -> None:
    one = ShadowStore.hash_of({"a": "1", "b": 2, "c": None, "é": "ü"})
    assert one == ShadowStore.hash_of({"é": "ü", "c": None, "b": 2, "a": "1"})
    assert one != ShadowStore.hash_of({"a": "1", "b": "2", "c": None, "é": "ü"})
    assert len(one) == 64
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert ShadowStore.hash_of({"at": moment}) == ShadowStore.hash_of({"at": moment.isoformat()})
    with pytest.raises(TypeError):
        ShadowStore.hash_of({"x": object()})


def test_remember_merges_fields_and_rehashes(shadow: ShadowStore) -> None:
    assert shadow.get(DEAL) is None
    first = shadow.remember(DEAL, {"amount": "100", "stage": "won"}, "read")
    assert first == ShadowStore.hash_of({"stage": "won", "amount": "100"})
    second = shadow.remember(DEAL, {"cl_first_touch_source": "google"}, "written")
    assert shadow.get(DEAL) == {"amount": "100", "stage": "won", "cl_first_touch_source": "google"}
    assert second == ShadowStore.hash_of(shadow.get(DEAL) or {})
    assert shadow.hashes_of([DEAL, LEAD]) == {DEAL: second}
    assert shadow.remember(DEAL, {"stage": "won"}, "read") == second  # nothing new


def test_get_many_reads_in_chunks(shadow: ShadowStore) -> None:
    refs = [RecordRef("hubspot", "contacts", str(n)) for n in range(1_203)]
    hashes = shadow.remember_many(((ref, {"n": int(ref.record_id)}) for ref in refs), "read")
    assert len(hashes) == 1_203
    found = shadow.get_many([*refs, LEAD])
    assert len(found) == 1_203
    assert found[refs[1_000]] == {"n": 1_000}


def test_forget(shadow: ShadowStore) -> None:
    shadow.remember(LEAD, {"Email": "a@b.c"}, "read")
    assert shadow.forget(LEAD) is True
    assert shadow.forget(LEAD) is False
    assert shadow.get(LEAD) is None


def test_a_ref_given_twice_in_one_batch_merges(shadow: ShadowStore) -> None:
    shadow.remember_many([(LEAD, {"a": 1}), (LEAD, {"b": 2}), (LEAD, {"a": 3})], "written")
    assert shadow.get(LEAD) == {"a": 3, "b": 2}


def test_concurrent_first_writes_keep_every_field(engine: Engine, clock: ManualClock) -> None:
    workers = 6
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        barrier.wait()
        try:
            ShadowStore(engine, clock).remember(DEAL, {f"field_{n}": n}, "written")
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ShadowStore(engine, clock).get(DEAL) == {f"field_{n}": n for n in range(workers)}
