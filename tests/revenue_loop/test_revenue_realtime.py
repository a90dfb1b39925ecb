"""A won deal reaches the marketing side through webhooks, or through the next scheduled run.

The systems are the demo's (:func:`closedloop.demo.world.start_world`): both emulators, the
real webhook app with its inbox workers, the sync engine and the revenue loop on a fresh
SQLite store. Salesforce's Outbound Messages are delivered by the emulator's own background
thread, so nothing here calls the revenue loop for the webhook path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from closedloop.demo import quarter, salesforce_sales
from closedloop.demo.playbooks import PLAYBOOKS
from closedloop.demo.world import DemoWorld, start_world
from closedloop.revenue.pushback import marketing_revenue_total
from closedloop.store.schema import revenue_versions, webhook_inbox
from closedloop.sync.schedule import SyncScheduler

DEADLINE_SECONDS = 10.0  # the path is sub-second on an idle machine; CI machines are busier


@pytest.fixture
def world() -> Iterator[DemoWorld]:
    built = start_world(seed=11)
    try:
        quarter.seed_hubspot_marketing(built, people=40, seed=11)
        for connector in built.connectors.values():
            connector.provision(dry_run=False)
        built.engine.run(full=True, allow_blast=True)
        yield built
    finally:
        built.stop()


def _marketing_total(world: DemoWorld) -> Decimal:
    return marketing_revenue_total(world.connectors["hubspot"], model="linear")


def _versions(world: DemoWorld, deal_id: str) -> int:
    query = select(func.count()).where(revenue_versions.c.deal_id == deal_id)
    with world.services.store.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _win(world: DemoWorld, opportunity: str, amount: float) -> None:
    today = datetime.now(UTC).date().isoformat()
    world.admin(
        "salesforce",
        "patch",
        f"records/Opportunity/{opportunity}",
        {"Amount": amount, "StageName": "Closed Won", "CloseDate": today},
    )


def test_a_won_deal_arrives_through_webhooks_and_counts_once(world: DemoWorld) -> None:
    sales = salesforce_sales.convert_leads(world, deals=1, seed=11)
    world.engine.run(allow_blast=True)
    PLAYBOOKS["hubspot-salesforce"].subscribe(world)
    opportunity = sales.deals[0]

    started = time.monotonic()
    _win(world, opportunity, 1234.5)
    while _marketing_total(world) != Decimal("1234.50"):
        assert time.monotonic() - started < DEADLINE_SECONDS, "revenue did not arrive"
        time.sleep(0.1)

    with world.services.store.connect() as conn:
        delivered = conn.execute(
            select(func.count()).where(webhook_inbox.c.record_id == opportunity)
        ).scalar_one()
    assert delivered >= 1  # it came through the listener, not a run of ours
    # Delivered again (a redelivery of every pending message) and reconciled: counted once.
    world.admin("salesforce", "post", "outbound-messages/flush", {"all_pending": True})
    world.worker.process_once()
    world.revenue.run()
    assert _versions(world, opportunity) == 1
    assert _marketing_total(world) == Decimal("1234.50")


def test_without_webhooks_the_next_scheduled_run_brings_the_revenue(world: DemoWorld) -> None:
    sales = salesforce_sales.convert_leads(world, deals=1, seed=12)
    world.engine.run(allow_blast=True)
    opportunity = sales.deals[0]
    _win(world, opportunity, 900)
    assert _marketing_total(world) == Decimal("0.00")

    scheduler = SyncScheduler(world.engine, world.settings, revenue=world.revenue)
    scheduler.job("revenue")()

    assert _marketing_total(world) == Decimal("900.00")
    scheduler.job("revenue")()
    scheduler.job("incremental")()
    assert _versions(world, opportunity) == 1
    assert _marketing_total(world) == Decimal("900.00")
