"""Provenance: field decisions recorded and read back per person and per record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from closedloop.runtime.clock import ManualClock
from closedloop.sync.identity import IdentityStore
from closedloop.sync.model import RecordRef
from closedloop.sync.provenance import FieldDecisionRow, ProvenanceLog
from closedloop.sync.runs import RunLog

CONTACT = RecordRef("hubspot", "contacts", "101")


@pytest.fixture
def log(engine: Engine, clock: ManualClock) -> ProvenanceLog:
    return ProvenanceLog(engine, clock)


def _decision(person_id: str, field: str, **extra: object) -> FieldDecisionRow:
    values: dict[str, object] = {
        "outcome": "written",
        "rule": "write_once",
        "source": "touchpoints",
    }
    values.update(extra)
    return FieldDecisionRow(
        system="hubspot",
        object_type="contacts",
        record_id="101",
        field=field,
        person_id=person_id,
        **values,  # type: ignore[arg-type]
    )


def test_history_is_ordered_and_keeps_values(
    log: ProvenanceLog, engine: Engine, clock: ManualClock
) -> None:
    person = IdentityStore(engine, clock).resolve(CONTACT)
    run_id = RunLog(engine, clock).start("incremental")
    at = datetime(2026, 1, 5, tzinfo=UTC)
    recorded_at = clock.now()
    assert log.record([_decision(person, "cl_first_touch_at", value=at, run_id=run_id)]) == 1
    clock.advance(60)
    log.record(
        [
            _decision(
                person,
                "cl_first_touch_source",
                outcome="refused",
                value="bing",
                previous="google",
                reason="first touch is written once",
            ),
            _decision(person, "cl_touch_count", outcome="planned", value=3, previous=2),
        ]
    )
    history = log.history(person)
    assert [d.field for d in history] == [
        "cl_first_touch_at",
        "cl_first_touch_source",
        "cl_touch_count",
    ]
    first, refused, planned = history
    assert (first.value, first.run_id, first.decided_at) == (at.isoformat(), run_id, recorded_at)
    assert (refused.outcome, refused.previous, refused.reason) == (
        "refused",
        "google",
        "first touch is written once",
    )
    assert (planned.value, planned.previous) == (3, 2)
    assert refused.ref == CONTACT
    assert [d.field for d in log.history(person, limit=2)] == [
        "cl_first_touch_source",
        "cl_touch_count",
    ]
    assert log.history_of_record(CONTACT) == history


def test_history_follows_merges(log: ProvenanceLog, engine: Engine, clock: ManualClock) -> None:
    identity = IdentityStore(engine, clock)
    keep = identity.resolve(CONTACT)
    gone = identity.resolve(RecordRef("hubspot", "contacts", "202"))
    log.record([_decision(gone, "cl_lead_touch_source")])
    clock.advance(1)
    log.record([_decision(keep, "cl_last_touch_source")])
    identity.merge(CONTACT, [RecordRef("hubspot", "contacts", "202")])
    assert [d.field for d in log.history(keep)] == ["cl_lead_touch_source", "cl_last_touch_source"]
    assert log.history(gone) == log.history(keep)


def test_unknown_outcomes_are_refused(log: ProvenanceLog) -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        log.record([_decision("x", "f", outcome="maybe")])
