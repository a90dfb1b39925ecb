"""Behavioural and timeline events, synthetic seed data, reset and determinism."""

from __future__ import annotations

from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest, SimplePublicObjectInputForCreate
from hubspot.crm.timeline import TimelineEvent
from hubspot.events.send import (
    ApiException,
    BatchedBehavioralEventHttpCompletionRequest,
    BehavioralEventHttpCompletionRequest,
)

from closedloop.emulators.hubspot import HubSpotEmulator, create_emulator


def test_behavioral_event_send_answers_204(hs: HubSpot, admin: Any) -> None:
    _, status, _ = hs.events.send.basic_api.send_with_http_info(
        BehavioralEventHttpCompletionRequest(
            event_name="pe62515_closed_won", email="buyer@x.com", properties={"amount": "1200"}
        )
    )
    assert status == 204
    _, status, _ = hs.events.send.batch_api.send_with_http_info(
        BatchedBehavioralEventHttpCompletionRequest(
            inputs=[
                BehavioralEventHttpCompletionRequest(event_name="pe62515_closed_won", object_id="7")
            ]
        )
    )
    assert status == 204
    received = admin.get("events")["behavioral"]
    assert [e["eventName"] for e in received] == ["pe62515_closed_won"] * 2
    assert received[0]["properties"] == {"amount": "1200"}
    with pytest.raises(ApiException) as caught:
        hs.events.send.basic_api.send(BehavioralEventHttpCompletionRequest(event_name="no_target"))
    assert caught.value.status == 400


def test_timeline_event_create_answers_201(hs: HubSpot) -> None:
    contact = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "t@x.com"})
    )
    created, status, _ = hs.crm.timeline.events_api.create_with_http_info(
        TimelineEvent(event_template_id="1001", email="t@x.com", tokens={"amount": "1200"})
    )
    assert status == 201
    assert created.object_id == contact.id
    fetched = hs.crm.timeline.events_api.get_by_id("1001", created.id)
    assert fetched.tokens == {"amount": "1200"}


def test_seed_creates_journeys_deals_and_associations(hs: HubSpot, admin: Any) -> None:
    answer = admin.post("seed", {"contacts": 60, "companies": 10, "deals": 40, "seed": 1})
    assert answer["seeded"] == {"companies": 10, "contacts": 60, "deals": 40}
    assert answer["totals"]["associations"] > 60
    contacts = hs.crm.contacts.basic_api.get_page(
        limit=100,
        properties=["hs_analytics_source", "utm_source", "hs_latest_source"],
        properties_with_history=["hs_latest_source", "hs_latest_source_data_1", "utm_campaign"],
    )
    assert len(contacts.results) == 60
    assert all(c.properties.get("hs_analytics_source") for c in contacts.results)
    journeys = [c.properties_with_history.get("hs_latest_source", []) for c in contacts.results]
    assert max(len(j) for j in journeys) >= 2, "some contacts have several touches"
    touch = max(journeys, key=len)
    assert touch[0].timestamp > touch[-1].timestamp, "history is newest first"
    assert {h.source_type for h in touch} == {"ANALYTICS"}
    assert any(c.properties.get("utm_source") for c in contacts.results)
    deals = hs.crm.deals.basic_api.get_page(
        limit=100,
        properties=["dealstage", "deal_currency_code", "amount", "hs_is_closed_won"],
        associations=["contacts"],
    )
    stages = {d.properties["dealstage"] for d in deals.results}
    assert {"closedwon", "closedlost"} <= stages
    assert len(stages) >= 4
    assert len({d.properties["deal_currency_code"] for d in deals.results}) >= 2
    assert all(d.associations["contacts"].results for d in deals.results)
    won = hs.crm.deals.search_api.do_search(
        {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"}
                    ]
                }
            ]
        }
    )
    assert won.total == sum(d.properties["hs_is_closed_won"] == "true" for d in deals.results)


def test_seed_is_deterministic_and_reset_empties(emulator: HubSpotEmulator, hs: HubSpot) -> None:
    other = create_emulator(clock=emulator.clock, seed=7)
    try:
        options = {"contacts": 20, "companies": 4, "deals": 5, "seed": 3}
        emulator.seed(options)
        other.seed(options)
        mine = hs.crm.contacts.basic_api.get_page(limit=20, properties=["email"]).results
        theirs = [other.portal.store("contacts").find(c.id) for c in mine]
        assert [c.properties["email"] for c in mine] == [
            t.properties["email"] if t else None for t in theirs
        ]
    finally:
        other.close()
    emulator.reset()
    assert hs.crm.contacts.search_api.do_search(PublicObjectSearchRequest()).total == 0
