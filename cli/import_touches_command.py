"""``closedloop import-touches FILE.csv``: offline touches (calls, events, trade shows).

The columns are described in :mod:`closedloop.sync.offline_touches` and docs/collector.md.
Bad rows are listed as ``FILE:ROW: COLUMN: REASON`` on stderr (or in the JSON) and the good
rows are imported anyway. Exit codes: 0 every row was fine, 1 some rows were rejected,
2 the file is unreadable or lacks a required column. Importing the same file again adds
nothing: the ledger deduplicates touches, and a row whose ``external_id`` is already in the
ledger is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy import Engine, select

from closedloop.cli.options import common_options, console, emit_json, settings
from closedloop.mappings.channels import load_channel_rules
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import ClosedLoopError
from closedloop.store.schema import touchpoints
from closedloop.sync import people as people_sql
from closedloop.sync.identity import IdentityStore
from closedloop.sync.ledger import TouchLedger
from closedloop.sync.offline_touches import (
    OFFLINE_ORIGIN,
    OfflineFile,
    OfflineRow,
    read_offline_touches,
)
from closedloop.sync.setup import open_store
from closedloop.sync.sql import begin_write, chunked

PROGRESS_FROM_ROWS = 1_000
"""Files with at least this many rows show a progress bar on stderr."""


@dataclass
class ImportCounts:
    """What an import did: new touches, touches already present, rows skipped by external id."""

    imported: int = 0
    already_present: int = 0
    skipped_external_ids: int = 0


def _known_external_ids(store: Engine, rows: list[OfflineRow]) -> set[str]:
    ids = [row.touch.external_id for row in rows if row.touch.external_id]
    found: set[str] = set()
    with store.connect() as conn:
        for chunk in chunked(ids):
            query = select(touchpoints.c.external_id).where(
                touchpoints.c.origin == OFFLINE_ORIGIN, touchpoints.c.external_id.in_(chunk)
            )
            found.update(str(value) for value in conn.execute(query).scalars())
    return found


def _person_of(
    row: OfflineRow, identity: IdentityStore, store: Engine, clock: Clock, cache: dict[str, str]
) -> str:
    """The person of a row: its record (joined by email), else the person with its email."""
    if row.record is not None:
        return identity.resolve(row.record, row.email)
    email = str(row.email)
    if email not in cache:
        with begin_write(store) as conn:
            found = people_sql.by_email(conn, email)
            cache[email] = found or people_sql.new_person(conn, email, clock.now())
    return cache[email]


def import_rows(
    store: Engine, rows: list[OfflineRow], clock: Clock = SYSTEM_CLOCK, *, show_progress: bool
) -> ImportCounts:
    """Resolve each row's person and add its touch to the ledger (origin ``offline``)."""
    counts = ImportCounts()
    identity, ledger = IdentityStore(store, clock), TouchLedger(store, clock)
    known = _known_external_ids(store, rows)
    todo = [row for row in rows if not (row.touch.external_id and row.touch.external_id in known)]
    counts.skipped_external_ids = len(rows) - len(todo)
    cache: dict[str, str] = {}
    with Progress(
        TextColumn("importing touches"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console(stderr=True),
        transient=True,
        disable=not show_progress,
    ) as bar:
        task = bar.add_task("import", total=len(todo))

        def pairs(chunk: list[OfflineRow]) -> Iterator[tuple[str, Any]]:
            for row in chunk:
                yield _person_of(row, identity, store, clock, cache), row.touch

        for chunk in chunked(todo, 500):
            counts.imported += ledger.add_many(pairs(chunk))
            bar.advance(task, len(chunk))
    counts.already_present = len(todo) - counts.imported
    return counts


def _report(path: Path, found: OfflineFile, counts: ImportCounts | None, fmt: str) -> None:
    rejected_rows = len({problem.row for problem in found.problems})
    if fmt == "json":
        payload: dict[str, Any] = {
            "file": str(path),
            "rows": found.total_rows,
            "valid": len(found.rows),
            "rejected": rejected_rows,
            "dry_run": counts is None,
            "errors": [
                {"row": p.row, "column": p.column, "reason": p.reason} for p in found.problems
            ],
            "unknown_columns": found.unknown_columns,
        }
        if counts is not None:
            payload |= {
                "imported": counts.imported,
                "already_present": counts.already_present,
                "skipped_external_ids": counts.skipped_external_ids,
            }
        emit_json(payload)
        return
    for column in found.unknown_columns:
        click.echo(f"warning: {path}: column {column!r} is not known and was ignored", err=True)
    for problem in found.problems:
        click.echo(f"{path}:{problem.row}: {problem.column}: {problem.reason}", err=True)
    if counts is None:
        click.echo(
            f"dry run: {len(found.rows)} of {found.total_rows} rows are valid; nothing written"
        )
    else:
        click.echo(
            f"imported {counts.imported} new touches from {found.total_rows} rows "
            f"({counts.already_present} already in the ledger, "
            f"{counts.skipped_external_ids} skipped by external_id)"
        )


@click.command("import-touches")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate every row and report; write nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Lines for people, or one line of JSON on stdout.",
)
@common_options
def import_touches(file: Path, dry_run: bool, fmt: str) -> None:
    """Import offline touches (calls, events, trade shows) from a CSV file.

    Columns: email or record_ref, occurred_at (required); touch_type, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, channel, landing_page, external_id. Exit code 1 when
    some rows were rejected (the others are imported), 2 when the file cannot be used.
    """
    config = settings()
    override = Path(config.sync.mappings_dir or ".") / "channels.yaml"
    rules = load_channel_rules(
        override if config.sync.mappings_dir and override.is_file() else None
    )
    found = read_offline_touches(file, rules)
    counts = None
    if not dry_run:
        store = open_store(config)
        try:
            show = fmt == "table" and len(found.rows) >= PROGRESS_FROM_ROWS
            counts = import_rows(store, found.rows, show_progress=show)
        finally:
            store.dispose()
    _report(file, found, counts, fmt)
    rejected = len({problem.row for problem in found.problems})
    if rejected:
        where = "in the JSON errors" if fmt == "json" else "above"
        raise ClosedLoopError(
            f"{rejected} of {found.total_rows} rows rejected (listed {where}); "
            f"the other rows were {'checked' if dry_run else 'imported'}",
            hint="fix the rejected rows and import the file again: rows already imported "
            "are skipped",
        )
