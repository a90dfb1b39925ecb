"""Deal notifications: a burst becomes one revenue run; an open, never-won deal costs nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from closedloop.config.schema import Settings
from closedloop.revenue.events import Observation, RevenueStore
from closedloop.runtime.clock import ManualClock
from closedloop.webhooks.inbox import InboxEvent, StoredEvent
from closedloop.webhooks.routes_salesforce import OUTBOUND_SOURCE
from closedloop.webhooks.services import Services
from closedloop.webhooks.worker import InboxWorker
from closedloop.webhooks.worker_upkeep import BurstGate

Handled = list[tuple[str, str, list[str]]]


def _notification(n: int, *, closed: bool) -> InboxEvent:
    record_id = f"0060700000000{n:02d}AAA"
    return InboxEvent(
        source=OUTBOUND_SOURCE,
        dedupe_key=f"sfom:test:{n}",
        system="salesforce",
        object_type="Opportunity",
        record_id=record_id,
        event_type="outbound_message",
        occurred_at=None,
        payload={
            "object": "Opportunity",
            "id": record_id,
            "fields": {"StageName": "Closed Won" if closed else "Qualification",
                       "IsClosed": "true" if closed else "false",
                       "IsWon": "true" if closed else "false"},
        },
    )  # fmt: skip


def _worker(store: Engine, handled: Handled, *, batch_size: int = 100) -> InboxWorker:
    def on_deals(system: str, object_type: str, ids: list[str]) -> None:
        handled.append((system, object_type, ids))

    services = Services(store=store, clock=ManualClock(datetime.now(UTC)), on_deals=on_deals)
    return InboxWorker(services, Settings(), batch_size=batch_size)


def test_a_burst_of_deal_notifications_is_handed_over_in_one_run(store: Engine) -> None:
    handled: Handled = []
    worker = _worker(store, handled, batch_size=4)
    worker.services.inbox.add([_notification(n, closed=True) for n in range(10)])

    result = worker.process_once()

    assert (result.claimed, result.done) == (10, 10)  # past batch_size: the burst coalesced
    assert len(handled) == 1
    expected = sorted(_notification(n, closed=True).record_id for n in range(10))
    assert sorted(handled[0][2]) == expected


def test_an_open_deal_without_revenue_is_not_read(store: Engine) -> None:
    handled: Handled = []
    worker = _worker(store, handled)
    revenue = RevenueStore(store)
    reopened = _notification(1, closed=False)
    revenue.record(Observation("salesforce", reopened.record_id, "not_won"), None, {})
    worker.services.inbox.add([_notification(0, closed=False), reopened])

    result = worker.process_once()

    assert result.done == 2  # both settled ...
    # ... but only the deal with revenue history is read: it may have been reopened.
    assert handled == [("salesforce", "Opportunity", [reopened.record_id])]


def test_worker_threads_hand_their_deal_events_to_the_burst_leader(store: Engine) -> None:
    handled: Handled = []
    worker = _worker(store, handled, batch_size=5)
    worker.coalesce_seconds = 2.0
    worker.services.inbox.add([_notification(n, closed=True) for n in range(40)])

    worker.start(threads=3)
    try:
        deadline = time.monotonic() + 60
        while worker.services.inbox.counts()["done"] < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()

    assert worker.services.inbox.counts()["done"] == 40
    assert len(handled) == 1  # three threads, one revenue run
    assert len(handled[0][2]) == 40


def test_burst_gate_has_one_leader_and_refuses_late_hand_ins() -> None:
    events = [_stored(n) for n in range(3)]
    gate = BurstGate()
    assert gate.lead()
    assert not gate.lead()  # a second thread cannot lead the same burst ...
    assert gate.hand(events[:2])  # ... it hands its deal events in
    assert gate.finish() == events[:2]
    assert not gate.hand(events[2:])  # too late: the burst was collected
    assert gate.lead()  # the next burst has a leader again
    assert gate.finish() == []


def _stored(n: int) -> StoredEvent:
    event = _notification(n, closed=True)
    now = datetime.now(UTC)
    return StoredEvent(
        **vars(event),
        id=n + 1,
        state="processing",
        attempts=1,
        received_at=now,
        next_attempt_at=now,
        last_error=None,
        processed_at=None,
    )
