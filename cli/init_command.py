"""``closedloop init``: write a commented example config to start from."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import click

from closedloop.cli.options import common_options

CONFIG_NAME = "closedloop.yaml"


def example_config_text() -> str:
    """The commented example configuration shipped with closedloop."""
    return files("closedloop.config").joinpath("example.yaml").read_text(encoding="utf-8")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--force", is_flag=True, help="Overwrite an existing closedloop.yaml.")
@common_options
def init(directory: Path, force: bool) -> None:
    """Write a commented closedloop.yaml into DIRECTORY (default: the current one)."""
    target = directory / CONFIG_NAME
    if target.exists() and not force:
        raise click.UsageError(f"{target} already exists; pass --force to overwrite it")
    directory.mkdir(parents=True, exist_ok=True)
    target.write_text(example_config_text(), encoding="utf-8")
    click.echo(f"wrote {target}", err=True)
    click.echo(f"next: edit it, then run  closedloop config check --config {target}", err=True)
