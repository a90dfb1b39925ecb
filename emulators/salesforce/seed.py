"""Realistic synthetic data for an org, deterministic per seed.

``seed_org(org, {"leads": 2000, "accounts": 200, "contacts": 400, "opportunities": 400,
"campaigns": 10, "seed": 1})`` creates campaigns, accounts, contacts spread over the
accounts, leads with a LeadSource and campaign memberships, opportunities across every stage
(IsWon/IsClosed follow the OpportunityStage definitions) with amounts, close dates and
currencies, and OpportunityContactRoles with one primary contact each. Records are written
by the administrator and back-dated over the last 90 days. With ``"journeys": true`` every
Lead instead has a marketing journey: it is created by its first campaign response, and
responds to one or two more campaigns later on (each member dated, and its
``FirstRespondedDate`` set, at its response; about one member in eight is only Sent).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from closedloop.emulators.salesforce.org import Org
from closedloop.emulators.salesforce.values import format_date, format_datetime

FIRST = (
    "Ava",
    "Liam",
    "Mia",
    "Noah",
    "Zoe",
    "Ethan",
    "Lena",
    "Omar",
    "Priya",
    "Jonas",
    "Chen",
    "Sofia",
)
LAST = (
    "Garcia",
    "Smith",
    "Müller",
    "Okafor",
    "Tanaka",
    "Rossi",
    "Novak",
    "Kim",
    "Dubois",
    "Larsen",
)
WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
)
SUFFIX = ("Inc", "LLC", "GmbH", "Ltd", "Group", "Labs")
COUNT_KEYS = ("campaigns", "accounts", "contacts", "leads", "opportunities")


def _company(rng: random.Random, serial: int) -> str:
    return f"{rng.choice(WORDS)} {rng.choice(SUFFIX)} {serial}"


def seed_org(org: Org, options: dict[str, Any], *, default_seed: int = 0) -> dict[str, Any]:
    """Create synthetic records and return how many of each were made.

    Raises:
        ValueError: for a negative or non-integer count.
    """
    counts = {key: int(options.get(key, 0)) for key in COUNT_KEYS}
    if any(value < 0 for value in counts.values()):
        raise ValueError("counts must be >= 0")
    rng = random.Random(int(options.get("seed", default_seed)))
    now = org.clock.now()
    schema, writer = org.schema.objects, org.writer
    currencies = list(org.schema.currency_codes) if org.schema.multicurrency else []

    def when(max_days: int) -> str:
        return format_datetime(now - timedelta(seconds=rng.randint(60, max_days * 86_400)))

    def create(
        name: str, values: dict[str, Any], age_days: int = 90, at: datetime | None = None
    ) -> str:
        stamp = when(age_days) if at is None else format_datetime(at)
        values |= {"CreatedDate": stamp, "LastModifiedDate": stamp, "SystemModstamp": stamp}
        if currencies and name in ("Lead", "Account", "Contact", "Opportunity", "Campaign"):
            values.setdefault("CurrencyIsoCode", rng.choice(currencies))
        return writer.create(schema[name.lower()], values, system=True)

    sources = org.schema.picklists["LeadSource"]
    with org.store.transaction():
        campaigns = [
            create(
                "Campaign",
                {
                    "Name": f"{rng.choice(['Spring', 'Summer', 'Q3', 'Launch'])} Campaign {i + 1}",
                    "Type": rng.choice(org.schema.picklists["CampaignType"]),
                    "Status": "In Progress",
                    "IsActive": True,
                    "StartDate": format_date((now - timedelta(days=120)).date()),
                },
            )
            for i in range(counts["campaigns"])
        ]
        accounts = [
            create(
                "Account",
                {
                    "Name": _company(rng, i + 1),
                    "Industry": rng.choice(org.schema.picklists["Industry"]),
                    "AccountSource": rng.choice(sources),
                    "NumberOfEmployees": rng.randint(5, 5000),
                },
            )
            for i in range(counts["accounts"])
        ]
        contacts_by_account: dict[str, list[str]] = {}
        for i in range(counts["contacts"]):
            account = accounts[i % len(accounts)] if accounts else None
            first, last = rng.choice(FIRST), rng.choice(LAST)
            contact = create(
                "Contact",
                {
                    "FirstName": first,
                    "LastName": last,
                    "AccountId": account,
                    "Email": f"{first.lower()}.{i}@example.com",
                    "LeadSource": rng.choice(sources),
                },
            )
            contacts_by_account.setdefault(account or "", []).append(contact)
        open_statuses = [s for s in org.schema.picklists["LeadStatus"] if "Converted" not in s]
        journeys = bool(options.get("journeys"))
        for i in range(counts["leads"]):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            born = now - timedelta(seconds=rng.randint(3_600, 100 * 86_400)) if journeys else None
            lead = create(
                "Lead",
                {
                    "FirstName": first,
                    "LastName": last,
                    "Company": _company(rng, i + 1),
                    "Email": f"{first.lower()}.{last.lower()}.{i}@example.org",
                    "LeadSource": rng.choice(sources),
                    "Status": rng.choice(open_statuses),
                },
                at=born,
            )
            if born is not None:
                _journey(rng, campaigns, lead, born, now, create)
                continue
            for campaign in rng.sample(
                campaigns, k=min(len(campaigns), rng.choice((0, 0, 1, 1, 2)))
            ):
                create(
                    "CampaignMember",
                    {
                        "CampaignId": campaign,
                        "LeadId": lead,
                        "Status": rng.choice(("Sent", "Responded")),
                    },
                )
        stages = list(org.store.rows("OpportunityStage"))
        roles = 0
        for i in range(counts["opportunities"]):
            stage = rng.choice(stages)
            offset = -rng.randint(1, 180) if stage["IsClosed"] else rng.randint(1, 120)
            account = rng.choice(accounts) if accounts else None
            opportunity = create(
                "Opportunity",
                {
                    "Name": f"Deal {i + 1}",
                    "StageName": stage["MasterLabel"],
                    "AccountId": account,
                    "Amount": float(rng.randrange(5_000, 200_000, 500)),
                    "LeadSource": rng.choice(sources),
                    "CloseDate": format_date((now + timedelta(days=offset)).date()),
                    "CampaignId": rng.choice([*campaigns, None]) if campaigns else None,
                },
            )
            people = contacts_by_account.get(account or "", [])
            for position, contact in enumerate(
                rng.sample(people, k=min(len(people), rng.randint(1, 2)))
            ):
                create(
                    "OpportunityContactRole",
                    {
                        "OpportunityId": opportunity,
                        "ContactId": contact,
                        "IsPrimary": position == 0,
                        "Role": rng.choice(org.schema.picklists["ContactRole"]),
                    },
                )
                roles += 1
    return {**counts, "opportunity_contact_roles": roles}


def _journey(
    rng: random.Random,
    campaigns: list[str],
    lead: str,
    born: datetime,
    now: datetime,
    create: Callable[..., str],
) -> None:
    """A Lead's campaign responses: the one that created it, then up to two more."""
    chosen = rng.sample(campaigns, k=min(len(campaigns), rng.choice((1, 1, 2, 2, 3))))
    for position, campaign in enumerate(chosen):
        span = max(int((now - born).total_seconds()) - 60, 1)
        at = born if position == 0 else born + timedelta(seconds=rng.randint(1, span))
        status = "Sent" if position > 0 and rng.random() < 0.125 else "Responded"
        values = {"CampaignId": campaign, "LeadId": lead, "Status": status}
        if status == "Responded":
            values["FirstRespondedDate"] = format_date(at.date())
        create("CampaignMember", values, at=at)
