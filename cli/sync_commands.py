"""``closedloop sync``, ``closedloop status`` and ``closedloop explain``."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from closedloop.cli.options import common_options, console, emit_json, settings
from closedloop.cli.revenue_commands import revenue_summary
from closedloop.revenue.loop import RevenueLoop
from closedloop.runtime.errors import ClosedLoopError
from closedloop.sync.engine import BlastRadiusError, RunReport
from closedloop.sync.setup import build_sync, open_store
from closedloop.sync.state import SyncState

FORMATS = click.Choice(["table", "json"])


@click.command()
@click.option(
    "--full", is_flag=True, help="Read everything (full reconciliation), not only changes."
)
@click.option(
    "--dry-run", is_flag=True, help="Print the per-record, per-field plan; write nothing."
)
@click.option(
    "--allow-blast-radius",
    is_flag=True,
    help="Write even when more records than "
    "sync.blast_radius would change (an initial load, a mapping change).",
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@common_options
def sync(full: bool, dry_run: bool, allow_blast_radius: bool, fmt: str) -> None:
    """Sync source fields between the marketing system and the CRM once."""
    engine = build_sync(settings())
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("reading", total=None)
        seen = {"records": 0}

        def progress(stage: str, n: int) -> None:
            seen["records"] += n
            bar.update(task, description=f"{stage}: {seen['records']:,} records")

        try:
            report = engine.run(
                full=full, dry_run=dry_run, allow_blast=allow_blast_radius, progress=progress
            )
        except BlastRadiusError as exc:
            raise ClosedLoopError(str(exc), hint="check the plan with --dry-run first") from None
        bar.update(task, description="revenue: closed deals")
        loop = RevenueLoop(engine.settings, engine.state, engine.connectors, engine.clock)
        revenue = loop.run(dry_run=dry_run)
    if fmt == "json":
        emit_json({**report.as_json(), "revenue": revenue.as_json()})
        return
    _print_report(report)
    click.echo(revenue_summary(revenue))


def _print_report(report: RunReport) -> None:
    out = console()
    if report.dry_run:
        table = Table("record", "field", "from", "to", "rule", "outcome", title="plan (dry run)")
        for record in report.as_json()["records"]:
            name = f"{record['system']}:{record['object']}:{record['record_id'] or '(new)'}"
            for field, change in record["fields"].items():
                table.add_row(
                    name,
                    field,
                    _short(change["from"]),
                    _short(change["to"]),
                    change["rule"],
                    change["outcome"],
                )
        out.print(table)
    counts = report.counts
    verb = "would change" if report.dry_run else "changed"
    click.echo(
        f"run {report.run_id}: read {counts.read:,} records, {verb} {counts.changed:,}, "
        f"wrote {counts.written:,}, failed {counts.failed:,}"
    )


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


@click.command()
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@common_options
def status(fmt: str) -> None:
    """Last run of each job, heartbeats, pending and dead-letter rows."""
    state = SyncState.open(open_store(settings()))
    runs = state.runs.last_runs()
    payload: dict[str, Any] = {
        "runs": {job: _run_json(row) for job, row in runs.items()},
        "outbox_pending": state.outbox.pending_count(),
        "dead_letters": state.outbox.dead_count(),
    }
    if fmt == "json":
        emit_json(payload)
        return
    table = Table("job", "status", "started", "finished", "counts", title="closedloop status")
    for job, row in payload["runs"].items():
        table.add_row(
            job,
            row["status"],
            row["started_at"],
            row["finished_at"] or "",
            json.dumps(row["counts"]),
        )
    console().print(table)
    click.echo(
        f"outbox pending: {payload['outbox_pending']}, dead letters: {payload['dead_letters']}"
    )


def _run_json(row: Any) -> dict[str, Any]:
    return {
        "status": row.status,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "heartbeat_at": row.heartbeat_at.isoformat() if row.heartbeat_at else None,
        "counts": vars(row.counts) if hasattr(row.counts, "__dict__") else row.counts,
        "error": row.error,
    }


@click.command()
@click.argument("who")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@common_options
def explain(who: str, fmt: str) -> None:
    """Show a person's records, touches, stamps and every field decision.

    WHO is an email address or SYSTEM:ID (for example salesforce:00Q... or hubspot:1234).
    """
    state = SyncState.open(open_store(settings()))
    person_id = state.identity.find(who)
    if person_id is None:
        raise click.UsageError(f"no person known as {who!r}; try an email or SYSTEM:ID")
    person = state.identity.person(person_id)
    touches = state.ledger.touches_of(person_id)
    history = state.provenance.history(person_id)
    payload: dict[str, Any] = {
        "person_id": person_id,
        "email": person.email,
        "records": [str(r) for r in person.records],
        "touches": [
            {
                "at": t.occurred_at.isoformat(),
                "source": t.utm_source,
                "medium": t.utm_medium,
                "campaign": t.utm_campaign,
                "channel": t.channel,
                "origin": t.origin,
            }
            for t in touches
        ],
        "decisions": [
            {
                "at": d.decided_at.isoformat() if d.decided_at else None,
                "system": d.system,
                "record": d.record_id,
                "field": d.field,
                "outcome": d.outcome,
                "value": d.value,
                "previous": d.previous,
                "rule": d.rule,
                "reason": d.reason,
            }
            for d in history
        ],
    }
    if fmt == "json":
        emit_json(payload)
        return
    out = console()
    click.echo(f"{payload['email'] or person_id}: {', '.join(payload['records'])}")
    touch_table = Table("at", "source", "medium", "campaign", "channel", title="touches")
    for t in payload["touches"]:
        touch_table.add_row(
            t["at"], t["source"] or "", t["medium"] or "", t["campaign"] or "", t["channel"] or ""
        )
    out.print(touch_table)
    table = Table(
        "at",
        "system",
        "field",
        "outcome",
        "value",
        "previous",
        "rule",
        "why",
        title="field decisions",
    )
    for d in payload["decisions"]:
        table.add_row(
            d["at"] or "",
            d["system"],
            d["field"],
            d["outcome"],
            _short(d["value"]),
            _short(d["previous"]),
            d["rule"] or "",
            d["reason"] or "",
        )
    out.print(table)
