"""Behavioural events carrying each revenue version's delta per campaign (HubSpot).

HubSpot has no writable campaign revenue, so the campaign dimension travels as events: for
every new version of a deal, one event per (campaign, channel, source) whose credit under
``revenue.model`` changed, carrying the change (``revenue_delta``, in the home currency).
Summing a campaign's events gives its attributed revenue; a correction is a new event, never
a second full push. Events wait in the outbox (system ``<marketing>:events``) with the push
key ``revenue-event:<crm>:<deal>:v<version>:<group>``; HubSpot receives a uuid derived from
it, so a resent event is recorded once. Events attach to the deal's first buyer that has a
contact in the marketing system; a deal without one sends no event (its revenue is still on
the ``(unattributed)`` company).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from closedloop.connectors.contract import Connector, MarketingEvent, Value
from closedloop.revenue.events import RevenueVersion
from closedloop.revenue.journeys import Credit
from closedloop.revenue.totals import money_text
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.sync.outbox import Outbox, OutboxItem

__all__ = ["DEFAULT_EVENT_NAME", "event_items", "flush_events"]

DEFAULT_EVENT_NAME = "closedloop_revenue"
_BATCH = 500
_META = ("event_name", "occurred_at")

Group = tuple[str | None, str | None, str | None]


def _by_group(credits: Sequence[Credit]) -> dict[Group, Decimal]:
    sums: dict[Group, Decimal] = {}
    for credit in credits:
        group = (credit.campaign, credit.channel, credit.source)
        sums[group] = sums.get(group, Decimal("0.00")) + credit.amount
    return sums


def event_items(
    system: str,
    version: RevenueVersion,
    previous_credits: Sequence[Credit],
    contact_id: str | None,
    *,
    model: str,
    event_name: str,
    run_id: int,
) -> list[OutboxItem]:
    """The events of one new version: the credit change per (campaign, channel, source)."""
    if contact_id is None:
        return []
    now_sums = _by_group(version.credits.get(model, []))
    before = _by_group(previous_credits)
    items = []
    for group in sorted(set(now_sums) | set(before), key=lambda g: tuple(x or "" for x in g)):
        delta = now_sums.get(group, Decimal("0.00")) - before.get(group, Decimal("0.00"))
        if not delta:
            continue
        campaign, channel, source = group
        label = "|".join(x or "" for x in group)
        digest = hashlib.sha256(label.encode()).hexdigest()[:16]
        fields: dict[str, Value] = {
            "event_name": event_name,
            "occurred_at": (version.created_at or datetime.now(UTC)).isoformat(),
            "deal_id": version.deal_id,
            "deal_version": version.version,
            "deal_state": version.state,
            "revenue_delta": money_text(delta),
            "currency": version.home_currency,
            "campaign": campaign or "(unattributed)",
            "channel": channel or "(unattributed)",
            "source": source or "",
            "model": model,
        }
        items.append(
            OutboxItem(
                push_key=f"revenue-event:{version.system}:{version.deal_id}:"
                f"v{version.version}:{digest}",
                system=f"{system}:events",
                object_type="event",
                fields=fields,
                record_id=contact_id,
                run_id=run_id,
            )
        )
    return items


def flush_events(
    outbox: Outbox, system: str, connector: Connector, clock: Clock = SYSTEM_CLOCK
) -> tuple[int, int]:
    """Send the due revenue events of ``system``; returns (sent, failed)."""
    sent = failed = 0
    while True:
        items = outbox.claim(f"{system}:events", _BATCH, clock.now())
        if not items:
            return sent, failed
        events = [_event(item) for item in items]
        answers = connector.push_events(events)
        done = [a for a in answers if a.ok]
        outbox.complete([a.push_key for a in done])
        sent += len(done)
        for answer in answers:
            if not answer.ok:
                outbox.fail(answer.push_key, answer.reason or "refused", None)
                failed += 1


def _event(item: OutboxItem) -> MarketingEvent:
    fields: Mapping[str, Value] = item.fields
    return MarketingEvent(
        push_key=item.push_key,
        name=str(fields["event_name"]),
        occurred_at=datetime.fromisoformat(str(fields["occurred_at"])),
        object_id=item.record_id,
        properties={k: v for k, v in fields.items() if k not in _META},
    )
