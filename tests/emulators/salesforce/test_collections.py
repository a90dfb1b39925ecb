"""sObject Collections: per-record results, the 200-record cap and allOrNone rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _lead(i: int, **extra: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Lead"}, "LastName": f"L{i}", "Company": "C", **extra}


def test_create_mixed_results_in_order(sf: Salesforce) -> None:
    records = [
        _lead(1),
        {"attributes": {"type": "Lead"}, "LastName": "NoCompany"},
        {"attributes": {"type": "Account"}, "Name": "A"},
    ]
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert results[0]["id"].startswith("00Q")
    assert results[2]["id"].startswith("001")
    assert results[1]["errors"] == [
        {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [Company]",
            "fields": ["Company"],
        }
    ]
    assert "id" not in results[1]
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1


def test_201_records_are_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.restful(
            "composite/sobjects", method="POST", json={"records": [_lead(i) for i in range(201)]}
        )
    assert refused.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    accepted = sf.restful(
        "composite/sobjects", method="POST", json={"records": [_lead(i) for i in range(200)]}
    )
    assert len(accepted) == 200


def test_all_or_none_rolls_everything_back(sf: Salesforce) -> None:
    existing = sf.Lead.create({"LastName": "Keep", "Company": "C"})["id"]
    records = [_lead(1), _lead(2, Company=None)]
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )
    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 1

    update = [
        {"attributes": {"type": "Lead"}, "Id": existing, "Title": "Changed"},
        {"attributes": {"type": "Lead"}, "Id": existing, "LastName": None},
    ]
    results = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": True, "records": update}
    )
    assert [r["success"] for r in results] == [False, False]
    assert sf.Lead.get(existing)["Title"] is None


def test_update_delete_retrieve_and_upsert(sf: Salesforce, admin: Callable[..., Any]) -> None:
    admin(
        "post",
        "custom-fields",
        {
            "full_name": "Lead.Ext_Id__c",
            "type": "Text",
            "externalId": True,
            "unique": True,
            "grant": True,
        },
    )
    created = sf.restful(
        "composite/sobjects", method="POST", json={"records": [_lead(1), _lead(2)]}
    )
    ids = [r["id"] for r in created]
    updates = [{"attributes": {"type": "Lead"}, "Id": i, "Title": "VP"} for i in ids]
    assert all(
        r["success"]
        for r in sf.restful("composite/sobjects", method="PATCH", json={"records": updates})
    )
    fetched = sf.restful(
        "composite/sobjects/Lead", params={"ids": ",".join(ids), "fields": "Id,Title"}
    )
    assert [r["Title"] for r in fetched] == ["VP", "VP"]

    upserts = [_lead(3, Ext_Id__c="X-1"), _lead(4, Ext_Id__c="X-2")]
    first = sf.restful(
        "composite/sobjects/Lead/Ext_Id__c", method="PATCH", json={"records": upserts}
    )
    assert [r["created"] for r in first] == [True, True]
    second = sf.restful(
        "composite/sobjects/Lead/Ext_Id__c", method="PATCH", json={"records": upserts}
    )
    assert [r["created"] for r in second] == [False, False]
    assert [r["id"] for r in second] == [r["id"] for r in first]

    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": f"{ids[0]},001000000000000AAA"}
    )
    assert deleted[0] == {"id": ids[0], "success": True, "errors": []}
    assert deleted[1]["success"] is False
