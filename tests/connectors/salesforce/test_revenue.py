"""Closed opportunities, buyers, lead conversions, campaigns and currencies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from closedloop.connectors.contract import Watermark
from closedloop.connectors.salesforce.connector import SalesforceConnector
from closedloop.runtime.errors import FatalSyncError

Admin = Callable[..., Any]


@pytest.fixture
def record(admin: Admin) -> Callable[..., str]:
    """Create a record as the administrator would and return its id."""

    def create(sobject: str, **fields: Any) -> str:
        created: str = admin("post", f"records/{sobject}", fields)["id"]
        return created

    return create


def test_closed_deals_come_with_ocr_buyers_and_won_from_is_won(
    connector: SalesforceConnector, record: Callable[..., str]
) -> None:
    account = record("Account", Name="Acme")
    campaign = record("Campaign", Name="Spring webinar")
    buyer, champion = (record("Contact", LastName=n, AccountId=account) for n in ("B", "C"))
    won = record(
        "Opportunity",
        Name="Won",
        StageName="Closed Won",
        CloseDate="2026-01-10",
        Amount=1000,
        AccountId=account,
        CampaignId=campaign,
    )
    lost = record(
        "Opportunity",
        Name="Lost",
        StageName="Closed Lost",
        CloseDate="2026-01-11",
        Amount=500,
        AccountId=account,
    )
    record(
        "Opportunity",
        Name="Open",
        StageName="Prospecting",
        CloseDate="2026-03-01",
        Amount=700,
        AccountId=account,
    )
    record("OpportunityContactRole", OpportunityId=won, ContactId=champion, IsPrimary=False)
    record("OpportunityContactRole", OpportunityId=won, ContactId=buyer, IsPrimary=True)

    deals = {deal.deal_id: deal for deal in connector.closed_deals(Watermark())}
    assert set(deals) == {won, lost}
    assert deals[won].is_won
    assert deals[won].is_closed
    assert not deals[lost].is_won
    assert deals[lost].is_closed
    assert deals[won].buyer_ids == [buyer, champion]  # primary contact first
    assert deals[won].campaign_id == campaign
    assert (deals[won].amount, deals[won].home_amount, deals[won].currency) == (1000, 1000, None)
    assert deals[won].close_date == datetime(2026, 1, 10, tzinfo=UTC)
    assert deals[lost].buyer_ids == []


def test_multi_currency_amounts_are_converted_with_the_dated_rate(
    connector: SalesforceConnector, admin: Admin, record: Callable[..., str]
) -> None:
    admin(
        "post",
        "currency",
        {
            "corporate": "USD",
            "rates": {"EUR": 0.5},
            "dated_rates": [{"iso_code": "EUR", "rate": 0.8, "start_date": "2026-01-01"}],
        },
    )
    recent = record(
        "Opportunity",
        Name="A",
        StageName="Closed Won",
        CloseDate="2026-02-01",
        Amount=100,
        CurrencyIsoCode="EUR",
    )
    older = record(
        "Opportunity",
        Name="B",
        StageName="Closed Won",
        CloseDate="2025-06-01",
        Amount=100,
        CurrencyIsoCode="EUR",
    )
    deals = {deal.deal_id: deal for deal in connector.closed_deals(Watermark())}
    assert deals[recent].currency == "EUR"
    assert deals[recent].home_amount == pytest.approx(125.0)  # 100 / 0.8 from 2026-01-01
    assert deals[older].home_amount == pytest.approx(200.0)  # 100 / 0.5 before it


def test_related_ids_follow_contact_roles_and_converted_leads(
    connector: SalesforceConnector, admin: Admin, record: Callable[..., str]
) -> None:
    converted = record("Lead", LastName="Lane", Company="Initech")
    untouched = record("Lead", LastName="Open", Company="Hooli")
    ids = admin("post", "convert-lead", {"lead_id": converted})
    contact, opportunity = ids["contactId"], ids["opportunityId"]

    assert connector.related_ids("Lead", [converted, untouched], "Contact") == {
        converted: [contact]
    }
    assert connector.related_ids("Lead", [converted], "Opportunity") == {converted: [opportunity]}
    assert connector.related_ids("Opportunity", [opportunity], "Contact") == {
        opportunity: [contact]
    }
    assert connector.related_ids("Contact", [contact], "Opportunity") == {contact: [opportunity]}
    with pytest.raises(FatalSyncError):
        connector.related_ids("Lead", [converted], "Task")


def test_campaign_memberships_per_lead(
    connector: SalesforceConnector, record: Callable[..., str]
) -> None:
    lead = record("Lead", LastName="Lane", Company="Initech")
    spring, autumn = record("Campaign", Name="Spring"), record("Campaign", Name="Autumn")
    record("CampaignMember", CampaignId=spring, LeadId=lead)
    record("CampaignMember", CampaignId=autumn, LeadId=lead)
    memberships = connector.campaign_memberships("Lead", [lead])
    assert sorted(m.campaign_id for m in memberships[lead]) == sorted([spring, autumn])
    assert connector.related_ids("Campaign", [spring], "Lead") == {spring: [lead]}
