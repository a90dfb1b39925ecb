"""Lead conversion as a sales rep performs it, with the admin's custom-field mapping.

Converting a lead creates (or attaches to) an Account and a Contact and, unless told not to,
creates an Opportunity with its primary OpportunityContactRole, in one transaction. Standard
fields map automatically (Lead Source to Contact and Opportunity, the latest campaign to the
opportunity's primary campaign); custom Lead fields survive only when mapped (Setup → Lead →
Map Lead Fields). Existing records only get their empty fields filled. The lead ends with
``IsConverted``, ``ConvertedDate``, ``Converted{Account,Contact,Opportunity}Id`` and a converted
status, and becomes read-only to the API.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from closedloop.emulators.salesforce.errors import RecordError
from closedloop.emulators.salesforce.org import LeadMapping, Org
from closedloop.emulators.salesforce.values import format_date

TARGETS = ("Account", "Contact", "Opportunity")
STANDARD_MAP: dict[str, dict[str, str]] = {
    "Account": {
        "Company": "Name",
        "Industry": "Industry",
        "Website": "Website",
        "Phone": "Phone",
        "Street": "BillingStreet",
        "City": "BillingCity",
        "State": "BillingState",
        "PostalCode": "BillingPostalCode",
        "Country": "BillingCountry",
        "AnnualRevenue": "AnnualRevenue",
        "NumberOfEmployees": "NumberOfEmployees",
        "Rating": "Rating",
        "LeadSource": "AccountSource",
        "OwnerId": "OwnerId",
    },
    "Contact": {
        "FirstName": "FirstName",
        "LastName": "LastName",
        "Title": "Title",
        "Email": "Email",
        "Phone": "Phone",
        "Street": "MailingStreet",
        "City": "MailingCity",
        "State": "MailingState",
        "PostalCode": "MailingPostalCode",
        "Country": "MailingCountry",
        "LeadSource": "LeadSource",
        "HasOptedOutOfEmail": "HasOptedOutOfEmail",
        "Description": "Description",
        "OwnerId": "OwnerId",
    },
    "Opportunity": {"LeadSource": "LeadSource", "OwnerId": "OwnerId"},
}
_TEXT_TARGETS = {
    "string": {"string", "textarea", "picklist"},
    "picklist": {"picklist", "string", "textarea"},
}


def set_lead_mapping(org: Org, entries: list[dict[str, Any]]) -> list[LeadMapping]:
    """Replace the custom-field mapping, validated as Setup validates it.

    Raises:
        ValueError: unknown or standard fields, incompatible types, a shorter target, or a
            target mapped twice.
    """
    lead = org.schema.objects["lead"]
    built: list[LeadMapping] = []
    for entry in entries:
        source = lead.get(str(entry.get("lead_field", "")))
        target_obj = org.schema.get(str(entry.get("object", "")))
        target = target_obj.get(str(entry.get("field", ""))) if target_obj else None
        if (
            source is None
            or not source.custom
            or target_obj is None
            or target_obj.name not in TARGETS
        ):
            raise ValueError(f"map a custom Lead field to Account, Contact or Opportunity: {entry}")
        if target is None or not target.custom:
            raise ValueError(f"the target must be an existing custom field: {entry}")
        allowed = _TEXT_TARGETS.get(source.type, {source.type})
        if target.type not in allowed or (
            target.type == "picklist" and target.restricted and source.type != "picklist"
        ):
            raise ValueError(
                f"{source.name} ({source.type}) cannot map to {target.name} ({target.type})"
            )
        if source.is_text and target.length < source.length:
            raise ValueError(f"{target_obj.name}.{target.name} is shorter than Lead.{source.name}")
        if any(m.target_object == target_obj.name and m.target_field == target.name for m in built):
            raise ValueError(f"{target_obj.name}.{target.name} already has a source field")
        built.append(LeadMapping(source.name, target_obj.name, target.name))
    org.lead_mappings = built
    return built


def _values_for(org: Org, lead: dict[str, Any], target: str) -> dict[str, Any]:
    values = {
        dest: lead.get(src)
        for src, dest in STANDARD_MAP[target].items()
        if lead.get(src) is not None
    }
    for mapping in org.lead_mappings:
        if mapping.target_object == target and lead.get(mapping.lead_field) is not None:
            values[mapping.target_field] = lead[mapping.lead_field]
    if org.schema.multicurrency and lead.get("CurrencyIsoCode"):
        values["CurrencyIsoCode"] = lead["CurrencyIsoCode"]
    return values


def _create_or_fill(
    org: Org, target: str, existing_id: str | None, values: dict[str, Any], overwrite: set[str]
) -> str:
    obj = org.schema.objects[target.lower()]
    if existing_id is None:
        return org.writer.create(obj, values, system=True)
    current = org.writer.live(obj, existing_id)
    fill = {k: v for k, v in values.items() if current.get(k) in (None, "") or k in overwrite}
    fill.pop("OwnerId", None)
    if fill:
        org.writer.update(obj, existing_id, fill, system=True)
    return existing_id


def _quarter_end(day: date) -> str:
    month = ((day.month - 1) // 3 + 1) * 3
    return format_date(date(day.year, month, calendar.monthrange(day.year, month)[1]))


def convert_lead(org: Org, spec: dict[str, Any]) -> dict[str, Any]:
    """Convert a lead as a rep does in the UI.

    ``spec`` holds ``lead_id`` and optionally ``account_id``, ``contact_id``,
    ``do_not_create_opportunity``, ``opportunity_name``, ``converted_status`` and
    ``overwrite_lead_source``.

    Raises:
        RecordError: an unknown, deleted or already converted lead, or a bad status or target.
    """
    leads = org.schema.objects["lead"]
    lead_id = str(spec.get("lead_id") or "")
    lead = org.writer.live(leads, lead_id)
    if lead.get("IsConverted"):
        raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
    status = str(spec.get("converted_status") or org.converted_status())
    if not any(
        r["MasterLabel"] == status and r["IsConverted"] for r in org.store.rows("LeadStatus")
    ):
        raise RecordError("INVALID_STATUS", f"invalid converted status: {status}")
    overwrite = {"LeadSource"} if spec.get("overwrite_lead_source") else set()
    today = org.clock.now().date()
    with org.store.transaction():
        account_id = _create_or_fill(
            org, "Account", spec.get("account_id"), _values_for(org, lead, "Account"), set()
        )
        contact_values = _values_for(org, lead, "Contact") | {"AccountId": account_id}
        contact_id = _create_or_fill(
            org, "Contact", spec.get("contact_id"), contact_values, overwrite
        )
        opportunity_id = None
        if not spec.get("do_not_create_opportunity"):
            first_open = next(r for r in org.store.rows("OpportunityStage") if not r["IsClosed"])
            opportunity_values = _values_for(org, lead, "Opportunity") | {
                "Name": spec.get("opportunity_name") or f"{lead.get('Company')}-",
                "StageName": first_open["MasterLabel"],
                "CloseDate": _quarter_end(today),
                "AccountId": account_id,
                "CampaignId": _latest_campaign(org, lead_id),
            }
            opportunity_id = org.writer.create(
                org.schema.objects["opportunity"], opportunity_values, system=True
            )
            org.writer.create(
                org.schema.objects["opportunitycontactrole"],
                {"OpportunityId": opportunity_id, "ContactId": contact_id, "IsPrimary": True},
                system=True,
            )
        members = org.schema.objects["campaignmember"]
        for member_id in org.store.find("CampaignMember", "LeadId", lead_id):
            org.writer.update(members, member_id, {"ContactId": contact_id}, system=True)
        org.writer.update(
            leads,
            lead_id,
            {
                "IsConverted": True,
                "ConvertedDate": format_date(today),
                "ConvertedAccountId": account_id,
                "ConvertedContactId": contact_id,
                "ConvertedOpportunityId": opportunity_id,
                "Status": status,
            },
            system=True,
        )
    return {
        "leadId": lead_id,
        "accountId": account_id,
        "contactId": contact_id,
        "opportunityId": opportunity_id,
        "success": True,
    }


def _latest_campaign(org: Org, lead_id: str) -> str | None:
    memberships = [
        org.store.get("CampaignMember", mid)
        for mid in org.store.find("CampaignMember", "LeadId", lead_id)
    ]
    live = sorted((m for m in memberships if m), key=lambda m: str(m["CreatedDate"]))
    return str(live[-1]["CampaignId"]) if live else None
