"""Deals on the HubSpot emulator: won from stage metadata, buyers from associations, events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from closedloop.connectors.contract import MarketingEvent, Watermark
from closedloop.connectors.hubspot.connector import HubSpotConnector

Admin = Callable[..., Any]


def test_closed_deals_come_with_buyers_and_won_from_metadata(
    connector: HubSpotConnector, admin: Admin
) -> None:
    admin("post", "seed", {"contacts": 60, "companies": 6, "deals": 40, "seed": 5})
    stages = connector.deals.stages()
    won_stages = {key for key, meta in stages.items() if meta.is_won}
    assert won_stages
    assert all(meta.is_closed for meta in stages.values() if meta.is_won)
    closed = list(connector.closed_deals(Watermark()))
    assert closed
    assert all(deal.is_closed for deal in closed)
    won = [deal for deal in closed if deal.is_won]
    assert won
    assert all(deal.buyer_ids for deal in won)
    everything = [
        r for p in connector.read_all("deals", ["dealstage", "pipeline"]) for r in p.records
    ]
    expected_won = {
        r.id
        for r in everything
        if (str(r.fields["pipeline"]), str(r.fields["dealstage"])) in won_stages
    }
    assert {deal.deal_id for deal in won} == expected_won
    buyers = connector.related_ids("deals", [won[0].deal_id], "contacts")
    assert buyers[won[0].deal_id] == won[0].buyer_ids


def test_events_are_sent_once_per_push_key(connector: HubSpotConnector, admin: Admin) -> None:
    event = MarketingEvent(
        "deal-1:v1",
        "pe_closed_won",
        datetime(2026, 3, 1, tzinfo=UTC),
        email="buyer@example.com",
        properties={"amount": 1200.5},
    )
    assert all(r.ok for r in connector.push_events([event]))
    assert all(r.ok for r in connector.push_events([event]))
    occurrences = admin("get", "events")["behavioral"]
    assert len(occurrences) == 2
    # Both sends carry the same uuid, derived from the push key: HubSpot keeps one occurrence.
    assert len({o["uuid"] for o in occurrences}) == 1
    assert occurrences[0]["email"] == "buyer@example.com"
