"""``closedloop attribute``: credit exported journeys to channels with an attribution model."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from closedloop.cli.options import common_options, console, emit_json
from closedloop.revenue.paths import (
    PATH_MODELS,
    PathCredits,
    PathFileError,
    attribute_paths,
    read_path_file,
)


def _ranked(credits: PathCredits) -> list[tuple[str, float, float]]:
    """Channels by value, then conversions (both descending), then name."""
    rows = [(name, c.conversions, c.value) for name, c in credits.channels.items()]
    return sorted(rows, key=lambda row: (-row[2], -row[1], row[0]))


def _render_table(credits: PathCredits) -> None:
    """Print a rich table of the credits with each channel's share of the value."""
    basis = credits.total_value or credits.total_conversions
    share_of = "value" if credits.total_value else "conversions"
    table = Table(title=f"Attribution: {credits.model}", title_justify="left")
    table.add_column("Channel")
    table.add_column("Conversions", justify="right")
    table.add_column("Value", justify="right")
    table.add_column(f"Share of {share_of}", justify="right")
    for name, conversions, value in _ranked(credits):
        part = value if credits.total_value else conversions
        share = f"{100 * part / basis:.1f} %" if basis else "-"
        table.add_row(name, f"{conversions:,.2f}", f"{value:,.2f}", share)
    table.add_section()
    table.add_row(
        "Total",
        f"{credits.total_conversions:,.2f}",
        f"{credits.total_value:,.2f}",
        "100.0 %" if basis else "-",
    )
    console().print(table)


@click.command()
@click.option(
    "--paths",
    "paths_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of journeys: path (channels joined by ' > '), total_conversions, "
    "total_conversion_value, total_null.",
)
@click.option(
    "--model",
    required=True,
    type=click.Choice(PATH_MODELS),
    help="Attribution model; markov uses the exact removal effect.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="A table for people, or one line of JSON on stdout.",
)
@common_options
def attribute(paths_file: Path, model: str, output_format: str) -> None:
    """Credit the conversions and value of exported journeys to their channels.

    Heuristic models split each path's totals by position; markov shares the file's totals by
    each channel's removal effect. Channel names are used exactly as written in the file.
    """
    try:
        records = read_path_file(paths_file, require_nulls=model == "markov")
    except PathFileError as exc:
        message = f"{exc}; {exc.hint}" if exc.hint else str(exc)
        raise click.BadParameter(message, param_hint="'--paths'") from None
    credits = attribute_paths(records, model)
    if output_format == "json":
        emit_json(
            {
                "model": credits.model,
                "channels": {
                    name: {"conversions": conversions, "value": value}
                    for name, conversions, value in _ranked(credits)
                },
            }
        )
        return
    _render_table(credits)
