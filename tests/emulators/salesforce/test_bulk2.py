"""Bulk API 2.0 ingest and query jobs through sf.bulk2.<Object>."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from simple_salesforce import Salesforce

from closedloop.connectors.salesforce.transport import SalesforceHTTP


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_ingest_insert_with_results(sf: Salesforce) -> None:
    records = [{"LastName": f"Bulk{i}", "Company": "Co", "LeadSource": "Web"} for i in range(5)]
    records.append({"LastName": "NoCompany", "Company": "", "LeadSource": "Web"})
    [summary] = sf.bulk2.Lead.insert(records=records, wait=0.01)
    assert summary["numberRecordsProcessed"] == 6
    assert summary["numberRecordsFailed"] == 1
    assert summary["numberRecordsTotal"] == 6
    success = _rows(sf.bulk2.Lead.get_successful_records(summary["job_id"]))
    assert len(success) == 5
    assert all(r["sf__Created"] == "true" and r["sf__Id"].startswith("00Q") for r in success)
    failed = _rows(sf.bulk2.Lead.get_failed_records(summary["job_id"]))
    assert failed[0]["sf__Error"].startswith(
        "REQUIRED_FIELD_MISSING:Required fields are missing: [Company]"
    )
    assert failed[0]["LastName"] == "NoCompany"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 5


def test_ingest_upsert_and_null_marker(sf: Salesforce, admin: Callable[..., Any]) -> None:
    admin(
        "post",
        "custom-fields",
        {
            "full_name": "Contact.Ext_Id__c",
            "type": "Text",
            "externalId": True,
            "unique": True,
            "grant": True,
        },
    )
    first = [
        {"Ext_Id__c": "C-1", "LastName": "One", "Title": "CEO"},
        {"Ext_Id__c": "C-2", "LastName": "Two", "Title": "CTO"},
    ]
    [created] = sf.bulk2.Contact.upsert(records=first, external_id_field="Ext_Id__c", wait=0.01)
    assert created["numberRecordsFailed"] == 0
    again = [
        {"Ext_Id__c": "C-1", "LastName": "One", "Title": "#N/A"},
        {"Ext_Id__c": "C-3", "LastName": "Three", "Title": ""},
    ]
    [updated] = sf.bulk2.Contact.upsert(records=again, external_id_field="Ext_Id__c", wait=0.01)
    flags = {
        r["Ext_Id__c"]: r["sf__Created"]
        for r in _rows(sf.bulk2.Contact.get_successful_records(updated["job_id"]))
    }
    assert flags == {"C-1": "false", "C-3": "true"}
    titles = {
        r["Ext_Id__c"]: r["Title"]
        for r in sf.query("SELECT Ext_Id__c, Title FROM Contact")["records"]
    }
    assert titles == {"C-1": None, "C-2": "CTO", "C-3": None}


def test_bad_header_fails_the_job(sf: Salesforce, http: SalesforceHTTP) -> None:
    base = "https://acme.my.salesforce.com/services/data/v59.0/jobs/ingest"
    headers = {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"}
    job = http.post(base, json={"object": "Lead", "operation": "insert"}, headers=headers).json()
    assert job["state"] == "Open"
    assert job["contentUrl"] == f"services/data/v59.0/jobs/ingest/{job['id']}/batches"
    upload = http.put(
        f"{base}/{job['id']}/batches",
        data=b"LastName,Nope__c\nX,1\n",
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert upload.status_code == 201
    closed = http.patch(
        f"{base}/{job['id']}", json={"state": "UploadComplete"}, headers=headers
    ).json()
    assert closed["state"] == "UploadComplete"
    states = [http.get(f"{base}/{job['id']}", headers=headers).json()["state"] for _ in range(2)]
    assert states == ["InProgress", "Failed"]
    final = http.get(f"{base}/{job['id']}", headers=headers).json()
    assert final["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    assert http.get(f"{base}/{job['id']}/unprocessedrecords", headers=headers).text.startswith(
        "LastName,Nope__c"
    )


def test_query_job_pages_with_locator(sf: Salesforce, admin: Callable[..., Any]) -> None:
    admin("post", "seed", {"accounts": 25, "seed": 5})
    pages = list(
        sf.bulk2.Account.query("SELECT Id, Name, Industry FROM Account", max_records=10, wait=0.01)
    )
    assert len(pages) == 3
    rows = [row for page in pages for row in _rows(page)]
    assert len(rows) == 25
    assert list(rows[0]) == ["Id", "Name", "Industry"]
    assert sf.limits()["DailyBulkV2QueryJobs"]["Remaining"] == 10_000 - 1


def test_query_job_keeps_relationship_columns_when_the_parent_is_empty(sf: Salesforce) -> None:
    sf.Contact.create({"LastName": "Orphan"})
    account = sf.Account.create({"Name": "Acme"})
    sf.Contact.create({"LastName": "Child", "AccountId": account["id"]})
    pages = list(sf.bulk2.Contact.query("SELECT lastname, account.name FROM Contact", wait=0.01))
    rows = sorted((row for page in pages for row in _rows(page)), key=lambda r: r["LastName"])
    assert list(rows[0]) == ["LastName", "Account.Name"]
    assert [(r["LastName"], r["Account.Name"]) for r in rows] == [("Child", "Acme"), ("Orphan", "")]
