"""Options every command accepts, before or after the subcommand, and the shared CLI state.

``closedloop --config a.yaml config check`` and ``closedloop config check --config a.yaml``
mean the same; a value given after the subcommand wins over one given before it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from closedloop.config import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Store the option on the root context unless it was left at its default."""
    root = ctx.find_root()
    source = ctx.get_parameter_source(param.name or "")
    if source is not None and source.name != "DEFAULT":
        root.meta[f"closedloop.{param.name}"] = value
    return value


def common_options(func: F) -> F:
    """Add ``--config`` and ``--verbose`` to a command or group."""
    func = click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_remember,
        help="Config file (default ./closedloop.yaml, then ~/.config/closedloop/closedloop.yaml).",
    )(func)
    return click.option(
        "-v",
        "--verbose",
        "verbose",
        is_flag=True,
        default=False,
        expose_value=False,
        is_eager=True,
        callback=_remember,
        help="Log debug detail to stderr.",
    )(func)


def config_path(ctx: click.Context | None = None) -> Path | None:
    """The ``--config`` value given anywhere on the command line, if any."""
    root = (ctx or click.get_current_context()).find_root()
    value = root.meta.get("closedloop.config")
    return Path(value) if value is not None else None


def is_verbose(ctx: click.Context | None = None) -> bool:
    """Whether ``--verbose`` was given anywhere on the command line."""
    root = (ctx or click.get_current_context()).find_root()
    return bool(root.meta.get("closedloop.verbose", False))


def settings(ctx: click.Context | None = None) -> Settings:
    """Load the settings named on the command line (raises ConfigError on any problem)."""
    return load_settings(config_path(ctx))


def emit_json(payload: dict[str, Any]) -> None:
    """Print exactly one single-line JSON object on stdout."""
    sys.stdout.write(json.dumps(payload, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one single-line JSON object on stdout."
)


def console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr): the terminal's width, or 160 columns when piped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(width=None if stream.isatty() else 160, stderr=stderr)
