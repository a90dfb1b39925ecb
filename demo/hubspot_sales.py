"""The quarter's sales in HubSpot, when HubSpot is the CRM too (the ``hubspot`` topology).

Reps open a deal for a share of the contacts closedloop knows, each associated with its
contact (HubSpot's default deal-to-contact association), in the default pipeline's first
stage. Later they set amounts in four currencies, close dates and stages: closed won, closed
lost, or one of the open stages. HubSpot converts each amount to the portal's home currency
itself (``amount_in_home_currency``, at the rate of the moment the deal closes). The reps act
through the emulator's admin API (``records/write``), as people in HubSpot's UI: their changes
raise HubSpot's webhooks like any UI edit, and never count as closedloop's API calls.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from closedloop.connectors.contract import Watermark
from closedloop.demo import quarter as q
from closedloop.demo.world import DemoWorld
from closedloop.revenue.currency import to_money
from closedloop.store.schema import identities

WRITE_BATCH = 100
DEAL_TO_CONTACT = 3  # HubSpot's unlabelled default association type, deal -> contact
FIRST_STAGE = "appointmentscheduled"
OPEN_STAGES = ("qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin", "contractsent")
STAGE_OF = {"won": "closedwon", "lost": "closedlost"}


def known_contacts(world: DemoWorld) -> list[str]:
    """The HubSpot contacts closedloop knows, from its own store (no API call)."""
    query = (
        select(identities.c.record_id)
        .where(identities.c.system == "hubspot", identities.c.object_type == "contacts")
        .order_by(identities.c.record_id)
    )
    with world.services.store.connect() as conn:
        return [row.record_id for row in conn.execute(query)]


def write_deals(world: DemoWorld, inputs: list[dict[str, object]]) -> list[str]:
    """Create or update deals as reps, a batch of admin writes at a time; their ids."""
    ids: list[str] = []
    for start in range(0, len(inputs), WRITE_BATCH):
        body = {"objectType": "deals", "inputs": inputs[start : start + WRITE_BATCH]}
        answer = world.admin("hubspot", "post", "records/write", body)
        ids += [str(row["id"]) for row in answer["results"]]
    return ids


def open_deals(world: DemoWorld, *, deals: int, seed: int) -> q.Quarter:
    """Reps open ``deals`` deals, each associated with one known contact."""
    contacts = known_contacts(world)
    chosen = random.Random(seed).sample(contacts, min(deals, len(contacts)))
    inputs: list[dict[str, object]] = [
        {
            "properties": {
                "dealname": f"Quarter deal {n + 1}",
                "pipeline": "default",
                "dealstage": FIRST_STAGE,
            },
            "associations": [
                {
                    "to": {"id": contact},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": DEAL_TO_CONTACT,
                        }
                    ],
                }
            ],
        }
        for n, contact in enumerate(chosen)
    ]
    return q.Quarter(deals=write_deals(world, inputs))


def close_deals(world: DemoWorld, quarter: q.Quarter, *, today: date, seed: int) -> None:
    """Reps set amounts, currencies, close dates and stages; most deals close."""
    decisions = q.rep_decisions(len(quarter.deals), today=today, seed=seed)
    inputs: list[dict[str, object]] = []
    for deal, decision in zip(quarter.deals, decisions, strict=True):
        q.tally(quarter, decision)
        stage = STAGE_OF.get(decision.outcome) or OPEN_STAGES[decision.open_stage]
        inputs.append(
            {
                "id": deal,
                "properties": {
                    "amount": f"{decision.amount:.2f}",
                    "deal_currency_code": decision.currency,
                    "closedate": f"{decision.close.isoformat()}T00:00:00Z",
                    "dealstage": stage,
                },
            }
        )
    write_deals(world, inputs)


def won_revenue(world: DemoWorld) -> tuple[int, Decimal]:
    """Won deals read from HubSpot and their revenue as HubSpot shows it.

    That is each deal's ``amount_in_home_currency``, which HubSpot computed itself (won is
    read from stage metadata), to the cent.
    """
    crm = world.connectors["hubspot"]
    won = [d for d in crm.closed_deals(Watermark()) if d.is_won]
    return len(won), sum((to_money(d.home_amount) for d in won), Decimal("0.00"))
