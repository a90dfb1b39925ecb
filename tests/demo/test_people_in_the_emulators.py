"""The emulator admin routes the demo's people use, checked through the official clients.

* HubSpot ``records/write``: reps create deals on contacts and close them as in the UI;
  HubSpot derives won, close and home-currency values, and no vendor call is counted.
* Salesforce ``PATCH records/<sObject>``: a list view's mass update, one save for many
  records, each raising its Outbound Message notification.
* Salesforce Outbound Messages: a change made while a message about the same record is in
  flight queues a new notification (the message already carries the older values).
* Salesforce ``seed`` with ``journeys``: every Lead is created by its first campaign response.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, Response
from pydantic import SecretStr

from closedloop.config.schema import HubSpotSettings, RolesSettings, SalesforceSettings, Settings
from closedloop.connectors.contract import Connector
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import SalesforceEmulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer
from closedloop.sync.setup import build_connectors

TOKEN = "demo-test-token"
FIXTURES = Path(__file__).parents[1] / "emulators" / "salesforce" / "fixtures"
ACK = (FIXTURES / "salesforce_outbound_ack.xml").read_bytes()


def admin(url: str, method: str, route: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{url}/__emulator__/{route}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


@pytest.fixture
def hubspot() -> Iterator[tuple[str, Connector]]:
    emulator = hubspot_emulator(token=TOKEN, seed=3)
    with RunningServer(emulator.app) as server:
        settings = Settings(
            hubspot=HubSpotSettings(base_url=server.url, access_token=SecretStr(TOKEN)),
            roles=RolesSettings(marketing="hubspot", crm="hubspot"),
        )
        connector = build_connectors(settings)["hubspot"]
        try:
            yield server.url, connector
        finally:
            connector.close()
            emulator.close()


@pytest.fixture
def salesforce() -> Iterator[tuple[str, Connector, SalesforceEmulator]]:
    emulator = salesforce_emulator(outbound_background=False, seed=3)
    with RunningServer(emulator.app) as server:
        settings = Settings(
            salesforce=SalesforceSettings(
                instance_url=server.url,
                login_url=server.url,
                client_id="emulator-client-id",
                client_secret=SecretStr("emulator-client-secret"),
            ),
            roles=RolesSettings(marketing="salesforce", crm="salesforce"),
        )
        connector = build_connectors(settings)["salesforce"]
        try:
            yield server.url, connector, emulator
        finally:
            connector.close()
            emulator.close()


def rows(connector: Connector, query: str) -> list[dict[str, Any]]:
    reader = connector.reader  # type: ignore[attr-defined]
    return [row for page in reader.pages(query) for row in page]


def test_hubspot_reps_open_and_close_deals_on_contacts(hubspot: tuple[str, Connector]) -> None:
    url, connector = hubspot
    admin(url, "post", "seed", {"contacts": 3, "companies": 1, "deals": 0})
    contacts = [r.id for p in connector.read_all("contacts", ["email"]) for r in p.records]
    admin(url, "post", "stats/reset", {})
    association = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}
    opened = admin(
        url,
        "post",
        "records/write",
        {
            "objectType": "deals",
            "inputs": [
                {
                    "properties": {"dealname": f"Deal {n}", "dealstage": "appointmentscheduled"},
                    "associations": [{"to": {"id": contact}, "types": [association]}],
                }
                for n, contact in enumerate(contacts[:2])
            ],
        },
    )
    won_id, lost_id = [row["id"] for row in opened["results"]]
    admin(
        url,
        "post",
        "records/write",
        {
            "objectType": "deals",
            "inputs": [
                {
                    "id": won_id,
                    "properties": {
                        "dealstage": "closedwon",
                        "amount": "1000.00",
                        "deal_currency_code": "EUR",
                        "closedate": "2026-11-20T00:00:00Z",
                    },
                },
                {"id": lost_id, "properties": {"dealstage": "closedlost", "amount": "50"}},
            ],
        },
    )
    assert admin(url, "get", "stats")["total"] == 0  # people's clicks are not API calls
    won, lost = connector.deals_by_id([won_id, lost_id])
    assert won.is_won
    assert won.is_closed
    assert won.buyer_ids == [contacts[0]]
    assert won.currency == "EUR"
    assert won.amount == 1000.0
    assert won.home_amount is not None
    assert won.home_amount != won.amount
    assert won.close_date is not None
    assert won.close_date.date().isoformat() == "2026-11-20"
    assert lost.is_closed
    assert not lost.is_won


def test_hubspot_refuses_a_write_to_a_deal_that_does_not_exist(
    hubspot: tuple[str, Connector],
) -> None:
    url, _ = hubspot
    answer = requests.post(
        f"{url}/__emulator__/records/write",
        json={"objectType": "deals", "inputs": [{"id": "999999", "properties": {}}]},
        timeout=30,
    )
    assert answer.status_code == 400
    assert "999999" in answer.json()["error"]


def test_salesforce_mass_update_saves_every_record_and_notifies_each(
    salesforce: tuple[str, Connector, SalesforceEmulator],
) -> None:
    url, connector, _ = salesforce
    created = [
        admin(
            url,
            "post",
            "records/Opportunity",
            {"Name": f"Deal {n}", "StageName": "Prospecting", "CloseDate": "2026-12-31"},
        )["id"]
        for n in range(2)
    ]
    admin(
        url,
        "post",
        "outbound-messages",
        {"object": "Opportunity", "fields": ["StageName"], "endpoint": "http://127.0.0.1:9/om"},
    )
    admin(
        url,
        "patch",
        "records/Opportunity",
        {"records": [{"Id": i, "StageName": "Closed Won", "Amount": 10.5} for i in created]},
    )
    found = rows(connector, "SELECT Id, StageName, IsWon, Amount FROM Opportunity")
    assert {r["Id"] for r in found if r["IsWon"] and r["Amount"] == 10.5} == set(created)
    pending = admin(url, "get", "outbound-messages")["pending"]
    assert sorted(p["record_id"] for p in pending) == sorted(created)


def test_a_change_during_delivery_queues_a_new_notification(
    salesforce: tuple[str, Connector, SalesforceEmulator],
) -> None:
    url, _, emulator = salesforce
    deal = admin(
        url,
        "post",
        "records/Opportunity",
        {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-12-31"},
    )["id"]
    bodies: list[bytes] = []
    listener = Flask("listener")

    def receive() -> Response:
        from flask import request  # noqa: PLC0415

        bodies.append(request.get_data())
        if len(bodies) == 1:  # a rep saves the deal while the first message is in flight
            admin(url, "patch", f"records/Opportunity/{deal}", {"StageName": "Closed Won"})
        return Response(ACK, mimetype="text/xml")

    listener.add_url_rule("/om", "om", receive, methods=["POST"])
    with RunningServer(listener) as running:
        admin(
            url,
            "post",
            "outbound-messages",
            {"object": "Opportunity", "fields": ["StageName"], "endpoint": f"{running.url}/om"},
        )
        admin(url, "patch", f"records/Opportunity/{deal}", {"Amount": 5})
        emulator.outbound.flush(all_pending=True)
        assert b"Prospecting" in bodies[0]
        assert [p["record_id"] for p in admin(url, "get", "outbound-messages")["pending"]] == [deal]
        emulator.outbound.flush(all_pending=True)
    assert len(bodies) == 2
    assert b"Closed Won" in bodies[1]
    assert admin(url, "get", "outbound-messages")["pending"] == []


def test_seeded_journeys_start_with_the_response_that_created_the_lead(
    salesforce: tuple[str, Connector, SalesforceEmulator],
) -> None:
    url, connector, _ = salesforce
    admin(url, "post", "seed", {"leads": 60, "campaigns": 5, "journeys": True, "seed": 4})
    leads = {r["Id"]: r for r in rows(connector, "SELECT Id, CreatedDate FROM Lead")}
    members = rows(
        connector,
        "SELECT LeadId, CreatedDate, HasResponded, FirstRespondedDate FROM CampaignMember",
    )
    by_lead: dict[str, list[dict[str, Any]]] = {}
    for member in members:
        by_lead.setdefault(member["LeadId"], []).append(member)
    assert set(by_lead) == set(leads)
    for lead_id, own in by_lead.items():
        born = leads[lead_id]["CreatedDate"]
        assert min(m["CreatedDate"] for m in own) == born
        assert all(m["CreatedDate"] >= born for m in own)
        first = [m for m in own if m["CreatedDate"] == born]
        assert first[0]["HasResponded"]
        for member in own:
            if member["HasResponded"]:
                assert member["FirstRespondedDate"] == member["CreatedDate"][:10]
    assert any(not m["HasResponded"] for m in members)  # some were only sent
    assert max(len(own) for own in by_lead.values()) > 1
