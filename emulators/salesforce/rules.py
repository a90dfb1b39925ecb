"""Object-specific behaviour: derived fields, cross-record rules and cascading deletes.

These are the parts of Salesforce's save order that closedloop depends on: Opportunity
``IsWon``/``IsClosed``/``Probability``/``ForecastCategory`` follow the stage's
``OpportunityStage`` definition, compound ``Name`` fields, campaign-member response state,
one primary contact role per opportunity, and the read-only state of converted leads.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from closedloop.emulators.salesforce.errors import RecordError
from closedloop.emulators.salesforce.schema import ObjectDef
from closedloop.emulators.salesforce.values import format_date, format_datetime

if TYPE_CHECKING:
    from closedloop.emulators.salesforce.org import Org

CASCADES: dict[str, tuple[tuple[str, str], ...]] = {
    "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId")),
    "Opportunity": (("OpportunityContactRole", "OpportunityId"),),
    "Contact": (("OpportunityContactRole", "ContactId"), ("CampaignMember", "ContactId")),
    "Lead": (("CampaignMember", "LeadId"),),
    "Campaign": (("CampaignMember", "CampaignId"),),
    "PermissionSet": (
        ("FieldPermissions", "ParentId"),
        ("PermissionSetAssignment", "PermissionSetId"),
    ),
}
"""Children moved to the recycle bin with their parent: (child object, field pointing up)."""

RESPONDED_STATUSES = frozenset({"Responded"})
SECURITY_OBJECTS = frozenset({"PermissionSet", "FieldPermissions", "PermissionSetAssignment"})


def check_updatable(obj: ObjectDef, row: dict[str, Any]) -> None:
    """Refuse API updates Salesforce refuses (converted leads are read-only).

    Raises:
        RecordError: ``CANNOT_UPDATE_CONVERTED_LEAD``.
    """
    if obj.name == "Lead" and row.get("IsConverted"):
        raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")


def apply(
    org: Org, obj: ObjectDef, row: dict[str, Any], before: dict[str, Any] | None, touched: set[str]
) -> None:
    """Fill derived fields and enforce per-object rules before a row is saved.

    Raises:
        RecordError: when a rule rejects the row.
    """
    if obj.name in ("Lead", "Contact", "User"):
        parts = [row.get("FirstName"), row.get("LastName")]
        row["Name"] = " ".join(str(p) for p in parts if p) or None
    elif obj.name == "Opportunity":
        _opportunity(org, row, before, touched)
    elif obj.name == "CampaignMember":
        _campaign_member(org, row, before)
    elif obj.name == "FieldPermissions":
        _field_permission(org, row)
    elif obj.name == "PermissionSetAssignment" and before is None:
        for other_id in org.store.find("PermissionSetAssignment", "AssigneeId", row["AssigneeId"]):
            other = org.store.get("PermissionSetAssignment", other_id)
            if other is not None and other["PermissionSetId"] == row["PermissionSetId"]:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"Duplicate PermissionSetAssignment. Assignment already exists: {other_id}",
                )


def _opportunity(
    org: Org, row: dict[str, Any], before: dict[str, Any] | None, touched: set[str]
) -> None:
    stage = org.stage(str(row.get("StageName") or ""))
    stage_changed = before is None or before.get("StageName") != row.get("StageName")
    if stage is not None and stage_changed:
        row["IsClosed"] = bool(stage["IsClosed"])
        row["IsWon"] = bool(stage["IsWon"])
        row["ForecastCategory"] = stage["ForecastCategory"]
        if "ForecastCategoryName" not in touched:
            row["ForecastCategoryName"] = stage["ForecastCategoryName"]
        if "Probability" not in touched:
            row["Probability"] = float(stage["DefaultProbability"])
    amount, probability = row.get("Amount"), row.get("Probability")
    row["ExpectedRevenue"] = (
        round(float(amount) * float(probability) / 100, 2)
        if amount is not None and probability is not None
        else None
    )
    close = row.get("CloseDate")
    if close:
        day = date.fromisoformat(str(close))
        row["FiscalYear"], row["FiscalQuarter"] = day.year, (day.month - 1) // 3 + 1


def _campaign_member(org: Org, row: dict[str, Any], before: dict[str, Any] | None) -> None:
    if not row.get("LeadId") and not row.get("ContactId"):
        raise RecordError(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LeadId, ContactId]",
            ["LeadId", "ContactId"],
        )
    if before is None:
        for field_name in ("ContactId", "LeadId"):
            if not row.get(field_name):
                continue
            for other_id in org.store.find("CampaignMember", field_name, row[field_name]):
                other = org.store.get("CampaignMember", other_id)
                if other is not None and other["CampaignId"] == row["CampaignId"]:
                    raise RecordError("DUPLICATE_VALUE", "Already a campaign member.")
    row["Status"] = row.get("Status") or "Sent"
    row["HasResponded"] = row["Status"] in RESPONDED_STATUSES
    if row["HasResponded"] and not row.get("FirstRespondedDate"):
        row["FirstRespondedDate"] = format_date(org.clock.now().date())
    person_object = "Contact" if row.get("ContactId") else "Lead"
    person_id = row.get("ContactId") or row.get("LeadId")
    row["LeadOrContactId"] = person_id
    row["Type"] = person_object
    person = org.store.get(person_object, str(person_id))
    row["LeadSource"] = person.get("LeadSource") if person else None


def _field_permission(org: Org, row: dict[str, Any]) -> None:
    field_path = str(row.get("Field") or "")
    object_name, _, field_name = field_path.partition(".")
    obj = org.schema.get(object_name)
    definition = obj.get(field_name) if obj else None
    if obj is None or definition is None or not definition.custom:
        raise RecordError(
            "FIELD_INTEGRITY_EXCEPTION",
            f"Field Name: bad value for restricted picklist field: {field_path}",
            ["Field"],
        )
    if str(row.get("SobjectType") or "").lower() != obj.name.lower():
        raise RecordError(
            "FIELD_INTEGRITY_EXCEPTION",
            f"SobjectType does not match field {field_path}",
            ["SobjectType"],
        )
    row["SobjectType"], row["Field"] = obj.name, f"{obj.name}.{definition.name}"
    if row.get("PermissionsEdit") and not row.get("PermissionsRead"):
        raise RecordError(
            "FIELD_INTEGRITY_EXCEPTION",
            "Permission Edit depends on permission(s): Read",
            ["PermissionsRead"],
        )


def after_write(
    org: Org, obj: ObjectDef, row: dict[str, Any], before: dict[str, Any] | None
) -> None:
    """Rules that touch other records once a row is saved (one primary contact role)."""
    if obj.name in SECURITY_OBJECTS:
        org.schema_changed_at = org.clock.timestamp()
    if obj.name != "OpportunityContactRole" or not row.get("IsPrimary"):
        return
    if before is not None and before.get("IsPrimary"):
        return
    now = format_datetime(org.clock.now())
    for other_id in org.store.find("OpportunityContactRole", "OpportunityId", row["OpportunityId"]):
        other = org.store.get("OpportunityContactRole", other_id)
        if other_id == row["Id"] or other is None or not other.get("IsPrimary"):
            continue
        updated = dict(other, IsPrimary=False, SystemModstamp=now, LastModifiedDate=now)
        org.store.put("OpportunityContactRole", updated, "update", frozenset({"IsPrimary"}))
