"""``closedloop emulate``: run a HubSpot or Salesforce emulator in the foreground."""

from __future__ import annotations

import click

from closedloop.cli.options import common_options
from closedloop.emulators.server import serve_forever

TIERS = ("free", "starter", "pro", "enterprise", "api-addon")


@click.group()
@common_options
def emulate() -> None:
    """Run a local emulator of a vendor API (for trials, tests and the demo)."""


@emulate.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8101, show_default=True, help="Port to listen on.")
@click.option(
    "--token",
    default="emulator-token",
    show_default=True,
    help="The private-app access token the emulator accepts.",
)
@click.option(
    "--client-secret",
    default="emulator-client-secret",
    show_default=True,
    help="App client secret: signs webhooks and checks OAuth requests.",
)
@click.option(
    "--tier",
    type=click.Choice(TIERS),
    default="pro",
    show_default=True,
    help="Subscription tier: sets the 10-second and daily API allowances.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed for synthetic data."
)
@common_options
def hubspot(host: str, port: int, token: str, client_secret: str, tier: str, seed: int) -> None:
    """Emulate the HubSpot API (CRM v3, associations v4, properties, webhooks)."""
    from closedloop.emulators.hubspot import create_emulator  # noqa: PLC0415  (lazy: heavy)

    emulator = create_emulator(token=token, client_secret=client_secret, tier=tier, seed=seed)
    click.echo(
        f"HubSpot emulator on http://{host}:{port} (tier {tier}); Ctrl+C stops it.", err=True
    )
    serve_forever(emulator.app, host, port)


@emulate.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8102, show_default=True, help="Port to listen on.")
@click.option(
    "--client-id",
    default="emulator-client-id",
    show_default=True,
    help="Connected-app consumer key the token endpoint accepts.",
)
@click.option(
    "--client-secret",
    default="emulator-client-secret",
    show_default=True,
    help="Connected-app consumer secret the token endpoint accepts.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed for synthetic data."
)
@common_options
def salesforce(host: str, port: int, client_id: str, client_secret: str, seed: int) -> None:
    """Emulate the Salesforce REST, Bulk API 2.0 and OAuth endpoints."""
    from closedloop.emulators.salesforce import create_emulator  # noqa: PLC0415  (lazy: heavy)

    emulator = create_emulator(client_id=client_id, client_secret=client_secret, seed=seed)
    click.echo(f"Salesforce emulator on http://{host}:{port}; Ctrl+C stops it.", err=True)
    serve_forever(emulator.app, host, port)
