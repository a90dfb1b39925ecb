"""The whole loop, start to finish: ``closedloop demo [--topology T]``.

1. start the topology's emulators and the service (:mod:`closedloop.demo.world`) on a new
   SQLite store;
2. marketing's quarter (3,000 people with journeys in the marketing system); provisioning;
   the systems' webhooks pointed at the service (:mod:`closedloop.demo.playbooks`);
3. the first sync stamps source fields (on new Salesforce Leads, or on the marketing records
   themselves when one system plays both roles); echoes of closedloop's own writes that come
   back as webhooks are recognised, not synced back;
4. sales' quarter: reps open 600 deals for synced people (converting Leads, or deals on
   HubSpot contacts); the next sync carries the stamps along; reps then close most deals, in
   four currencies;
5. the CRM's notifications (Outbound Messages or HubSpot webhooks) reach the service, whose
   workers record each deal's revenue version, attribute it over the buyers' touches and push
   it back to the marketing system (contacts and companies, or Campaigns);
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
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from closedloop.connectors.read_tally import ReadTally
from closedloop.demo.playbooks import PLAYBOOKS
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
    """Vendor API calls the emulators have answered since their statistics were reset."""
    return sum(int(world.admin(s, "get", "stats")["total"]) for s in world.systems)


def written_floor(world: DemoWorld) -> int:
    """Σ over objects and kinds of write of ceil(records written / batch maximum).

    From the outbox. Updates by id and creates or upserts by a matching field go to different
    endpoints (a batch update cannot create), so each kind has its own floor.
    """
    kind = case((outbox.c.match_field.is_not(None), "match"), else_="id")
    with world.services.store.connect() as conn:
        written = conn.execute(
            select(outbox.c.system, outbox.c.object_type, kind, func.count())
            .where(outbox.c.state == "done")
            .group_by(outbox.c.system, outbox.c.object_type, kind)
        ).all()
    return sum(math.ceil(count / BATCH_MAX.get(system, 100)) for system, _, _, count in written)


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
    reads: int = sum(math.ceil(count / PAGE_MAX.get(system, 100)) for system, _, count in known)
    return written_floor(world) + reads


def wait_until_settled(world: DemoWorld, step: Step) -> None:
    """Wait for every webhook to be delivered and every inbox event and write to be done.

    The service's own inbox workers do the work, as they would in production; this only
    hurries the vendors' deliveries along and watches the queues drain.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    step("waiting for webhooks and push-back to settle")
    while time.monotonic() < deadline:
        pending: list[Any] = []
        if world.hubspot is not None:
            world.admin("hubspot", "post", "webhooks/flush", {"timeout": 10})
        if world.salesforce is not None:
            world.admin("salesforce", "post", "outbound-messages/flush", {"all_pending": True})
            pending = world.admin("salesforce", "get", "outbound-messages").get("pending", [])
        counts = world.services.inbox.counts()
        if not pending and counts["pending"] == 0 and counts["processing"] == 0:
            return
        time.sleep(0.2)


def run_demo(
    *,
    people: int = 3000,
    deals: int = 600,
    seed: int = 7,
    topology: str = "hubspot-salesforce",
    step: Step = lambda _: None,
) -> tuple[DemoResult, DemoWorld]:
    """Run the loop; the caller stops the returned world (or keeps it for ``--keep-running``).

    Raises:
        KeyError: for an unknown topology.
    """
    started = time.monotonic()
    play = PLAYBOOKS[topology]
    step(f"starting the {_emulator_names(topology)} and the closedloop service")
    world = start_world(seed=seed, topology=topology)
    try:
        today = datetime.now(UTC).date()
        step("seeding a quarter of marketing: " + play.marketing_story.format(people=people))
        play.seed_marketing(world, people=people, seed=seed)
        play.configure(world, today)
        step("provisioning closedloop's fields (once per installation)")
        for connector in world.connectors.values():
            connector.provision(dry_run=False)
        for system in world.systems:  # the loop's calls are counted from here
            world.admin(system, "post", "stats/reset", {})
        for tally in read_tallies(world):
            tally.reset()
        play.subscribe(world)
        step("first sync: " + play.first_sync_story)
        world.engine.run(full=True, allow_blast=True)
        wait_until_settled(world, step)
        step("sales' quarter: " + play.open_story.format(deals=deals))
        sales = play.open_deals(world, deals=deals, seed=seed)
        # Stamping every record the reps created (Contacts, Opportunities) is broad by design.
        world.engine.run(allow_blast=True)
        step(play.close_story)
        play.close_deals(world, sales, today=today, seed=seed)
        wait_until_settled(world, step)
        step("reconciliation: the scheduled runs find nothing left to do")
        world.engine.run()
        world.revenue.run()
        wait_until_settled(world, step)
        calls, floor = api_calls(world), api_floor(world)
        won, revenue = play.won_revenue(world, today)
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


def _emulator_names(topology: str) -> str:
    names = [name for name in ("HubSpot", "Salesforce") if name.lower() in topology]
    return " and ".join(names) + (" emulators" if len(names) > 1 else " emulator")
