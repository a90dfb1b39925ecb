"""``closedloop demo``: the whole loop on the built-in emulators, in about a minute."""

from __future__ import annotations

import contextlib
import signal
import threading
from decimal import Decimal

import click
from rich.table import Table

from closedloop.cli.options import common_options, console, emit_json
from closedloop.demo.loop import DemoResult, run_demo
from closedloop.demo.world import TOPOLOGIES, DemoWorld
from closedloop.runtime.errors import ClosedLoopError

MARKETING_SIDE = {
    "hubspot-salesforce": "HubSpot contacts plus the (unattributed) company",
    "hubspot": "HubSpot contacts plus the (unattributed) company",
    "salesforce": "Salesforce Campaigns, (unattributed) included",
}


@click.command()
@click.option(
    "--topology",
    type=click.Choice(list(TOPOLOGIES)),
    default="hubspot-salesforce",
    show_default=True,
    help="Which system plays marketing and which the CRM.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line of figures only.")
@click.option(
    "--keep-running",
    is_flag=True,
    help="Leave the emulators and the service up afterwards (Ctrl-C stops them).",
)
@click.option("--people", type=click.IntRange(50, 20_000), default=3000, show_default=True)
@click.option("--deals", type=click.IntRange(10, 5_000), default=600, show_default=True)
@common_options
def demo(topology: str, as_json: bool, keep_running: bool, people: int, deals: int) -> None:
    """Run the closed loop end to end on the built-in HubSpot and Salesforce emulators.

    Seeds a quarter (people with journeys in the marketing system, then deals opened and
    closed by reps in four currencies), syncs source fields, receives the CRM's webhooks,
    attributes the won revenue and pushes it back to the marketing system, then prints revenue
    by channel. --topology picks the roles: HubSpot marketing with Salesforce CRM (default),
    HubSpot alone, or Salesforce alone; only the emulators it uses are started. Starts from an
    empty embedded store every time; nothing is left running unless asked.
    """
    err = console(stderr=True)
    with err.status("starting") as status:

        def step(message: str) -> None:
            err.log(message)
            status.update(message)

        result, world = run_demo(people=people, deals=deals, topology=topology, step=step)
    try:
        if as_json:
            emit_json(result.as_json())
        else:
            _print(result, topology, world)
        if result.revenue_marketing != result.revenue_crm:
            raise ClosedLoopError(
                f"the marketing side shows {result.revenue_marketing} but the CRM "
                f"{result.revenue_crm}",
                hint="run with --keep-running and `closedloop status` to see what is pending",
            )
        if keep_running:
            err.print("[bold]still running[/]; press Ctrl-C to stop")
            stopped = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stopped.set())
            with contextlib.suppress(KeyboardInterrupt):
                stopped.wait()
    finally:
        world.stop()


def _print(result: DemoResult, topology: str, world: DemoWorld) -> None:
    out = console()
    report = result.report
    table = Table(
        "channel",
        "won revenue",
        "share",
        "won (credited)",
        "leads",
        "lead→opp",
        title=f"Won revenue by channel ({report.model} attribution, {report.home_currency})",
    )
    total = report.won_revenue or Decimal(1)
    for row in report.rows:
        data = row.as_json()
        table.add_row(
            row.key,
            f"{row.revenue:,.2f}",
            f"{row.revenue / total:.1%}",
            f"{data['conversions']:.1f}",
            str(data["leads"]),
            "-" if data["lead_to_opportunity"] is None else f"{data['lead_to_opportunity']:.0%}",
        )
    out.print(table)
    ratio = result.api_calls / result.api_floor_calls if result.api_floor_calls else 0.0
    out.print(
        f"{result.people:,} people, {result.deals_won} deals won. "
        f"CRM revenue {result.revenue_crm:,} = marketing revenue {result.revenue_marketing:,} "
        f"({MARKETING_SIDE[topology]}).\n"
        f"API calls {result.api_calls:,} against a floor of {result.api_floor_calls:,} "
        f"({ratio:.2f}x), in {result.seconds:.0f} s."
    )
    running = ", ".join(
        f"{name} emulator {server.url}"
        for name, server in (("HubSpot", world.hubspot), ("Salesforce", world.salesforce))
        if server is not None
    )
    out.print(
        "Where to look next:\n"
        "  closedloop init .                  write your own closedloop.yaml\n"
        "  closedloop report --by campaign    the same report from your own store\n"
        "  closedloop explain EMAIL           one person's touches, stamps and field history\n"
        "  closedloop demo --keep-running     keep the emulators up and explore them:\n"
        f"      {running}, service {world.service.url}/metrics\n"
        "  docs/sync.md, docs/revenue.md, docs/webhooks.md"
    )
