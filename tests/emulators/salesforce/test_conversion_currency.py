"""Lead conversion with custom-field mapping, and multi-currency rates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from closedloop.emulators.clock import EmulatorClock

UTM = "First_Touch_Source__c"


def _utm_fields(admin: Callable[..., Any]) -> None:
    for sobject in ("Lead", "Contact", "Opportunity"):
        admin(
            "post",
            "custom-fields",
            {"full_name": f"{sobject}.{UTM}", "type": "Text", "length": 120, "grant": True},
        )


def test_conversion_stamps_and_mapping(
    sf: Salesforce, admin: Callable[..., Any], clock: EmulatorClock
) -> None:
    _utm_fields(admin)
    admin("post", "custom-fields", {"full_name": "Lead.Unmapped__c", "type": "Text", "grant": True})
    admin(
        "post",
        "lead-mapping",
        {
            "mappings": [
                {"lead_field": UTM, "object": "Contact", "field": UTM},
                {"lead_field": UTM, "object": "Opportunity", "field": UTM},
            ]
        },
    )
    campaign = sf.Campaign.create({"Name": "Spring"})["id"]
    lead = sf.Lead.create(
        {
            "FirstName": "Grace",
            "LastName": "Hopper",
            "Company": "Navy",
            "LeadSource": "Web",
            UTM: "google",
            "Unmapped__c": "lost",
        }
    )["id"]
    sf.CampaignMember.create({"CampaignId": campaign, "LeadId": lead, "Status": "Responded"})
    result = admin("post", "convert-lead", {"lead_id": lead})
    converted = sf.Lead.get(lead)
    assert converted["IsConverted"] is True
    assert converted["ConvertedDate"] == clock.now().date().isoformat()
    assert converted["Status"] == "Closed - Converted"
    assert (
        converted["ConvertedContactId"],
        converted["ConvertedAccountId"],
        converted["ConvertedOpportunityId"],
    ) == (result["contactId"], result["accountId"], result["opportunityId"])
    contact = sf.Contact.get(result["contactId"])
    assert (contact[UTM], contact["LeadSource"], contact["AccountId"]) == (
        "google",
        "Web",
        result["accountId"],
    )
    opportunity = sf.Opportunity.get(result["opportunityId"])
    assert (opportunity[UTM], opportunity["CampaignId"], opportunity["StageName"]) == (
        "google",
        campaign,
        "Prospecting",
    )
    assert sf.Account.get(result["accountId"])["Name"] == "Navy"
    roles = sf.query(
        format_soql(
            "SELECT ContactId, IsPrimary FROM OpportunityContactRole WHERE OpportunityId = {}",
            result["opportunityId"],
        )
    )
    assert roles["records"][0]["ContactId"] == result["contactId"]
    assert roles["records"][0]["IsPrimary"] is True
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        sf.Lead.update(lead, {"Title": "x"})
    assert read_only.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_mapping_is_validated_like_setup(admin: Callable[..., Any]) -> None:
    _utm_fields(admin)
    admin(
        "post",
        "custom-fields",
        {"full_name": "Contact.Short__c", "type": "Text", "length": 10, "grant": True},
    )
    admin(
        "post", "custom-fields", {"full_name": "Contact.Flag__c", "type": "Checkbox", "grant": True}
    )
    short = admin(
        "post",
        "lead-mapping",
        {"mappings": [{"lead_field": UTM, "object": "Contact", "field": "Short__c"}]},
        status=400,
    )
    assert "shorter" in short["error"]
    mismatch = admin(
        "post",
        "lead-mapping",
        {"mappings": [{"lead_field": UTM, "object": "Contact", "field": "Flag__c"}]},
        status=400,
    )
    assert "cannot map" in mismatch["error"]


def test_multi_currency_rates(sf: Salesforce, admin: Callable[..., Any]) -> None:
    before = sf.Opportunity.create(
        {"Name": "Old", "StageName": "Prospecting", "CloseDate": "2026-03-31"}
    )["id"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.query("SELECT IsoCode FROM CurrencyType")
    admin(
        "post",
        "currency",
        {
            "corporate": "USD",
            "rates": {"EUR": 0.92, "GBP": 0.79},
            "dated_rates": [{"iso_code": "EUR", "rate": 0.95, "start_date": "2026-01-01"}],
        },
    )
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert [v["value"] for v in fields["CurrencyIsoCode"]["picklistValues"]] == [
        "EUR",
        "GBP",
        "USD",
    ]
    assert sf.Opportunity.get(before)["CurrencyIsoCode"] == "USD"
    deal = sf.Opportunity.create(
        {
            "Name": "Euro",
            "StageName": "Closed Won",
            "CloseDate": "2026-02-01",
            "Amount": 1000,
            "CurrencyIsoCode": "EUR",
        }
    )["id"]
    assert sf.Opportunity.get(deal)["CurrencyIsoCode"] == "EUR"
    types = {
        r["IsoCode"]: r
        for r in sf.query("SELECT IsoCode, ConversionRate, IsCorporate FROM CurrencyType")[
            "records"
        ]
    }
    assert types["USD"]["IsCorporate"] is True
    assert types["EUR"]["ConversionRate"] == 0.92
    dated = sf.query(
        "SELECT IsoCode, ConversionRate, StartDate, NextStartDate FROM DatedConversionRate "
        "WHERE IsoCode = 'EUR' ORDER BY StartDate"
    )["records"]
    assert [(r["StartDate"], r["NextStartDate"], r["ConversionRate"]) for r in dated] == [
        ("0001-01-01", "2026-01-01", 0.92),
        ("2026-01-01", "9999-12-31", 0.95),
    ]
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.Opportunity.create(
            {
                "Name": "Yen",
                "StageName": "Prospecting",
                "CloseDate": "2026-02-01",
                "CurrencyIsoCode": "JPY",
            }
        )
    assert bad.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
