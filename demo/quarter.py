"""A realistic quarter in the emulators: what marketing and the sales reps do, in any topology.

The people and their journeys are seeded in the marketing system (HubSpot contacts with UTM
journeys here, Salesforce Leads with campaign responses in
:mod:`closedloop.demo.salesforce_sales`). The sales side is played through the CRM
emulator's admin API, standing in for reps clicking in the CRM's UI: they open deals for a
share of the people, then set amounts in four currencies, close dates across the last weeks
and stages: about 45 % closed-won, 25 % closed-lost, the rest still open
(:func:`rep_decisions`). Admin calls are not vendor API calls, so they never count in the
API figures the demo reports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from closedloop.demo.world import DemoWorld

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
WATCHED = ("utm_source", "utm_medium", "utm_campaign", "phone", "jobtitle", "lifecyclestage")
Outcome = Literal["won", "lost", "open"]


@dataclass
class Quarter:
    """What the quarter's sales activity produced: the CRM's deal ids and how they ended."""

    deals: list[str] = field(default_factory=list)
    won: int = 0
    lost: int = 0


@dataclass(frozen=True)
class RepDecision:
    """What a rep does with one deal: its outcome, amount, currency and close date."""

    outcome: Outcome
    amount: float
    currency: str
    close: date
    open_stage: int
    """Which open stage (an index into the CRM's open stages) a deal left open sits in."""


def rep_decisions(count: int, *, today: date, seed: int) -> list[RepDecision]:
    """The reps' decisions for ``count`` deals, deterministic per seed."""
    rng = random.Random(seed + 1)
    codes = [code for code, _ in CURRENCIES]
    weights = [share for _, share in CURRENCIES]
    decisions = []
    for _ in range(count):
        roll = rng.random()
        outcome: Outcome = "won" if roll < 0.45 else "lost" if roll < 0.7 else "open"
        open_stage = rng.randrange(4) if outcome == "open" else 0
        close = today - timedelta(days=rng.randint(0, 20)) if outcome != "open" else today
        decisions.append(
            RepDecision(
                outcome=outcome,
                amount=round(rng.lognormvariate(9.6, 0.7), 2),
                currency=rng.choices(codes, weights)[0],
                close=close,
                open_stage=open_stage,
            )
        )
    return decisions


def tally(quarter: Quarter, decision: RepDecision) -> None:
    """Count a decision's outcome in the quarter."""
    if decision.outcome == "won":
        quarter.won += 1
    elif decision.outcome == "lost":
        quarter.lost += 1


def seed_hubspot_marketing(world: DemoWorld, *, people: int, seed: int) -> None:
    """Marketing's quarter in HubSpot: contacts with UTM journeys and their companies."""
    world.admin(
        "hubspot",
        "post",
        "seed",
        {"contacts": people, "companies": max(people // 10, 1), "deals": 0, "seed": seed},
    )


def subscribe_hubspot(world: DemoWorld, *, deals: bool) -> None:
    """Point HubSpot's webhooks at the service: watched contact properties, deals if asked."""
    subscriptions = [
        {"eventType": "contact.propertyChange", "propertyName": name} for name in WATCHED
    ]
    if deals:
        subscriptions += [
            {"eventType": "deal.propertyChange", "propertyName": name}
            for name in ("dealstage", "amount")
        ]
        subscriptions.append({"eventType": "deal.deletion"})
    world.admin(
        "hubspot",
        "post",
        "webhooks",
        {"targetUrl": f"{world.service.url}/webhooks/hubspot", "subscriptions": subscriptions},
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
