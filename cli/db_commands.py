"""``closedloop db``: create and upgrade the state store."""

from __future__ import annotations

import click

from closedloop.cli.options import common_options, emit_json, json_option, settings
from closedloop.store.engine import create_store_engine
from closedloop.store.migrate import upgrade as upgrade_store


@click.group()
@common_options
def db() -> None:
    """Manage the state store (SQLite by default, PostgreSQL in production)."""


@db.command()
@json_option
@common_options
def upgrade(as_json: bool) -> None:
    """Create the schema or bring it to the newest version; safe to run again."""
    engine = create_store_engine(settings().database.resolved_url())
    try:
        result = upgrade_store(engine)
    finally:
        engine.dispose()
    if as_json:
        emit_json(
            {
                "database": result.database,
                "before": result.before,
                "after": result.after,
                "applied": list(result.applied),
                "installation_id": result.installation_id,
            }
        )
        return
    if result.applied:
        click.echo(
            f"upgraded {result.database}: {result.before or 'empty'} -> {result.after} "
            f"({len(result.applied)} migration{'s' if len(result.applied) != 1 else ''})"
        )
    else:
        click.echo(f"{result.database} is up to date (revision {result.after})")
