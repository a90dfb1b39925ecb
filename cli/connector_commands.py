"""``closedloop check`` and ``closedloop provision``: is each connected system ready?"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.table import Table

from closedloop.cli.options import common_options, console, emit_json, json_option, settings
from closedloop.config.schema import Settings
from closedloop.connectors.contract import CheckItem, Connector, ProvisionStep
from closedloop.connectors.registry import connector_class
from closedloop.runtime.errors import ConnectorError


def configured_names(config: Settings) -> list[str]:
    """The connectors the roles name, marketing first, each once."""
    return list(dict.fromkeys([config.roles.marketing, config.roles.crm]))


@contextmanager
def open_connectors(config: Settings) -> Iterator[dict[str, Connector]]:
    """Build every configured connector; close them afterwards."""
    built = {name: connector_class(name).from_settings(config) for name in configured_names(config)}
    try:
        yield built
    finally:
        for connector in built.values():
            connector.close()


@click.command()
@json_option
@common_options
def check(as_json: bool) -> None:
    """Check each connected system: access, scopes or permissions, closedloop's fields.

    Exits 1 when anything needs fixing; every failed line says how to fix it.
    """
    config = settings()
    report: dict[str, list[CheckItem]] = {}
    with open_connectors(config) as connectors:
        for name, connector in connectors.items():
            try:
                report[name] = connector.check()
            except ConnectorError as exc:
                report[name] = [CheckItem("connect", False, str(exc), exc.hint)]
    healthy = all(item.ok for items in report.values() for item in items)
    if as_json:
        emit_json(
            {"ok": healthy, "systems": {n: [vars(i) for i in items] for n, items in report.items()}}
        )
    else:
        out = console()
        for name, items in report.items():
            table = Table("", "check", "result", "what to do", title=name, title_justify="left")
            for item in items:
                table.add_row(
                    "[green]ok[/]" if item.ok else "[red]!![/]",
                    item.topic,
                    item.detail,
                    item.fix or "",
                )
            out.print(table)
        click.echo("all checks passed" if healthy else "some checks failed: see 'what to do' above")
    if not healthy:
        raise SystemExit(1)


@click.command()
@click.option("--dry-run", is_flag=True, help="List what would be created; change nothing.")
@json_option
@common_options
def provision(dry_run: bool, as_json: bool) -> None:
    """Create the custom properties and fields closedloop writes (and their access)."""
    config = settings()
    plans: dict[str, list[ProvisionStep]] = {}
    with open_connectors(config) as connectors:
        for name, connector in connectors.items():
            plans[name] = connector.provision(dry_run=dry_run)
    missing = sum(1 for steps in plans.values() for s in steps if not s.exists)
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "to_create" if dry_run else "created": missing,
                "systems": {n: [vars(s) for s in steps] for n, steps in plans.items()},
            }
        )
        return
    out = console()
    verb = "would create" if dry_run else "created"
    for name, steps in plans.items():
        table = Table("kind", "target", "detail", "status", title=name, title_justify="left")
        for step in steps:
            table.add_row(step.kind, step.target, step.detail, "exists" if step.exists else verb)
        out.print(table)
    click.echo(
        f"{missing} item{'s' if missing != 1 else ''} {verb}" if missing else "nothing to create"
    )
