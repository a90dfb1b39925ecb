"""Realistic synthetic portal data for ``POST /__emulator__/seed``.

Options: ``contacts``, ``companies``, ``deals`` (counts), ``seed`` (random seed),
``utm_properties`` (create custom ``utm_*`` contact properties, default true), ``journeys``
(multi-touch history per contact, default true). Contacts get 1-5 touches over up to
120 days, visible through ``propertiesWithHistory`` of the source properties; some leads go on
to MQL and SQL (:mod:`~closedloop.emulators.hubspot.seed_lifecycle`); deals spread over the
default pipeline's stages with amounts in several currencies.
"""

from __future__ import annotations

import random
from typing import Any

from closedloop.emulators.hubspot.association_types import find_type
from closedloop.emulators.hubspot.derived_values import derive
from closedloop.emulators.hubspot.errors import HubSpotApiError
from closedloop.emulators.hubspot.object_types import COMPANIES, CONTACTS, DEALS, ObjectType
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.seed_lifecycle import advance_lifecycle
from closedloop.emulators.hubspot.seed_touches import (
    COMPANY_NOUNS,
    COMPANY_WORDS,
    COUNTRIES,
    FIRST_NAMES,
    FREE_MAIL,
    INDUSTRIES,
    LAST_NAMES,
    Touch,
    make_touch,
)
from closedloop.emulators.hubspot.store import HistoryEntry, Record, WriteSource
from closedloop.emulators.hubspot.values import iso_from_ms

DAY_MS = 86_400_000
UTM_NAMES = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
ANALYTICS = WriteSource("ANALYTICS", "analytics", None, "HUBSPOT_INTERNAL")
FORM = WriteSource("FORM", "demo-request-form", "Demo request", "FORM")
SALES = WriteSource("CRM_UI", "userId:1001", "Sales rep", "CRM_UI")
STAGE_WEIGHTS = {
    "appointmentscheduled": 14,
    "qualifiedtobuy": 12,
    "presentationscheduled": 10,
    "decisionmakerboughtin": 8,
    "contractsent": 6,
    "closedwon": 28,
    "closedlost": 22,
}
CURRENCIES = {"USD": 70, "EUR": 15, "GBP": 10, "CAD": 5}


def seed_portal(portal: Portal, options: dict[str, Any], default_seed: int) -> dict[str, Any]:
    """Add synthetic companies, contacts with journeys, deals and associations."""
    rng = random.Random(int(options.get("seed", default_seed)))
    stages = random.Random(f"{options.get('seed', default_seed)}:lifecycle")  # own stream
    with portal.lock:
        if options.get("utm_properties", True):
            _ensure_utm_properties(portal)
        now = portal.now_ms()
        companies = [_company(portal, rng, now, i) for i in range(int(options.get("companies", 0)))]
        contacts = [
            _contact(
                portal,
                rng,
                now,
                companies,
                journeys=bool(options.get("journeys", True)),
                stages=stages,
            )
            for _ in range(int(options.get("contacts", 0)))
        ]
        deals = [
            _deal(portal, rng, now, contacts)
            for _ in range(int(options.get("deals", 0)) if contacts else 0)
        ]
        for record in (*companies, *contacts, *deals):
            record.reindex(now, portal.index_lag_ms)
        counts = portal.counts()
    return {
        "seeded": {"companies": len(companies), "contacts": len(contacts), "deals": len(deals)},
        "totals": counts,
    }


def _ensure_utm_properties(portal: Portal) -> None:
    catalog, now = portal.catalog, portal.now_ms()
    if "utm_parameters" not in catalog.groups["contacts"]:
        catalog.create_group("contacts", {"name": "utm_parameters", "label": "UTM parameters"})
    for name in UTM_NAMES:
        if name not in catalog.properties["contacts"]:
            try:
                catalog.create(
                    "contacts",
                    {
                        "name": name,
                        "label": name.replace("_", " ").upper(),
                        "type": "string",
                        "fieldType": "text",
                        "groupName": "utm_parameters",
                        "formField": True,
                        "description": "Hidden form field filled from the landing page URL",
                    },
                    now,
                )
            except HubSpotApiError:
                continue


def _new(portal: Portal, kind: ObjectType, created_ms: int) -> Record:
    store = portal.store(kind)
    record = Record(store.new_id(), kind.name, created_ms, created_ms)
    store.add(record)
    record.properties.update(hs_object_id=record.id, createdate=iso_from_ms(created_ms))
    return record


def _set(record: Record, values: dict[str, str], at_ms: int, source: WriteSource) -> None:
    for name, value in values.items():
        if not value or record.properties.get(name) == value:
            continue
        record.properties[name] = value
        record.history.setdefault(name, []).append(HistoryEntry(value, at_ms, source))
    record.updated_ms = max(record.updated_ms, at_ms)


def _finish(record: Record, kind: ObjectType) -> None:
    record.properties[kind.modified_property] = iso_from_ms(record.updated_ms)


def _company(portal: Portal, rng: random.Random, now: int, index: int) -> Record:
    created = now - rng.randint(60, 400) * DAY_MS - rng.randint(0, DAY_MS)
    record = _new(portal, COMPANIES, created)
    word, noun = rng.choice(COMPANY_WORDS), rng.choice(COMPANY_NOUNS)
    name = f"{word} {noun}" + (f" {index}" if index >= len(COMPANY_WORDS) * 4 else "")
    domain = f"{word}{noun}{index}".lower() + rng.choice((".com", ".io", ".co"))
    _set(
        record,
        {
            "name": name,
            "domain": domain,
            "website": f"https://www.{domain}",
            "industry": rng.choice(INDUSTRIES),
            "country": rng.choice(COUNTRIES),
            "numberofemployees": str(rng.choice((12, 45, 120, 480, 2200))),
            "annualrevenue": str(rng.randint(5, 900) * 100_000),
            "hs_object_source": "CRM_UI",
        },
        created,
        SALES,
    )
    _finish(record, COMPANIES)
    return record


def _contact(
    portal: Portal,
    rng: random.Random,
    now: int,
    companies: list[Record],
    *,
    journeys: bool,
    stages: random.Random,
) -> Record:
    touches = [make_touch(rng) for _ in range(rng.randint(1, 5) if journeys else 1)]
    start = now - rng.randint(5, 120) * DAY_MS
    times = sorted(rng.randint(start, now - 60_000) for _ in touches)
    converting = rng.randrange(len(touches))
    record = _new(portal, CONTACTS, times[converting])
    company = rng.choice(companies) if companies and rng.random() < 0.85 else None
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    domain = company.properties["domain"] if company else rng.choice(FREE_MAIL)
    email = f"{first}.{last}.{record.id}@{domain}".lower()
    for number, (touch, at) in enumerate(zip(touches, times, strict=True), start=1):
        _apply_touch(record, touch, at, number, first_touch=number == 1)
        if number - 1 == converting:
            _set(
                record,
                {
                    "email": email,
                    "firstname": first,
                    "lastname": last,
                    "lifecyclestage": "lead",
                    "hs_lifecyclestage_lead_date": iso_from_ms(at),
                    "first_conversion_event_name": "Demo request",
                    "first_conversion_date": iso_from_ms(at),
                    "hs_object_source": "FORM",
                    "hs_analytics_first_touch_converting_campaign": touch.campaign,
                },
                at,
                FORM,
            )
        if number - 1 >= converting:
            _set(
                record,
                {
                    "recent_conversion_event_name": "Demo request",
                    "recent_conversion_date": iso_from_ms(at),
                    "num_conversion_events": str(number - converting),
                    "hs_analytics_last_touch_converting_campaign": touch.campaign,
                },
                at,
                FORM,
            )
    lead_ms, steps = times[converting], len(touches)
    advance_lifecycle(record, stages, lead_ms=lead_ms, touches=steps, now_ms=now, write=_set)
    portal.store(CONTACTS).index_unique(record, "email", "", email)
    _set(record, {"hs_email_domain": domain}, record.created_ms, ANALYTICS)
    if company is not None:
        _set(
            record,
            {"company": company.properties["name"], "associatedcompanyid": company.id},
            record.created_ms,
            SALES,
        )
        for type_id in (279, 1):
            kind = find_type("contacts", type_id)
            if kind is not None:
                portal.associations.add(record.id, company.id, kind)
    _finish(record, CONTACTS)
    return record


def _apply_touch(record: Record, touch: Touch, at: int, number: int, *, first_touch: bool) -> None:
    latest = {
        "hs_latest_source": touch.source,
        "hs_latest_source_data_1": touch.data_1,
        "hs_latest_source_data_2": touch.data_2,
        "hs_latest_source_timestamp": iso_from_ms(at),
        "hs_analytics_last_url": touch.url,
        "hs_analytics_last_referrer": touch.referrer,
        "hs_analytics_last_timestamp": iso_from_ms(at),
        "hs_analytics_last_visit_timestamp": iso_from_ms(at),
        "hs_analytics_num_visits": str(number),
        "hs_analytics_num_page_views": str(number * 3),
    }
    if first_touch:
        latest.update(
            hs_analytics_source=touch.source,
            hs_analytics_source_data_1=touch.data_1,
            hs_analytics_source_data_2=touch.data_2,
            hs_analytics_first_url=touch.url,
            hs_analytics_first_referrer=touch.referrer,
            hs_analytics_first_timestamp=iso_from_ms(at),
            hs_analytics_first_visit_timestamp=iso_from_ms(at),
        )
    if "gclid" in touch.click_ids:
        latest["hs_google_click_id"] = touch.click_ids["gclid"]
    if "fbclid" in touch.click_ids:
        latest["hs_facebook_click_id"] = touch.click_ids["fbclid"]
    _set(record, latest, at, ANALYTICS)
    if touch.utm:
        _set(record, dict(touch.utm), at, FORM)


def _deal(portal: Portal, rng: random.Random, now: int, contacts: list[Record]) -> Record:
    contact = rng.choice(contacts)
    created = rng.randint(contact.created_ms, max(contact.created_ms, now - DAY_MS))
    record = _new(portal, DEALS, created)
    stage = rng.choices(list(STAGE_WEIGHTS), weights=list(STAGE_WEIGHTS.values()))[0]
    closed = stage in ("closedwon", "closedlost")
    close_ms = (
        min(now - 60_000, created + rng.randint(5, 90) * DAY_MS)
        if closed
        else now + rng.randint(7, 120) * DAY_MS
    )
    currency = rng.choices(list(CURRENCIES), weights=list(CURRENCIES.values()))[0]
    plan = rng.choice(("Pro", "Enterprise", "Starter"))
    values = {
        "dealname": f"{contact.properties.get('company', 'New')} - {plan} plan",
        "amount": str(rng.randint(10, 400) * 250),
        "pipeline": "default",
        "dealstage": stage,
        "deal_currency_code": currency,
        "closedate": iso_from_ms(close_ms),
        "dealtype": rng.choice(("newbusiness", "existingbusiness")),
        "hs_analytics_source": contact.properties.get("hs_analytics_source", ""),
        "hs_object_source": "CRM_UI",
    }
    _set(record, values, created, SALES)
    at = min(close_ms, now) if closed else created
    derived = derive("deals", record.properties, set(values), portal.pipelines, at)
    _set(record, derived, at, WriteSource("CALCULATED"))
    links = [(contact.id, 3)]
    company_id = contact.properties.get("associatedcompanyid")
    if company_id:
        links.append((company_id, 5))
        links.append((company_id, 341))
    for target_id, type_id in links:
        kind = find_type("deals", type_id)
        if kind is not None:
            portal.associations.add(record.id, target_id, kind)
    _finish(record, DEALS)
    return record
