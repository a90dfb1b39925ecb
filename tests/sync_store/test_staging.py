"""Staged work of a run: held apart from the outbox, released in order, or discarded."""

from __future__ import annotations

from sqlalchemy import Engine

from closedloop.runtime.clock import ManualClock
from closedloop.sync.model import RecordRef
from closedloop.sync.outbox import Outbox, OutboxItem
from closedloop.sync.provenance import FieldDecisionRow
from closedloop.sync.staging import StagedBatch, StagingArea


def batch(n: int) -> StagedBatch:
    return StagedBatch(
        writes=[
            OutboxItem(
                push_key=f"salesforce:Lead:{n}-{i}",
                system="salesforce",
                object_type="Lead",
                fields={"CL_Touch_Count__c": i},
                match=("closedloop_id__c", f"p{i}") if i % 2 else None,
                record_id=None if i % 2 else f"00Q{i}",
                run_id=7,
            )
            for i in range(3)
        ],
        decisions=[
            FieldDecisionRow(
                system="salesforce",
                object_type="Lead",
                record_id="00Q1",
                field="LeadSource",
                outcome="refused",
                value="Web",
                previous="Phone Inquiry",
                rule="write_once",
                reason="already set",
                run_id=7,
            )
        ],
        reads=[(RecordRef("salesforce", "Lead", "00Q2"), {"Phone": "+1 555"})],
    )


def test_staged_writes_are_not_claimable_until_released(engine: Engine, clock: ManualClock) -> None:
    staging, outbox = StagingArea(engine, clock), Outbox(engine, clock)
    assert staging.stage(7, batch(1)) == 5
    assert staging.stage(7, batch(2)) == 5
    assert staging.stage(8, batch(3)) == 5
    assert outbox.claim("salesforce", 100) == []

    released: list[StagedBatch] = []
    assert staging.release(7, released.append) == 10
    writes = [item for b in released for item in b.writes]
    assert [w.push_key for w in writes] == [
        f"salesforce:Lead:{n}-{i}" for n in (1, 2) for i in range(3)
    ]
    assert writes == batch(1).writes + batch(2).writes
    assert [d for b in released for d in b.decisions] == batch(1).decisions * 2
    assert [r for b in released for r in b.reads] == batch(1).reads * 2
    assert staging.count(7) == 0
    assert staging.count(8) == 5


def test_an_aborted_run_discards_only_its_own_rows(engine: Engine, clock: ManualClock) -> None:
    staging = StagingArea(engine, clock)
    staging.stage(7, batch(1))
    staging.stage(8, batch(2))
    assert staging.discard(7) == 5
    assert staging.count() == 5
    assert list(staging.batches(7)) == []
