"""Processed webhook events are purged after their retention; pending and dead ones never are.

Runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from closedloop.cli.serve_commands import purge_inbox
from closedloop.config.schema import Settings, WebhookSettings
from closedloop.runtime.clock import ManualClock
from closedloop.webhooks.inbox import Inbox, InboxEvent
from closedloop.webhooks.services import Services

DAY = 86_400.0


def _events(prefix: str, count: int) -> list[InboxEvent]:
    return [
        InboxEvent(
            source="hubspot",
            dedupe_key=f"{prefix}:{n}",
            system="hubspot",
            object_type="contacts",
            record_id=str(n),
            event_type="contact.propertyChange",
            occurred_at=None,
            payload={"n": n},
        )
        for n in range(count)
    ]


def _process(inbox: Inbox, count: int) -> list[int]:
    ids = [event.id for event in inbox.claim(count)]
    assert inbox.complete(ids) == len(ids)
    return ids


def test_purge_keeps_recent_pending_and_dead_events(store: Engine) -> None:
    clock = ManualClock(datetime(2026, 5, 1, tzinfo=UTC))
    inbox = Inbox(store, clock)
    inbox.add(_events("old", 12))
    _process(inbox, 12)
    inbox.add(_events("dead", 1))
    dead = inbox.claim(1)[0]
    assert inbox.fail(dead, "poison", max_attempts=1) == "dead"
    clock.advance(8 * DAY)
    inbox.add(_events("recent", 3))
    _process(inbox, 3)
    inbox.add(_events("waiting", 2))

    assert inbox.purge_done(clock.now() - timedelta(days=7), chunk=5) == 12

    assert inbox.counts() == {"pending": 2, "processing": 0, "done": 3, "dead": 1}
    assert inbox.purge_done(clock.now() - timedelta(days=7)) == 0


def test_serve_purge_job_uses_the_configured_retention(store: Engine) -> None:
    clock = ManualClock(datetime(2026, 5, 1, tzinfo=UTC))
    config = Settings(webhooks=WebhookSettings(done_retention_days=2))
    services = Services.from_settings(config, clock=clock, store=store)
    services.inbox.add(_events("a", 4))
    _process(services.inbox, 4)
    clock.advance(1.5 * DAY)
    assert purge_inbox(services, config) == 0
    clock.advance(DAY)
    assert purge_inbox(services, config) == 4
    assert services.inbox.counts()["done"] == 0
    # a redelivery after the purge is stored again (and re-processing it is harmless)
    assert services.inbox.add(_events("a", 1)) == 1
