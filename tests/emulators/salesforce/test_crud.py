"""sObject CRUD, external-id reads and upserts, getUpdated/getDeleted through simple-salesforce."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from simple_salesforce import Salesforce, format_external_id
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.salesforce.ids import checksum_suffix, is_valid_id


def test_create_read_update_delete_lead(sf: Salesforce) -> None:
    created = sf.Lead.create({"LastName": "Lovelace", "Company": "Analytical", "LeadSource": "Web"})
    assert created["success"] is True
    assert created["errors"] == []
    lead_id = created["id"]
    assert lead_id.startswith("00Q")
    assert len(lead_id) == 18
    assert is_valid_id(lead_id)
    assert lead_id[15:] == checksum_suffix(lead_id[:15])

    record = sf.Lead.get(lead_id)
    assert record["attributes"]["type"] == "Lead"
    assert record["attributes"]["url"] == f"/services/data/v59.0/sobjects/Lead/{lead_id}"
    assert record["Name"] == "Lovelace"
    assert record["IsConverted"] is False
    assert record["Status"] == "Open - Not Contacted"
    assert record["CreatedDate"].endswith("+0000")
    assert len(record["CreatedDate"]) == 28

    assert sf.Lead.update(lead_id, {"FirstName": "Ada", "Email": None}) == 204
    assert sf.Lead.get(lead_id[:15])["Name"] == "Ada Lovelace"

    assert sf.Lead.delete(lead_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as deleted:
        sf.Lead.get(lead_id)
    assert deleted.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_required_fields_and_bad_values_are_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Lead.create({"FirstName": "No"})
    assert missing.value.content == [
        {
            "message": "Required fields are missing: [LastName, Company]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName", "Company"],
        }
    ]
    with pytest.raises(SalesforceMalformedRequest) as opportunity:
        sf.Opportunity.create({"Name": "Deal"})
    assert opportunity.value.content[0]["fields"] == ["StageName", "CloseDate"]
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.Lead.create({"LastName": "X", "Company": "Y", "Nope__c": 1})
    assert unknown.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as readonly:
        sf.Lead.create({"LastName": "X", "Company": "Y", "IsConverted": True})
    assert readonly.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as stage:
        sf.Opportunity.create({"Name": "D", "StageName": "Dreaming", "CloseDate": "2026-01-31"})
    assert stage.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_opportunity_revenue_fields_follow_the_stage(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": "Initech"})["id"]
    deal = sf.Opportunity.create(
        {
            "Name": "Big",
            "StageName": "Prospecting",
            "CloseDate": "2026-06-30",
            "Amount": 1000,
            "AccountId": account,
        }
    )["id"]
    record = sf.Opportunity.get(deal)
    assert (record["IsClosed"], record["IsWon"], record["Probability"]) == (False, False, 10.0)
    sf.Opportunity.update(deal, {"StageName": "Closed Won"})
    record = sf.Opportunity.get(deal)
    assert (record["IsClosed"], record["IsWon"], record["ForecastCategory"]) == (
        True,
        True,
        "Closed",
    )
    assert record["FiscalQuarter"] == 2
    assert record["FiscalYear"] == 2026
    stages = sf.query(
        "SELECT MasterLabel, IsWon, IsClosed, DefaultProbability FROM OpportunityStage"
    )
    assert {r["MasterLabel"]: r["IsWon"] for r in stages["records"]}["Closed Won"] is True


def _external_field(admin: Callable[..., Any]) -> None:
    admin(
        "post",
        "custom-fields",
        {
            "full_name": "Lead.Ext_Id__c",
            "type": "Text",
            "length": 40,
            "externalId": True,
            "unique": True,
            "grant": True,
        },
    )


def test_upsert_by_external_id_201_200_300_404(sf: Salesforce, admin: Callable[..., Any]) -> None:
    _external_field(admin)
    body = {"LastName": "Hopper", "Company": "Navy"}
    assert sf.Lead.upsert(format_external_id("Ext_Id__c", "a/b c"), body) == 201
    raw = sf.Lead.upsert(
        format_external_id("Ext_Id__c", "a/b c"), {"Title": "RADM"}, raw_response=True
    )
    assert raw.status_code == 200
    assert raw.json()["created"] is False
    lead = sf.Lead.get_by_custom_id("Ext_Id__c", "a/b c")
    assert lead["Title"] == "RADM"
    assert lead["Ext_Id__c"] == "a/b c"

    with pytest.raises(SalesforceResourceNotFound) as unknown_field:
        sf.Lead.upsert("Missing__c/1", body)
    assert unknown_field.value.content[0]["errorCode"] == "NOT_FOUND"

    # A non-unique external id yields 300 with the matching records' URLs.
    admin(
        "post",
        "custom-fields",
        {"full_name": "Lead.Legacy_Key__c", "type": "Text", "externalId": True, "grant": True},
    )
    for name in ("One", "Two"):
        sf.Lead.create({"LastName": name, "Company": "Dup", "Legacy_Key__c": "K1"})
    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Lead.upsert("Legacy_Key__c/K1", {"Title": "x"})
    assert len(several.value.content) == 2
    assert all("/sobjects/Lead/00Q" in url for url in several.value.content)

    with pytest.raises(SalesforceMalformedRequest) as duplicate:
        sf.Lead.create({"LastName": "Copy", "Company": "Navy", "Ext_Id__c": "A/B C"})
    assert duplicate.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_update_only_upsert_without_match_is_404(sf: Salesforce, admin: Callable[..., Any]) -> None:
    _external_field(admin)
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful(
            "sobjects/Lead/Ext_Id__c/nobody",
            params={"updateOnly": "true"},
            method="PATCH",
            json={"LastName": "N", "Company": "C"},
        )


def test_get_updated_and_deleted(sf: Salesforce, clock: EmulatorClock) -> None:
    start = clock.now() - timedelta(minutes=1)
    keep = sf.Contact.create({"LastName": "Keep"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    clock.advance(120)
    end = clock.now()
    updated = sf.Contact.updated(start, end)
    assert keep in updated["ids"]
    assert gone not in updated["ids"]
    deleted = sf.Contact.deleted(start, end)
    assert [d["id"] for d in deleted["deletedRecords"]] == [gone]
    assert deleted["latestDateCovered"].endswith(":00.000+0000")
    with pytest.raises(SalesforceMalformedRequest) as too_old:
        sf.Contact.deleted(end - timedelta(days=16), end)
    assert too_old.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_admin_drift_write_bumps_system_modstamp(
    sf: Salesforce, admin: Callable[..., Any], clock: EmulatorClock
) -> None:
    lead = sf.Lead.create({"LastName": "Drift", "Company": "Co"})["id"]
    before = sf.Lead.get(lead)
    clock.advance(60)
    admin("patch", f"records/Lead/{lead}", {"Title": "Changed in the UI"})
    after = sf.Lead.get(lead)
    assert after["Title"] == "Changed in the UI"
    assert after["SystemModstamp"] > before["SystemModstamp"]
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert after["LastModifiedById"] != before["LastModifiedById"]
