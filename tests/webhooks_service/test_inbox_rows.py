"""Inbox.add writes driver-level INSERTs: rows must be stored exactly as SQLAlchemy Core would.

Each test runs on SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, cast, insert, select
from sqlalchemy.exc import StatementError
from sqlalchemy.types import Text

from closedloop.runtime.clock import ManualClock
from closedloop.store.schema import webhook_inbox
from closedloop.webhooks.inbox import Inbox, InboxEvent

RECEIVED = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
PAYLOADS: list[dict[str, Any]] = [
    {"objectId": 1, "propertyValue": "plain"},
    {"propertyValue": "café \U0001f600 \u2028", "nested": {"list": [1, 2.5, None, True]}},
    {"quote": 'he said "hi"\\', "empty": {}, "big": 2**62},
]
OCCURRED: list[datetime | None] = [
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    None,
]


def _event(key: str, n: int) -> InboxEvent:
    return InboxEvent(
        source="hubspot",
        dedupe_key=key,
        system="hubspot",
        object_type="contacts",
        record_id=str(9000 + n),
        event_type="contact.propertyChange",
        occurred_at=OCCURRED[n % len(OCCURRED)],
        payload=PAYLOADS[n % len(PAYLOADS)],
    )


def _core_insert(store: Engine, event: InboxEvent) -> None:
    """The row as the type-processing SQLAlchemy Core path writes it (the reference)."""
    with store.begin() as conn:
        conn.execute(
            insert(webhook_inbox).values(
                source=event.source,
                dedupe_key=event.dedupe_key,
                system=event.system,
                object_type=event.object_type,
                record_id=event.record_id,
                event_type=event.event_type,
                occurred_at=event.occurred_at,
                received_at=RECEIVED,
                payload=event.payload,
                state="pending",
                attempts=0,
                next_attempt_at=RECEIVED,
            )
        )


def _stored_text(store: Engine, key: str) -> dict[str, Any]:
    """Every column but the id and key, as the database renders its stored value as text."""
    columns = [c for c in webhook_inbox.c if c.name not in ("id", "dedupe_key")]
    query = select(*(cast(c, Text).label(c.name) for c in columns)).where(
        webhook_inbox.c.dedupe_key == key
    )
    with store.connect() as conn:
        return dict(conn.execute(query).one()._mapping)


def test_rows_are_stored_byte_for_byte_as_sqlalchemy_core_stores_them(store: Engine) -> None:
    inbox = Inbox(store, ManualClock(RECEIVED))
    assert inbox.add([_event(f"fast-{n}", n) for n in range(3)]) == 3
    for n in range(3):
        _core_insert(store, _event(f"core-{n}", n))
        assert _stored_text(store, f"fast-{n}") == _stored_text(store, f"core-{n}")


def test_rows_read_back_through_the_inbox_unchanged(store: Engine) -> None:
    inbox = Inbox(store, ManualClock(RECEIVED))
    events = [_event(f"k{n}", n) for n in range(3)]
    inbox.add(events)
    stored = inbox.events()
    assert [s.dedupe_key for s in stored] == ["k0", "k1", "k2"]
    for event, row in zip(events, stored, strict=True):
        assert row.payload == event.payload
        assert row.occurred_at == event.occurred_at
        assert row.occurred_at is None or row.occurred_at.utcoffset() == timedelta(0)
        assert (row.received_at, row.next_attempt_at) == (RECEIVED, RECEIVED)
        assert (row.state, row.attempts, row.last_error, row.processed_at) == (
            "pending",
            0,
            None,
            None,
        )
        assert (row.record_id, row.event_type) == (event.record_id, event.event_type)


@pytest.mark.parametrize("size", [250, 6100])  # 6,100 rows: more than one SQLite statement
def test_batches_keep_their_order_and_count_only_new_events(store: Engine, size: int) -> None:
    inbox = Inbox(store, ManualClock(RECEIVED))
    assert inbox.add([_event(f"old-{n}", n) for n in range(0, size, 2)]) == size // 2
    mixed = [_event(f"old-{n}", n) for n in range(size)]  # half of them stored already
    mixed += [_event("twice", 0), _event("twice", 1)]  # one key twice in one call
    assert inbox.add(mixed) == size // 2 + 1
    assert inbox.add(mixed) == 0
    keys = [event.dedupe_key for event in inbox.events(limit=size + 10)]
    odd = [f"old-{n}" for n in range(1, size, 2)]
    assert keys == [f"old-{n}" for n in range(0, size, 2)] + odd + ["twice"]
    assert inbox.counts()["pending"] == size + 1


def test_a_naive_timestamp_is_refused_and_nothing_is_stored(store: Engine) -> None:
    inbox = Inbox(store, ManualClock(RECEIVED))
    naive_stamp = RECEIVED.replace(tzinfo=None)
    naive = InboxEvent(**{**_event("naive", 0).__dict__, "occurred_at": naive_stamp})
    with pytest.raises((ValueError, StatementError), match="naive datetime"):
        inbox.add([_event("fine", 1), naive])
    assert inbox.events() == []
