"""``closedloop config``: validate and show the settings."""

from __future__ import annotations

from typing import Any

import click
from pydantic import SecretStr
from rich.table import Table

from closedloop.cli.options import (
    common_options,
    config_path,
    console,
    emit_json,
    json_option,
    settings,
)
from closedloop.config import find_config_file
from closedloop.runtime.errors import ConfigError
from closedloop.store.engine import describe_url


@click.group()
@common_options
def config() -> None:
    """Validate and inspect the configuration."""


@config.command()
@json_option
@common_options
def check(as_json: bool) -> None:
    """Validate the config file and environment overrides; list every problem.

    Exits 2 when the configuration is invalid.
    """
    source = find_config_file(config_path())
    try:
        settings()
    except ConfigError as exc:
        if as_json:
            emit_json(
                {
                    "valid": False,
                    "file": str(source) if source else None,
                    "problems": [vars(p) for p in exc.problems],
                }
            )
            raise SystemExit(2) from None
        raise
    if as_json:
        emit_json({"valid": True, "file": str(source) if source else None, "problems": []})
    else:
        where = source or "defaults only (no config file found)"
        click.echo(f"configuration is valid: {where}")


@config.command()
@json_option
@common_options
def show(as_json: bool) -> None:
    """Print the effective settings, with every secret masked."""
    values = _masked(settings().model_dump())
    if as_json:
        emit_json(values)
        return
    table = Table("key", "value", title="effective settings")
    for section, fields in values.items():
        for key, value in fields.items():
            table.add_row(f"{section}.{key}", "" if value is None else str(value))
    console().print(table)


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out[key] = _masked(value)
        elif isinstance(value, SecretStr):
            out[key] = "***"
        elif key == "url" and isinstance(value, str):
            out[key] = describe_url(value)
        else:
            out[key] = value
    return out
