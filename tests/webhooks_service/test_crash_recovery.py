"""Claims of a killed worker are released within a minute; a live worker's claims never are."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from closedloop.config.schema import Settings
from closedloop.runtime.clock import ManualClock
from closedloop.webhooks.inbox import Inbox, InboxEvent
from closedloop.webhooks.services import Services
from closedloop.webhooks.worker import InboxWorker


def _event(n: int) -> InboxEvent:
    return InboxEvent(
        source="test",
        dedupe_key=f"crash-{n}",
        system="hubspot",
        object_type="companies",
        record_id=str(n),
        event_type="company.propertyChange",
        occurred_at=None,
        payload={},
    )


def test_a_touched_claim_stays_and_an_untouched_one_is_released(store: Engine) -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    inbox = Inbox(store, clock)
    inbox.add([_event(1), _event(2)])
    alive, dead = inbox.claim(10)
    clock.advance(45)
    assert inbox.touch([alive.id]) == 1  # the heartbeat of a worker still busy with it
    clock.advance(30)
    worker = InboxWorker(Services(store=store, clock=clock), Settings())
    assert worker.stale_after.total_seconds() == 60
    assert inbox.release_stale(clock.now() - worker.stale_after, max_attempts=5) == 1
    assert [e.state for e in (inbox.get(alive.id), inbox.get(dead.id))] == [  # type: ignore[union-attr]
        "processing",
        "pending",
    ]
    assert inbox.touch([dead.id]) == 0  # only claims still held can be refreshed


def test_after_a_kill_the_next_pass_processes_the_abandoned_event_once(store: Engine) -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    services = Services(store=store, clock=clock)
    inbox = services.inbox
    inbox.add([_event(3)])
    (claimed,) = inbox.claim(10)  # the worker holding it is killed here
    worker = InboxWorker(services, Settings())
    assert worker.process_once().claimed == 0
    clock.advance(61)
    result = worker.process_once()
    assert (result.released, result.claimed, result.done) == (1, 1, 1)
    again = inbox.get(claimed.id)
    assert again is not None
    assert (again.state, again.attempts) == ("done", 2)
    assert worker.process_once().claimed == 0
