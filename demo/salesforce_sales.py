"""The quarter in Salesforce: marketing's Leads and campaigns, and reps working Opportunities.

Salesforce plays the CRM (behind HubSpot, or alone) and, in the ``salesforce`` topology, the
marketing system too: Leads created by their first campaign response, with more responses
later and a LeadSource each (:func:`seed_leads`). Reps convert a share of the Leads closedloop
knows (each conversion makes an Account, a Contact and an Opportunity), then set amounts in
four currencies with dated rates, close dates and stages (:func:`close_opportunities`).
Everything goes through the emulator's admin API, as an administrator or rep would act in
Setup and the UI, so none of it counts as closedloop's API calls.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from closedloop.connectors.contract import Watermark
from closedloop.demo import quarter as q
from closedloop.demo.world import DemoWorld
from closedloop.store.schema import identities

OPEN_STAGES = ("Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review")
STAGE_OF = {"won": "Closed Won", "lost": "Closed Lost"}
CAMPAIGNS = 8
MASS_UPDATE = 200  # records a list view's mass update saves at once


def seed_leads(world: DemoWorld, *, people: int, seed: int) -> None:
    """Marketing's quarter in Salesforce: Leads with campaign-response journeys."""
    world.admin(
        "salesforce",
        "post",
        "seed",
        {"leads": people, "campaigns": CAMPAIGNS, "journeys": True, "seed": seed},
    )


def configure_currencies(world: DemoWorld, today: date) -> None:
    """Turn on multi-currency with dated rates, one period per month of the quarter."""
    starts = q.rate_periods(today)
    dated = [
        {"iso_code": code, "rate": rate, "start_date": start.isoformat()}
        for code, rates in q.DATED_RATES.items()
        for rate, start in zip(rates, starts, strict=True)
    ]
    world.admin(
        "salesforce",
        "post",
        "currency",
        {"corporate": q.CORPORATE, "rates": q.STATIC_RATES, "dated_rates": dated},
    )


def subscribe_outbound(world: DemoWorld) -> None:
    """An Outbound Message on Opportunity changes, pointed at the service."""
    world.admin(
        "salesforce",
        "post",
        "outbound-messages",
        {
            "object": "Opportunity",
            "condition": "created or edited",
            "fields": ["StageName", "Amount", "CloseDate", "IsWon", "IsClosed"],
            "endpoint": f"{world.service.url}/webhooks/salesforce/outbound-message",
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


def convert_leads(world: DemoWorld, *, deals: int, seed: int) -> q.Quarter:
    """Reps convert ``deals`` leads, each into an Account, a Contact and an Opportunity."""
    leads = crm_leads(world)
    chosen = random.Random(seed).sample(leads, min(deals, len(leads)))
    quarter = q.Quarter()
    for n, lead_id in enumerate(chosen):
        made = world.admin(
            "salesforce",
            "post",
            "convert-lead",
            {"lead_id": lead_id, "opportunity_name": f"Quarter deal {n + 1}"},
        )
        quarter.deals.append(str(made["opportunityId"]))
    return quarter


def close_opportunities(world: DemoWorld, quarter: q.Quarter, *, today: date, seed: int) -> None:
    """Reps set amounts, currencies, close dates and stages (list-view mass updates)."""
    decisions = q.rep_decisions(len(quarter.deals), today=today, seed=seed)
    records: list[dict[str, object]] = []
    for opportunity, decision in zip(quarter.deals, decisions, strict=True):
        q.tally(quarter, decision)
        records.append(
            {
                "Id": opportunity,
                "Amount": decision.amount,
                "CurrencyIsoCode": decision.currency,
                "CloseDate": decision.close.isoformat(),
                "StageName": STAGE_OF.get(decision.outcome) or OPEN_STAGES[decision.open_stage],
            }
        )
    for start in range(0, len(records), MASS_UPDATE):
        chunk = records[start : start + MASS_UPDATE]
        world.admin("salesforce", "patch", "records/Opportunity", {"records": chunk})


def won_revenue(world: DemoWorld, today: date) -> tuple[int, Decimal]:
    """Won Opportunities read from Salesforce, converted as Salesforce converts them.

    The conversion uses the rates the demo configured (:func:`~closedloop.demo.quarter.
    home_amount`), not closedloop's, so the figure checks closedloop against the CRM.
    """
    crm = world.connectors["salesforce"]
    won = [d for d in crm.closed_deals(Watermark()) if d.is_won]
    total = Decimal("0.00")
    for deal in won:
        amount = Decimal(str(deal.amount or 0))
        closed = deal.close_date.date() if deal.close_date else today
        total += q.home_amount(amount, deal.currency or q.CORPORATE, closed, today)
    return len(won), total
