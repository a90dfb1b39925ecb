"""The demo when one system is both marketing and CRM: ``hubspot`` and ``salesforce``.

Each topology runs the whole loop at a small size through :func:`run_demo`, then the test
reads both sides again through the official clients, independently of the demo's own figures:
the reps' won deals, the revenue each buyer holds, the marketing total under several models,
and that the webhooks (not the reconciliation) carried the revenue. Nothing may be left
running afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select

from closedloop.connectors.contract import Watermark
from closedloop.demo.loop import DemoResult, run_demo
from closedloop.demo.quarter import rep_decisions
from closedloop.demo.world import DemoWorld
from closedloop.revenue.pushback import (
    HUBSPOT_FIELDS,
    SALESFORCE_FIELDS,
    UNATTRIBUTED_ID,
    marketing_revenue_total,
)
from closedloop.store.schema import runs

PEOPLE, DEALS, SEED = 300, 60, 11


def total_of(world: DemoWorld, system: str, object_type: str, field: str) -> Decimal:
    """Σ ``field`` over every record of ``object_type``, read through the official client."""
    connector = world.connectors[system]
    return sum(
        (
            Decimal(str(record.fields.get(field) or 0))
            for page in connector.read_all(object_type, [field])
            for record in page.records
        ),
        Decimal("0.00"),
    )


def revenue_runs(world: DemoWorld) -> dict[str, list[int]]:
    """Deals each kind of revenue run changed, in order (``revenue_targeted``: webhooks)."""
    found: dict[str, list[int]] = {}
    with world.services.store.connect() as conn:
        for row in conn.execute(select(runs.c.job, runs.c.counts).order_by(runs.c.id)):
            if row.job.startswith("revenue"):
                found.setdefault(row.job, []).append(int(row.counts["changed"]))
    return found


def check_common(result: DemoResult, world: DemoWorld) -> None:
    won = sum(1 for d in rep_decisions(DEALS, today=datetime.now(UTC).date(), seed=SEED)
              if d.outcome == "won")  # fmt: skip
    assert result.deals_won == won
    assert result.revenue_crm > 0
    assert result.revenue_marketing == result.revenue_crm
    assert result.report.won_revenue == result.revenue_crm
    assert result.api_calls >= result.api_floor_calls > 0
    jobs = revenue_runs(world)
    assert sum(jobs["revenue_targeted"]) >= won  # the webhooks carried every won deal
    assert jobs["revenue"] == [0]  # and the reconciliation found nothing left
    again = world.revenue.run()
    assert again.versions == []
    assert again.written == 0


def stopped(world: DemoWorld) -> bool:
    """Whether the service no longer answers and the store directory is gone."""
    try:
        requests.get(f"{world.service.url}/healthz", timeout=2)
    except requests.ConnectionError:
        return not world.scratch.exists()
    return False


@pytest.mark.parametrize("topology", ["hubspot", "salesforce"])
def test_only_the_used_emulator_runs_and_everything_stops(topology: str) -> None:
    result, world = run_demo(people=PEOPLE, deals=DEALS, seed=SEED, topology=topology)
    try:
        assert world.systems == [topology]
        assert list(world.connectors) == [topology]
        unused = world.salesforce if topology == "hubspot" else world.hubspot
        assert unused is None
        assert world.emulator(topology).url.startswith("http://127.0.0.1:")
        assert result.people == PEOPLE
    finally:
        world.stop()
    assert stopped(world)


def test_hubspot_alone_closes_the_loop_on_contacts_and_companies() -> None:
    result, world = run_demo(people=PEOPLE, deals=DEALS, seed=SEED, topology="hubspot")
    try:
        check_common(result, world)
        connector = world.connectors["hubspot"]
        won = [d for d in connector.closed_deals(Watermark()) if d.is_won]
        assert len(won) == result.deals_won
        assert all(len(d.buyer_ids) == 1 for d in won)  # each deal was opened on one contact
        assert {d.currency for d in won} > {"USD"}  # more than one currency was won
        # Each buyer holds the full amounts of the deals they bought.
        bought = total_of(world, "hubspot", "contacts", HUBSPOT_FIELDS["total"])
        assert bought == result.revenue_crm
        credited = total_of(world, "hubspot", "contacts", HUBSPOT_FIELDS["attributed"])
        bucket = connector.find(
            "companies", "closedloop_external_id", [UNATTRIBUTED_ID], [HUBSPOT_FIELDS["attributed"]]
        )
        assert len(bucket) == 1
        rest = Decimal(str(bucket[0].fields[HUBSPOT_FIELDS["attributed"]] or 0))
        assert credited + rest == result.revenue_crm
        assert credited > rest  # journeys exist, so most revenue reaches a contact
    finally:
        world.stop()


def test_salesforce_alone_closes_the_loop_on_campaigns_under_every_model() -> None:
    result, world = run_demo(people=PEOPLE, deals=DEALS, seed=SEED, topology="salesforce")
    try:
        check_common(result, world)
        connector = world.connectors["salesforce"]
        for model in ("first_touch", "last_touch", "linear", "u_shaped"):
            assert marketing_revenue_total(connector, model=model) == result.revenue_crm, model
        bucket = connector.find(
            "Campaign", "closedloop_id__c", [UNATTRIBUTED_ID], ["CL_Attributed_Revenue_Linear__c"]
        )
        assert len(bucket) == 1
        named = result.revenue_crm - Decimal(
            str(bucket[0].fields["CL_Attributed_Revenue_Linear__c"] or 0)
        )
        assert named > 0  # campaign responses before the close earn revenue
        bought = total_of(world, "salesforce", "Contact", SALESFORCE_FIELDS["total"])
        assert bought == result.revenue_crm
        channels = {row.key for row in result.report.rows if row.revenue > 0}
        assert len(channels - {"(unattributed)"}) >= 2
    finally:
        world.stop()
