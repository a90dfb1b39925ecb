"""``closedloop report`` and ``closedloop import-costs``."""

from __future__ import annotations

import csv
import sys
from decimal import Decimal
from pathlib import Path

import click
from rich.table import Table

from closedloop.cli.options import common_options, console, emit_json, settings
from closedloop.revenue.costs import import_costs
from closedloop.revenue.journeys import models_for
from closedloop.revenue.report import DIMENSIONS, Dimension, Report, build_report
from closedloop.revenue.report_chart import write_revenue_chart
from closedloop.runtime.errors import ClosedLoopError
from closedloop.sync.setup import open_store

CHART_MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "w_shaped", "time_decay")
COLUMNS = (
    ("revenue", "revenue"),
    ("pipeline", "pipeline"),
    ("conversions", "won (credited)"),
    ("leads", "leads"),
    ("lead_to_opportunity", "lead→opp"),
    ("opportunity_to_won", "opp→won"),
    ("mqls", "MQLs"),
    ("sqls", "SQLs"),
    ("mql_to_sql", "MQL→SQL"),
    ("median_days_to_close", "days to close"),
    ("cost", "cost"),
    ("cac", "CAC"),
    ("roi", "ROI"),
)


@click.command()
@click.option("--by", "dimension", type=click.Choice(DIMENSIONS), default="channel")
@click.option("--model", help="Attribution model (default: revenue.model in the config).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw revenue by channel per model into this .png or .svg file.",
)
@common_options
def report(dimension: Dimension, model: str | None, fmt: str, chart: Path | None) -> None:
    """Revenue, pipeline, funnel, MQL→SQL, time to close, CAC and ROI by channel/source/campaign.

    MQL→SQL needs the marketing system's lifecycle dates (HubSpot); without them it shows "-".
    Reads only the state store (no API calls): run `closedloop sync` first so the revenue
    of closed deals is recorded.
    """
    config = settings()
    chosen = model or config.revenue.model
    known = [*models_for(config.revenue), "markov"]
    if chosen not in known:
        raise ClosedLoopError(
            f"unknown attribution model {chosen!r}", hint="pick one of: " + ", ".join(known)
        )
    store = open_store(config)
    try:
        result = build_report(
            store, dimension=dimension, model=chosen, home_currency=config.revenue.home_currency
        )
        if result.won_deals and not any(r.revenue for r in result.rows):
            raise ClosedLoopError(
                f"no credits are recorded under the model {chosen!r}",
                hint="pick one of: first_touch, last_touch, linear, time_decay, u_shaped, "
                "w_shaped, full_path, markov (custom when configured)",
            )
        if chart is not None:
            by_model = {
                name: {
                    row.key: row.revenue
                    for row in build_report(
                        store,
                        dimension="channel",
                        model=name,
                        home_currency=config.revenue.home_currency,
                    ).rows
                }
                for name in dict.fromkeys([chosen, *CHART_MODELS])
            }
            write_revenue_chart(chart, by_model, currency=config.revenue.home_currency)
            click.echo(f"chart written to {chart}", err=True)
    finally:
        store.dispose()
    if fmt == "json":
        emit_json(result.as_json())
    elif fmt == "csv":
        _write_csv(result)
    else:
        _print_table(result)


def _write_csv(result: Report) -> None:
    rows = [row.as_json() for row in result.rows]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([result.dimension, *(key for key, _ in COLUMNS)])
    for row in rows:
        writer.writerow([row["key"], *("" if row[k] is None else row[k] for k, _ in COLUMNS)])


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1%}" if value <= 10 else f"{value:,.1f}"
    return str(value)


def _print_table(result: Report) -> None:
    title = (
        f"won revenue by {result.dimension}, {result.model} model "
        f"({result.won_deals} won deals, {result.won_revenue:,} {result.home_currency}; "
        f"pipeline: {result.open_deals} open deals, {result.pipeline:,} {result.home_currency})"
    )
    table = Table(result.dimension, *(label for _, label in COLUMNS), title=title)
    for row in result.rows:
        data = row.as_json()
        cells = [
            f"{Decimal(data['revenue']):,.2f}",
            f"{Decimal(data['pipeline']):,.2f}",
            f"{data['conversions']:.2f}",
            str(data["leads"]),
            _cell(data["lead_to_opportunity"]),
            _cell(data["opportunity_to_won"]),
            _cell(data["mqls"]),
            _cell(data["sqls"]),
            _cell(data["mql_to_sql"]),
            "-" if data["median_days_to_close"] is None else f"{data['median_days_to_close']}",
            f"{Decimal(data['cost']):,.2f}",
            "-" if data["cac"] is None else f"{Decimal(data['cac']):,.2f}",
            "-" if data["roi"] is None else f"{data['roi']:.0%}",
        ]
        table.add_row(row.key, *cells)
    console().print(table)


@click.command("import-costs")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@common_options
def import_costs_command(file: Path) -> None:
    """Load ad costs (date, channel, amount[, source, campaign, currency]) for CAC and ROI.

    Re-importing a file replaces the costs of the same day, channel, source and campaign;
    bad rows are listed with their row and column, and the good rows are still imported.
    """
    config = settings()
    store = open_store(config)
    try:
        outcome = import_costs(
            store, file, home_currency=config.revenue.home_currency, rates=config.revenue.rates
        )
    finally:
        store.dispose()
    for problem in outcome.problems:
        click.echo(f"{file}: {problem}", err=True)
    click.echo(f"{outcome.imported} cost rows imported from {file}", err=True)
    if outcome.problems:
        raise ClosedLoopError(
            f"{len(outcome.problems)} row(s) of {file} were not imported",
            hint="fix the rows listed above and import the file again (it is safe to repeat)",
        )
