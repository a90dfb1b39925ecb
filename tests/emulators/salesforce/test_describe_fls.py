"""Describe, the Tooling API and field-level security as the API user experiences it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

FIELD = {
    "FullName": "Lead.First_Touch_Source__c",
    "Metadata": {"type": "Text", "label": "First Touch Source", "length": 120},
}


def _names(sf: Salesforce, sobject: str) -> set[str]:
    return {field["name"] for field in getattr(sf, sobject).describe()["fields"]}


def test_fresh_org_describe(sf: Salesforce) -> None:
    listed = {o["name"]: o for o in sf.describe()["sobjects"]}
    for name, prefix in (
        ("Lead", "00Q"),
        ("Contact", "003"),
        ("Account", "001"),
        ("Opportunity", "006"),
        ("Campaign", "701"),
        ("CampaignMember", "00v"),
        ("User", "005"),
    ):
        assert listed[name]["keyPrefix"] == prefix
    assert "CurrencyType" not in listed
    lead = sf.Lead.describe()
    fields = {f["name"]: f for f in lead["fields"]}
    assert not any(f["custom"] for f in fields.values())
    assert "CurrencyIsoCode" not in fields
    source = fields["LeadSource"]
    assert source["type"] == "picklist"
    assert [v["value"] for v in source["picklistValues"]] == [
        "Web",
        "Phone Inquiry",
        "Partner Referral",
        "Purchased List",
        "Other",
    ]
    assert fields["LastName"]["nillable"] is False
    assert fields["ConvertedContactId"]["referenceTo"] == ["Contact"]
    assert fields["ConvertedContactId"]["relationshipName"] == "ConvertedContact"
    assert fields["Company"]["length"] == 255
    children = {c["relationshipName"] for c in sf.Opportunity.describe()["childRelationships"]}
    assert "OpportunityContactRoles" in children


def test_custom_field_is_invisible_until_permission_set_assigned(sf: Salesforce) -> None:
    created = sf.restful("tooling/sobjects/CustomField", method="POST", json=FIELD)
    assert created["success"] is True
    assert created["id"].startswith("00N")
    found = sf.toolingexecute(
        "query/?q=SELECT+Id,DeveloperName,TableEnumOrId+FROM+CustomField+WHERE+DeveloperName='First_Touch_Source'"
    )
    assert found["totalSize"] == 1
    assert found["records"][0]["TableEnumOrId"] == "Lead"

    assert "First_Touch_Source__c" not in _names(sf, "Lead")
    with pytest.raises(SalesforceMalformedRequest) as hidden_query:
        sf.query("SELECT First_Touch_Source__c FROM Lead")
    assert hidden_query.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as hidden_write:
        sf.Lead.create({"LastName": "L", "Company": "C", "First_Touch_Source__c": "google"})
    assert hidden_write.value.content[0]["errorCode"] == "INVALID_FIELD"

    user = sf.query(
        "SELECT Id FROM User WHERE Username = 'integration@closedloop-emulator.example'"
    )
    user_id = user["records"][0]["Id"]
    permission_set = sf.PermissionSet.create(
        {"Name": "Closedloop_Fields", "Label": "Closedloop Fields"}
    )["id"]
    sf.FieldPermissions.create(
        {
            "ParentId": permission_set,
            "SobjectType": "Lead",
            "Field": "Lead.First_Touch_Source__c",
            "PermissionsRead": True,
            "PermissionsEdit": False,
        }
    )
    assert "First_Touch_Source__c" not in _names(sf, "Lead")  # granted but not assigned yet
    assignment = sf.PermissionSetAssignment.create(
        {"AssigneeId": user_id, "PermissionSetId": permission_set}
    )
    assert "First_Touch_Source__c" in _names(sf, "Lead")
    assert sf.query("SELECT First_Touch_Source__c FROM Lead")["totalSize"] == 0
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        sf.Lead.create({"LastName": "L", "Company": "C", "First_Touch_Source__c": "google"})
    assert read_only.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"

    sf.PermissionSetAssignment.delete(assignment["id"])
    assert "First_Touch_Source__c" not in _names(sf, "Lead")


def test_admin_grant_makes_field_writable(sf: Salesforce, admin: Callable[..., Any]) -> None:
    sf.restful("tooling/sobjects/CustomField", method="POST", json=FIELD)
    admin(
        "post",
        "permission-sets",
        {"name": "Closedloop", "fields": ["Lead.First_Touch_Source__c"], "assign": True},
    )
    lead = sf.Lead.create({"LastName": "L", "Company": "C", "First_Touch_Source__c": "google"})[
        "id"
    ]
    assert sf.Lead.get(lead)["First_Touch_Source__c"] == "google"
    admin("post", "permission-sets/unassign", {"permission_set": "Closedloop"})
    assert "First_Touch_Source__c" not in sf.Lead.get(lead)


def test_describe_if_modified_since(sf: Salesforce, http: Any) -> None:
    url = "https://acme.my.salesforce.com/services/data/v59.0/sobjects/Lead/describe"
    headers = {"Authorization": f"Bearer {sf.session_id}"}
    first = http.get(url, headers=headers)
    assert first.status_code == 200
    again = http.get(url, headers={**headers, "If-Modified-Since": first.headers["Last-Modified"]})
    assert again.status_code == 304
