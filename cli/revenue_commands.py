"""``closedloop revenue``: version won revenue and push it back to the marketing system once."""

from __future__ import annotations

import click
from rich.table import Table

from closedloop.cli.options import common_options, console, emit_json, settings
from closedloop.revenue.loop import RevenueLoop, RevenueReport
from closedloop.sync.setup import build_connectors, open_store
from closedloop.sync.state import SyncState

FORMATS = click.Choice(["table", "json"])


@click.command()
@click.option(
    "--dry-run", is_flag=True, help="Show the revenue versions a run would record; write nothing."
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@common_options
def revenue(dry_run: bool, fmt: str) -> None:
    """Read closed deals from the CRM, version their revenue and push it to marketing."""
    loaded = settings()
    store = open_store(loaded)
    connectors = build_connectors(loaded)
    try:
        loop = RevenueLoop(loaded, SyncState.open(store), connectors, engine=store)
        report = loop.run(dry_run=dry_run)
    finally:
        for connector in connectors.values():
            connector.close()
        store.dispose()
    if fmt == "json":
        emit_json(report.as_json())
        return
    print_revenue_report(report)


def print_revenue_report(report: RevenueReport) -> None:
    """The new versions as a table, then one summary line."""
    if report.versions:
        title = "revenue versions (dry run)" if report.dry_run else "new revenue versions"
        table = Table("deal", "version", "state", "amount", "home amount", "delta", title=title)
        for row in report.as_json()["new_versions"]:
            amount = f"{row['amount'] or ''} {row['currency'] or ''}".strip()
            table.add_row(
                row["deal_id"],
                str(row["version"] or "(new)"),
                row["state"],
                amount,
                row["home_amount"],
                row["delta_home"],
            )
        console().print(table)
    click.echo(revenue_summary(report))


def revenue_summary(report: RevenueReport) -> str:
    """One line: deals read, versions, writes and events."""
    verb = "would record" if report.dry_run else "recorded"
    return (
        f"revenue run {report.run_id}: read {report.deals_read:,} deals, {verb} "
        f"{len(report.versions):,} new versions ({report.unchanged:,} unchanged, "
        f"{len(report.skipped):,} skipped), wrote {report.written:,} records, "
        f"sent {report.events_sent:,} events, failed {report.failed + report.events_failed:,}"
    )
