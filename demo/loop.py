"""The whole loop, start to finish: ``closedloop demo``.

1. start the emulators and the service (:mod:`closedloop.demo.world`) on a new SQLite store;
2. marketing's quarter: 3,000 HubSpot contacts with journeys; provisioning of both systems;
   HubSpot webhooks and a Salesforce Outbound Message pointed at the service;
3. the first sync stamps source fields on new Salesforce Leads (and HubSpot's echoes of
   closedloop's own writes come back as webhooks and are recognised, not synced back);
4. sales' quarter: reps convert 600 leads; the next sync carries the stamps to the Contacts and
   Opportunities; reps then close most deals, in four currencies;
5. Salesforce's Outbound Messages reach the service, whose workers record each deal's revenue
   version, attribute it over the buyers' touches and push it back to HubSpot;
6. a reconciliation run proves that nothing counts twice; the marketing side is read back
   through the official client and compared with the CRM, to the cent.

API calls are the emulators' own counts of vendor calls made by closedloop after the one-off
provisioning (admin calls that stand in for people are not counted), against the floor: for
every object, ceil(records written / batch maximum) plus ceil(records read / page maximum),
where records read are those the runs read, per object and kind of read, each kind at its
vendor maximum (:func:`api_floor`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from closedloop.connectors.contract import Watermark
from closedloop.connectors.read_tally import ReadTally
from closedloop.demo import quarter as q
from closedloop.demo.world import DemoWorld, start_world
from closedloop.revenue.pushback import marketing_revenue_total
from closedloop.revenue.report import Report, build_report
from closedloop.store.schema import identities, outbox

Step = Callable[[str], None]
BATCH_MAX = {"hubspot": 100, "salesforce": 200}
PAGE_MAX = {"hubspot": 100, "salesforce": 2000}
SETTLE_SECONDS = 60.0


@dataclass
class DemoResult:
    """The demo's figures (``--json``) and its report."""

    people: int
    deals_won: int
    revenue_crm: Decimal
    revenue_marketing: Decimal
    api_calls: int
    api_floor_calls: int
    seconds: float
    report: Report

    def as_json(self) -> dict[str, Any]:
        """The single-line JSON object of ``closedloop demo --json``."""
        return {
            "people": self.people,
            "deals_won": self.deals_won,
            "revenue_crm": str(self.revenue_crm),
            "revenue_marketing": str(self.revenue_marketing),
            "api_calls": self.api_calls,
            "api_floor_calls": self.api_floor_calls,
            "seconds": round(self.seconds, 1),
        }


def api_calls(world: DemoWorld) -> int:
    """Vendor API calls both emulators have answered since their statistics were reset."""
    return sum(int(world.admin(s, "get", "stats")["total"]) for s in ("hubspot", "salesforce"))


def written_floor(world: DemoWorld) -> int:
    """Σ over objects of ceil(records written / batch maximum), from the outbox."""
    with world.services.store.connect() as conn:
        written = conn.execute(
            select(outbox.c.system, outbox.c.object_type, func.count())
            .where(outbox.c.state == "done")
            .group_by(outbox.c.system, outbox.c.object_type)
        ).all()
    return sum(math.ceil(count / BATCH_MAX.get(system, 100)) for system, _, count in written)


def read_tallies(world: DemoWorld) -> list[ReadTally]:
    """The records-read tally of each connector (every read of the loop goes through one)."""
    found = (getattr(c, "records_read", None) for c in world.connectors.values())
    return [tally for tally in found if isinstance(tally, ReadTally)]


def api_floor(world: DemoWorld) -> int:
    """Σ over objects of ceil(records written / batch max) + ceil(records read / page max).

    Records read are counted per object and per kind of read, as the connectors returned
    them, each kind at its vendor maximum (:data:`~closedloop.connectors.read_tally.PAGE_MAX`):
    HubSpot contacts are read with their property history (50 a call), incremental runs
    search what changed (200 a page), Salesforce queries return 2,000 records a page.
    """
    return written_floor(world) + sum(t.floor_calls() for t in read_tallies(world))


def api_floor_known(world: DemoWorld) -> int:
    """The first, coarser floor, kept to compare with :func:`api_floor`.

    Each record closedloop knows read once, 100 (HubSpot) or 2,000 (Salesforce) a call, plus
    the writes.
    """
    with world.services.store.connect() as conn:
        known = conn.execute(
            select(identities.c.system, identities.c.object_type, func.count())
            .where(identities.c.system != "visitor")
            .group_by(identities.c.system, identities.c.object_type)
        ).all()
    reads = sum(math.ceil(count / PAGE_MAX.get(system, 100)) for system, _, count in known)
    return written_floor(world) + reads


def wait_until_settled(world: DemoWorld, step: Step) -> None:
    """Wait for every webhook to be delivered and every inbox event and write to be done."""
    deadline = time.monotonic() + SETTLE_SECONDS
    step("waiting for webhooks and push-back to settle")
    while time.monotonic() < deadline:
        world.admin("hubspot", "post", "webhooks/flush", {"timeout": 10})
        world.admin("salesforce", "post", "outbound-messages/flush", {"all_pending": True})
        world.worker.process_once()
        queue = world.admin("salesforce", "get", "outbound-messages").get("queue", [])
        counts = world.services.inbox.counts()
        if not queue and counts["pending"] == 0 and counts["processing"] == 0:
            return
        time.sleep(0.2)


def crm_revenue(world: DemoWorld, today: date) -> tuple[int, Decimal]:
    """Won deals, read from the CRM, and their revenue converted as the CRM converts it."""
    crm = world.connectors[world.settings.roles.crm]
    won = [d for d in crm.closed_deals(Watermark()) if d.is_won]
    total = Decimal("0.00")
    for deal in won:
        amount = Decimal(str(deal.amount or 0))
        closed = deal.close_date.date() if deal.close_date else today
        total += q.home_amount(amount, deal.currency or q.CORPORATE, closed, today)
    return len(won), total


def run_demo(
    *, people: int = 3000, deals: int = 600, seed: int = 7, step: Step = lambda _: None
) -> tuple[DemoResult, DemoWorld]:
    """Run the loop; the caller stops the returned world (or keeps it for ``--keep-running``)."""
    started = time.monotonic()
    step("starting the HubSpot and Salesforce emulators and the closedloop service")
    world = start_world(seed=seed)
    try:
        today = datetime.now(UTC).date()
        step(f"seeding a quarter of marketing: {people:,} contacts with UTM journeys")
        q.seed_marketing(world, people=people, seed=seed)
        q.configure_currencies(world, today)
        step("provisioning closedloop's fields in both systems (once per installation)")
        for connector in world.connectors.values():
            connector.provision(dry_run=False)
        for system in ("hubspot", "salesforce"):  # the loop's calls are counted from here
            world.admin(system, "post", "stats/reset", {})
        for tally in read_tallies(world):
            tally.reset()
        q.subscribe_webhooks(world)
        step("first sync: stamping source fields onto new Salesforce leads")
        world.engine.run(full=True, allow_blast=True)
        wait_until_settled(world, step)
        step(f"sales' quarter: reps convert {deals} leads into opportunities")
        sales = q.convert_leads(world, deals=deals, seed=seed)
        # Stamping every new Contact and Opportunity is a broad change by design.
        world.engine.run(allow_blast=True)
        step("reps close deals in USD, EUR, GBP and CAD; Salesforce notifies closedloop")
        q.close_deals(world, sales, today=today, seed=seed)
        wait_until_settled(world, step)
        step("reconciliation: the scheduled runs find nothing left to do")
        world.engine.run()
        world.revenue.run()
        wait_until_settled(world, step)
        calls, floor = api_calls(world), api_floor(world)
        won, revenue = crm_revenue(world, today)
        marketing = world.connectors[world.settings.roles.marketing]
        shown = marketing_revenue_total(marketing, model=world.settings.revenue.model)
        report = build_report(
            world.services.store,
            dimension="channel",
            model=world.settings.revenue.model,
            home_currency=world.settings.revenue.home_currency,
        )
        result = DemoResult(
            people=people,
            deals_won=won,
            revenue_crm=revenue,
            revenue_marketing=shown.quantize(Decimal("0.01")),
            api_calls=calls,
            api_floor_calls=floor,
            seconds=time.monotonic() - started,
            report=report,
        )
    except BaseException:
        world.stop()
        raise
    return result, world
