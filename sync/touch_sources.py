"""Touches read from the marketing system's own data, through documented endpoints only.

**HubSpot** keeps no touch list, but its property history is one: every visit that changed
the latest source rewrote ``hs_latest_source`` (with its drill-downs), ``hs_analytics_last_url``
and ``hs_analytics_last_referrer``, and portals that capture UTMs keep them in ``utm_*``
properties with history too. Each distinct timestamp across those histories is one touch: its
landing page (with any UTM parameters), its referrer, its UTMs and its click ids
(``hs_google_click_id`` → gclid, ``hs_facebook_click_id`` → fbclid) are the values written at
that instant. A touch without a landing page falls back to HubSpot's source category.

**Lifecycle dates**: HubSpot stamps ``hs_lifecyclestage_<stage>_date`` when a contact enters a
lifecycle stage; the MQL and SQL dates go to ``people.became_mql_at`` / ``became_sql_at``
(:func:`mark_lifecycle`, the earliest moment wins, as for the lead date). Salesforce has no
documented equivalent (Lead Status is a free picklist with no dated stage), so its people keep
them empty.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import Engine, update

from closedloop.connectors.contract import FieldChange, Record
from closedloop.mappings.channels import ChannelRules, default_channel_rules
from closedloop.store.schema import people
from closedloop.sync import people as person_sql
from closedloop.sync.sql import begin_write
from closedloop.sync.touchpoints import (
    CLICK_ID_PARAMS,
    Touchpoint,
    TouchpointError,
    make_touchpoint,
)

log = logging.getLogger("closedloop.sync.touch_sources")

MQL_DATE = "hs_lifecyclestage_marketingqualifiedlead_date"
SQL_DATE = "hs_lifecyclestage_salesqualifiedlead_date"
LifecycleDates = tuple[str, datetime | None, datetime | None]
"""A person's (person id, MQL date, SQL date)."""
UTM_PROPERTIES = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
CLICK_ID_PROPERTIES = {"hs_google_click_id": "gclid", "hs_facebook_click_id": "fbclid"}
HUBSPOT_TOUCH_HISTORY = (
    "hs_latest_source",
    "hs_latest_source_data_1",
    "hs_latest_source_data_2",
    "hs_analytics_last_url",
    "hs_analytics_last_referrer",
    *UTM_PROPERTIES,
    *CLICK_ID_PROPERTIES,
)
HUBSPOT_TOUCH_FIELDS = (
    "email",
    "hs_merged_object_ids",
    "lifecyclestage",
    "hs_lifecyclestage_lead_date",
    MQL_DATE,
    SQL_DATE,
    "hs_analytics_first_url",
    "hs_analytics_first_referrer",
    "hs_analytics_first_timestamp",
)
# HubSpot's source categories as (source, medium) when a touch has no landing page.
CATEGORY_SOURCE_MEDIUM = {
    "ORGANIC_SEARCH": (None, "organic"),
    "PAID_SEARCH": (None, "cpc"),
    "EMAIL_MARKETING": ("email", "email"),
    "SOCIAL_MEDIA": (None, "social"),
    "PAID_SOCIAL": (None, "paid_social"),
    "REFERRALS": (None, "referral"),
    "DIRECT_TRAFFIC": ("(direct)", "(none)"),
    "OFFLINE": ("offline", "offline"),
    "OTHER_CAMPAIGNS": (None, "other"),
    "AI_REFERRALS": (None, "referral"),
}


def hubspot_touches(record: Record, rules: ChannelRules | None = None) -> list[Touchpoint]:
    """Every touch HubSpot's property history records for one contact, oldest first."""
    rules = rules or default_channel_rules()
    by_time: dict[datetime, dict[str, object]] = defaultdict(dict)
    for name in HUBSPOT_TOUCH_HISTORY:
        for change in record.history.get(name, []):
            if change.value not in (None, ""):
                by_time[change.at][name] = change.value
    _add_first_visit(record, by_time)
    _carry_utm_forward(record, by_time)
    touches = []
    for at in sorted(by_time):
        touch = _touch_at(record.id, at, by_time[at], rules)
        if touch is not None:
            touches.append(touch)
    return touches


def _carry_utm_forward(record: Record, by_time: dict[datetime, dict[str, object]]) -> None:
    """Complete a partial UTM change with the values in force at that instant.

    HubSpot records no history entry for a value that did not change, so a form submission
    that repeats ``utm_source`` but changes ``utm_campaign`` shows only the campaign. An
    instant at which no UTM property changed stays as it is (a direct visit is not paid).
    """
    history = {
        name: sorted(record.history.get(name, []), key=lambda c: c.at) for name in UTM_PROPERTIES
    }
    for at, values in by_time.items():
        if not any(name in values for name in UTM_PROPERTIES):
            continue
        for name in UTM_PROPERTIES:
            if name in values:
                continue
            earlier = [c for c in history[name] if c.at <= at and c.value not in (None, "")]
            if earlier:
                values[name] = earlier[-1].value


def _add_first_visit(record: Record, by_time: dict[datetime, dict[str, object]]) -> None:
    """The first visit's URL and referrer live in their own properties, without history."""
    stamp = record.fields.get("hs_analytics_first_timestamp")
    url = record.fields.get("hs_analytics_first_url")
    if not stamp or not url:
        return
    try:
        at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return
    values = by_time[at]
    values.setdefault("hs_analytics_last_url", url)
    referrer = record.fields.get("hs_analytics_first_referrer")
    if referrer:
        values.setdefault("hs_analytics_last_referrer", referrer)


def _touch_at(
    record_id: str, at: datetime, values: dict[str, object], rules: ChannelRules
) -> Touchpoint | None:
    url = str(values["hs_analytics_last_url"]) if values.get("hs_analytics_last_url") else None
    referrer = values.get("hs_analytics_last_referrer")
    utm = {name: str(values[name]) for name in UTM_PROPERTIES if name in values}
    clicks = {CLICK_ID_PROPERTIES[n]: str(values[n]) for n in CLICK_ID_PROPERTIES if n in values}
    try:
        if url:
            query = _query_params(url)
            utm = {**{k: query[k] for k in UTM_PROPERTIES if k in query}, **utm}
            clicks = {**{k: query[k] for k in CLICK_ID_PARAMS if k in query}, **clicks}
        elif not utm:
            utm = _from_category(values)
        return make_touchpoint(
            occurred_at=at,
            origin="hubspot",
            click_ids=clicks,
            landing_page=url,
            referrer=str(referrer) if referrer else None,
            rules=rules,
            **utm,
        )
    except TouchpointError as exc:
        log.warning("skipped a touch of HubSpot contact %s at %s: %s", record_id, at, exc)
        return None


def _query_params(url: str) -> dict[str, str]:
    """Query parameters by lower-cased name; the first non-empty value of a name wins."""
    found: dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=False):
        found.setdefault(name.lower(), value)
    return found


def _from_category(values: dict[str, object]) -> dict[str, str]:
    category = str(values.get("hs_latest_source") or "")
    source, medium = CATEGORY_SOURCE_MEDIUM.get(category, (None, None))
    detail = values.get("hs_latest_source_data_1")
    out = {}
    if source or detail:
        out["utm_source"] = source or str(detail).lower()
    if medium:
        out["utm_medium"] = medium
    return out


def latest_change(changes: list[FieldChange]) -> FieldChange | None:
    """The newest entry of a field's history (HubSpot lists newest first, but do not rely on it)."""
    return max(changes, key=lambda c: c.at, default=None)


def hubspot_lifecycle_dates(record: Record) -> tuple[datetime | None, datetime | None]:
    """The contact's (MQL date, SQL date), each None when HubSpot has none (or it is garbled)."""
    return _moment(record.fields.get(MQL_DATE)), _moment(record.fields.get(SQL_DATE))


def mark_lifecycle(engine: Engine, dates: Iterable[LifecycleDates]) -> None:
    """Store MQL and SQL dates on people (of their survivors), in one transaction.

    A date only ever moves earlier: a person with several contacts keeps the first, and a
    date HubSpot no longer shows is kept (the person did reach the stage then).
    """
    wanted = [d for d in dates if d[1] is not None or d[2] is not None]
    if not wanted:
        return
    with begin_write(engine) as conn:
        for person_id, mql_at, sql_at in wanted:
            target = person_sql.survivor(conn, person_id)
            for column, at in ((people.c.became_mql_at, mql_at), (people.c.became_sql_at, sql_at)):
                if at is not None:
                    conn.execute(
                        update(people)
                        .where(people.c.person_id == target, column.is_(None) | (column > at))
                        .values({column.name: at})
                    )


def _moment(value: object) -> datetime | None:
    """A HubSpot datetime value: ISO 8601 or epoch milliseconds."""
    if value in (None, ""):
        return None
    text = str(value)
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
