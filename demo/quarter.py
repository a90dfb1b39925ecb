"""A realistic quarter in the emulators: marketing journeys, then what sales reps do.

The people and their journeys come from the HubSpot emulator's seed (paid search, social,
email, organic, referral and direct touches over up to 120 days). The sales side is played
through the Salesforce emulator's admin API, standing in for reps clicking in Salesforce: it
converts a share of the leads closedloop created (each conversion makes an Account, a Contact
and an Opportunity), then sets amounts in four currencies, close dates across the last weeks
and stages: about 45 % closed-won, 25 % closed-lost, the rest still open. Admin calls are not
vendor API calls, so they never count in the API figures the demo reports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from closedloop.demo.world import DemoWorld
from closedloop.store.schema import identities

CURRENCIES = (("USD", 0.55), ("EUR", 0.2), ("GBP", 0.15), ("CAD", 0.1))
CORPORATE = "USD"
# Units of each currency per US dollar, as Salesforce keeps them: a static rate plus dated
# rates (Advanced Currency Management) that move during the quarter.
STATIC_RATES = {"EUR": 0.92, "GBP": 0.79, "CAD": 1.36}
DATED_RATES = {
    "EUR": (0.93, 0.92, 0.9),
    "GBP": (0.8, 0.79, 0.78),
    "CAD": (1.35, 1.37, 1.38),
}
CENT = Decimal("0.01")
OPEN_STAGES = ("Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review")
WATCHED = ("utm_source", "utm_medium", "utm_campaign", "phone", "jobtitle", "lifecyclestage")


@dataclass
class Quarter:
    """What the quarter's sales activity produced."""

    opportunities: list[str] = field(default_factory=list)
    won: int = 0
    lost: int = 0


def seed_marketing(world: DemoWorld, *, people: int, seed: int) -> None:
    """Marketing's quarter: contacts with UTM journeys in the HubSpot emulator."""
    world.admin(
        "hubspot",
        "post",
        "seed",
        {"contacts": people, "companies": max(people // 10, 1), "deals": 0, "seed": seed},
    )


def rate_periods(today: date) -> list[date]:
    """The start dates of the quarter's three dated-rate periods."""
    return [today - timedelta(days=90), today - timedelta(days=60), today - timedelta(days=30)]


def home_amount(amount: Decimal, currency: str, close: date, today: date) -> Decimal:
    """What Salesforce shows as the converted amount: the dated rate of the close date.

    Computed from the rates the demo configured, independently of closedloop's conversion,
    so the demo checks closedloop against the CRM's own arithmetic.
    """
    if currency == CORPORATE:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    rate = STATIC_RATES[currency]
    for start, dated in zip(rate_periods(today), DATED_RATES[currency], strict=True):
        if close >= start:
            rate = dated
    return (amount / Decimal(str(rate))).quantize(CENT, rounding=ROUND_HALF_UP)


def configure_currencies(world: DemoWorld, today: date) -> None:
    """Turn on multi-currency with dated rates, one period per month of the quarter."""
    starts = rate_periods(today)
    dated = [
        {"iso_code": code, "rate": rate, "start_date": start.isoformat()}
        for code, rates in DATED_RATES.items()
        for rate, start in zip(rates, starts, strict=True)
    ]
    world.admin(
        "salesforce",
        "post",
        "currency",
        {"corporate": CORPORATE, "rates": STATIC_RATES, "dated_rates": dated},
    )


def subscribe_webhooks(world: DemoWorld) -> None:
    """Point HubSpot's webhooks and a Salesforce Outbound Message at the service."""
    base = world.service.url
    world.admin(
        "hubspot",
        "post",
        "webhooks",
        {
            "targetUrl": f"{base}/webhooks/hubspot",
            "subscriptions": [
                {"eventType": "contact.propertyChange", "propertyName": name} for name in WATCHED
            ],
        },
    )
    world.admin(
        "salesforce",
        "post",
        "outbound-messages",
        {
            "object": "Opportunity",
            "condition": "created or edited",
            "fields": ["StageName", "Amount", "CloseDate", "IsWon", "IsClosed"],
            "endpoint": f"{base}/webhooks/salesforce/outbound-message",
        },
    )


def crm_leads(world: DemoWorld) -> list[str]:
    """The Salesforce Leads closedloop created or matched, from its own store (no API call)."""
    query = (
        select(identities.c.record_id)
        .where(identities.c.system == "salesforce", identities.c.object_type == "Lead")
        .order_by(identities.c.record_id)
    )
    with world.services.store.connect() as conn:
        return [row.record_id for row in conn.execute(query)]


def convert_leads(world: DemoWorld, *, deals: int, seed: int) -> Quarter:
    """Reps convert ``deals`` leads, each into an Account, a Contact and an Opportunity."""
    leads = crm_leads(world)
    chosen = random.Random(seed).sample(leads, min(deals, len(leads)))
    quarter = Quarter()
    for n, lead_id in enumerate(chosen):
        made = world.admin(
            "salesforce",
            "post",
            "convert-lead",
            {"lead_id": lead_id, "opportunity_name": f"Quarter deal {n + 1}"},
        )
        quarter.opportunities.append(str(made["opportunityId"]))
    return quarter


def close_deals(world: DemoWorld, quarter: Quarter, *, today: date, seed: int) -> None:
    """Reps set amounts, currencies, close dates and stages; most deals close."""
    rng = random.Random(seed + 1)
    codes = [code for code, _ in CURRENCIES]
    weights = [share for _, share in CURRENCIES]
    for opportunity in quarter.opportunities:
        roll = rng.random()
        if roll < 0.45:
            stage = "Closed Won"
            quarter.won += 1
        elif roll < 0.7:
            stage = "Closed Lost"
            quarter.lost += 1
        else:
            stage = rng.choice(OPEN_STAGES)
        close = today - timedelta(days=rng.randint(0, 20)) if roll < 0.7 else today
        world.admin(
            "salesforce",
            "patch",
            f"records/Opportunity/{opportunity}",
            {
                "Amount": round(rng.lognormvariate(9.6, 0.7), 2),
                "CurrencyIsoCode": rng.choices(codes, weights)[0],
                "CloseDate": close.isoformat(),
                "StageName": stage,
            },
        )
