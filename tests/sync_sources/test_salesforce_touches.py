"""Salesforce as the marketing system: campaign responses and lead sources become touches.

The Salesforce emulator is seeded with campaigns, Leads (each with a LeadSource) and campaign
memberships; closedloop runs in the Salesforce-only topology (marketing = CRM = Salesforce),
through the official client, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from closedloop.config.schema import DatabaseSettings, RolesSettings, SalesforceSettings, Settings
from closedloop.emulators.salesforce import create_emulator
from closedloop.emulators.server import RunningServer
from closedloop.store.schema import touchpoints
from closedloop.sync.engine import SyncEngine
from closedloop.sync.model import RecordRef
from closedloop.sync.salesforce_touches import CAMPAIGN_ORIGIN, LEAD_SOURCE_ORIGIN, slug
from closedloop.sync.setup import build_connectors, build_sync, open_store

MEMBERS = "SELECT Id, LeadId, HasResponded, Campaign.Name, Campaign.Type FROM CampaignMember"


@pytest.fixture
def salesforce_only(database_url: str) -> Iterator[tuple[SyncEngine, str]]:
    with RunningServer(create_emulator(outbound_background=False).app) as server:
        requests.post(
            f"{server.url}/__emulator__/seed",
            json={"leads": 80, "campaigns": 4, "seed": 11},
            timeout=60,
        ).raise_for_status()
        settings = Settings(
            database=DatabaseSettings(url=database_url),
            roles=RolesSettings(marketing="salesforce", crm="salesforce"),
            salesforce=SalesforceSettings(
                instance_url=server.url,
                login_url=server.url,
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
            ),
        )
        connectors = build_connectors(settings)
        connectors["salesforce"].provision(dry_run=False)
        store = open_store(settings)
        try:
            yield build_sync(settings, store=store, connectors=connectors), server.url
        finally:
            store.dispose()


def members(engine: SyncEngine) -> list[dict[str, Any]]:
    reader = engine.connectors["salesforce"].reader  # type: ignore[attr-defined]
    return [row for page in reader.pages(MEMBERS) for row in page]


def ledger(engine: SyncEngine) -> list[Any]:
    store = open_store(engine.settings)
    try:
        with store.connect() as conn:
            return list(conn.execute(select(touchpoints)))
    finally:
        store.dispose()


def test_responses_and_lead_sources_become_deduplicated_touches(
    salesforce_only: tuple[SyncEngine, str],
) -> None:
    engine, _ = salesforce_only
    engine.run(allow_blast=True)
    rows = ledger(engine)
    responded = [m for m in members(engine) if m["HasResponded"]]
    assert responded, "the seed should produce responded members"
    campaign_rows = [r for r in rows if r.origin == CAMPAIGN_ORIGIN]
    assert len(campaign_rows) == len(responded)
    assert {r.utm_campaign for r in campaign_rows} == {m["Campaign"]["Name"] for m in responded}
    assert {r.utm_source for r in campaign_rows} <= {slug(m["Campaign"]["Type"]) for m in responded}
    responders = {m["LeadId"] for m in responded}
    identity = engine.state.identity
    lead_source_people = {r.person_id for r in rows if r.origin == LEAD_SOURCE_ORIGIN}
    responder_people = {identity.person_of(RecordRef("salesforce", "Lead", i)) for i in responders}
    # LeadSource is a fallback: never next to a campaign response.
    assert lead_source_people
    assert not lead_source_people & responder_people
    # Every seeded Lead (each has a LeadSource) ends with at least one touch.
    assert len({r.person_id for r in rows}) == 80

    engine.run(full=True)  # the same members and lead sources again: no new touch
    assert len(ledger(engine)) == len(rows)


def test_stamps_from_salesforce_touches_reach_the_leads_and_settle(
    salesforce_only: tuple[SyncEngine, str],
) -> None:
    engine, _ = salesforce_only
    first = engine.run(allow_blast=True)
    assert first.counts.failed == 0
    connector = engine.connectors["salesforce"]
    fields = ["CL_First_Touch_Source__c", "CL_Touch_Count__c", "CL_Last_Touch_Campaign__c"]
    leads = [r for page in connector.read_all("Lead", fields) for r in page.records]
    stamped = [lead for lead in leads if lead.fields.get("CL_First_Touch_Source__c")]
    assert len(stamped) == 80
    state = engine.state
    for lead in leads[::7]:
        person = state.identity.person_of(RecordRef("salesforce", "Lead", lead.id))
        assert person is not None
        touches = state.ledger.touches_of(person)
        assert int(lead.fields["CL_Touch_Count__c"]) == len(touches)
        assert lead.fields["CL_First_Touch_Source__c"] == touches[0].utm_source
    again = engine.run(full=True)
    assert again.counts.changed == 0
