"""Touches read from Salesforce: campaign responses, and a record's lead source as a fallback.

Read through documented endpoints only (SOQL over the REST query resource, via the connector's
reader):

* **Campaign members.** A member who *responded* (``HasResponded``: the member status counts
  as a response, such as Responded, Attended, Registered) is one touch. It happened on
  ``FirstRespondedDate``; that is a date, so when the member was created on that same day the
  more precise ``CreatedDate`` is used, else midnight UTC of that date (and ``CreatedDate`` when
  Salesforce left the date blank). Its campaign is the Campaign's ``Name``; its source and
  medium come from the Campaign ``Type`` (:data:`CAMPAIGN_TYPE_MEDIUM`): email campaigns are
  email, advertising is paid, referral programmes are referral, and events, webinars and
  everything else offline count as events or offline touches. Members only sent something
  (no response) are not touches: being put on a list is not an interaction. Origin
  ``salesforce_campaign``; the member's id is the touch's external id.
* **Lead source.** A Lead's or Contact's ``LeadSource`` picklist value becomes a touch at the
  record's ``CreatedDate`` (origin ``salesforce_lead_source``, source and medium from
  :data:`LEAD_SOURCE_MEDIUM`) **only when the person has no other touch**. It is a coarse,
  hand-kept label, often filled in by closedloop itself from the first touch, so counting it
  next to real touches would distort first touch and echo closedloop's own writes.

Every touch goes through :func:`~closedloop.sync.touchpoints.make_touchpoint` and the ledger's
per-person ``touch_key``, so a response read twice (a full and an incremental run) is one touch.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from closedloop.connectors.contract import Connector, Record
from closedloop.connectors.salesforce.reads import id_chunks, parse_datetime, soql, soql_ids
from closedloop.mappings.channels import ChannelRules, default_channel_rules
from closedloop.sync.touchpoints import Touchpoint, TouchpointError, make_touchpoint

log = logging.getLogger("closedloop.sync.salesforce_touches")

CAMPAIGN_ORIGIN = "salesforce_campaign"
LEAD_SOURCE_ORIGIN = "salesforce_lead_source"
MEMBER_KEYS = {"Lead": "LeadId", "Contact": "ContactId"}
MEMBER_SELECT = (
    "Id, LeadId, ContactId, CreatedDate, HasResponded, FirstRespondedDate, "
    "Campaign.Name, Campaign.Type"
)
LEAD_SOURCE_FIELDS = ("LeadSource", "CreatedDate")
# Campaign Type (Salesforce's default picklist plus common additions) -> utm_medium.
CAMPAIGN_TYPE_MEDIUM = {
    "email": "email",
    "advertisement": "paid",
    "banner ads": "display",
    "referral program": "referral",
    "partners": "referral",
    "webinar": "event",
    "conference": "event",
    "trade show": "event",
    "seminar / conference": "event",
    "public relations": "offline",
    "direct mail": "offline",
    "telemarketing": "offline",
}
# LeadSource picklist value -> utm_medium (the source is the value itself, as a slug).
LEAD_SOURCE_MEDIUM = {
    "web": "website",
    "email": "email",
    "advertisement": "paid",
    "partner referral": "referral",
    "partner": "referral",
    "employee referral": "referral",
    "external referral": "referral",
    "word of mouth": "referral",
    "trade show": "event",
    "seminar - internal": "event",
    "seminar - partner": "event",
}


def slug(value: str) -> str:
    """``Trade Show`` -> ``trade_show``: a picklist label as a UTM-style value."""
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


def campaign_member_touches(
    connector: Connector,
    object_type: str,
    ids: Sequence[str],
    rules: ChannelRules | None = None,
) -> dict[str, list[Touchpoint]]:
    """The campaign-response touches of each Lead or Contact id (one SOQL query per chunk)."""
    reader = getattr(connector, "reader", None)
    key = MEMBER_KEYS.get(object_type)
    if reader is None or key is None or not ids:
        return {}
    rules = rules or default_channel_rules()
    found: dict[str, list[Touchpoint]] = {}
    for chunk in id_chunks(list(ids), len(MEMBER_SELECT) * 3 + 400):
        query = soql(MEMBER_SELECT, "CampaignMember", where=f"{key} IN {soql_ids(chunk)}")
        for page in reader.pages(query):
            for row in page:
                touch = campaign_touch(row, rules)
                if touch is not None and row.get(key):
                    found.setdefault(str(row[key]), []).append(touch)
    return found


def campaign_touch(row: Mapping[str, Any], rules: ChannelRules | None = None) -> Touchpoint | None:
    """One CampaignMember row (with ``Campaign.Name`` and ``Campaign.Type``) as a touch."""
    if not row.get("HasResponded"):
        return None
    created = parse_datetime(row.get("CreatedDate"))
    responded = parse_datetime(row.get("FirstRespondedDate"))
    at = (
        created
        if responded is None or (created and created.date() == responded.date())
        else responded
    )
    if at is None:
        return None
    campaign = row.get("Campaign") or {}
    kind = str(campaign.get("Type") or "").strip()
    medium = CAMPAIGN_TYPE_MEDIUM.get(kind.lower(), "offline")
    try:
        return make_touchpoint(
            occurred_at=at,
            origin=CAMPAIGN_ORIGIN,
            utm_source=slug(kind) or "salesforce_campaign",
            utm_medium=medium,
            utm_campaign=str(campaign.get("Name") or "") or None,
            external_id=f"salesforce:CampaignMember:{row.get('Id')}",
            rules=rules or default_channel_rules(),
        )
    except TouchpointError as exc:
        log.warning("skipped campaign member %s: %s", row.get("Id"), exc)
        return None


def lead_source_touch(record: Record, rules: ChannelRules | None = None) -> Touchpoint | None:
    """A Lead's or Contact's ``LeadSource`` as a touch at its creation (a fallback only)."""
    value = str(record.fields.get("LeadSource") or "").strip()
    if not value:
        return None
    at = parse_datetime(record.fields.get("CreatedDate")) or record.modified_at
    try:
        return make_touchpoint(
            occurred_at=at,
            origin=LEAD_SOURCE_ORIGIN,
            utm_source=slug(value),
            utm_medium=LEAD_SOURCE_MEDIUM.get(value.lower(), "offline"),
            external_id=f"salesforce:{record.object_type}:{record.id}:LeadSource",
            rules=rules or default_channel_rules(),
        )
    except TouchpointError as exc:
        log.warning("skipped the lead source of %s %s: %s", record.object_type, record.id, exc)
        return None
