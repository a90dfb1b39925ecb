"""The HubSpot emulator: one Flask app serving the CRM, auth, events and webhook sender.

Build it with :func:`create_emulator`; serve ``emulator.app`` with
:class:`closedloop.emulators.server.RunningServer` and point ``hubspot.HubSpot(host=...)``
at it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Flask, Response

from closedloop.emulators.admin import FaultPlan, RouteStats, install_emulator_hooks
from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.hubspot import (
    routes_account,
    routes_associations,
    routes_batch,
    routes_events,
    routes_objects,
    routes_pipelines,
    routes_properties,
    routes_search,
    routes_webhooks,
)
from closedloop.emulators.hubspot.app_context import attach_state
from closedloop.emulators.hubspot.auth import TokenRegistry
from closedloop.emulators.hubspot.errors import register_error_handlers
from closedloop.emulators.hubspot.gatekeeper import install_gatekeeper
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.rate_limits import RateLimiter
from closedloop.emulators.hubspot.routes_admin import hubspot_admin_blueprint
from closedloop.emulators.hubspot.seeding import seed_portal
from closedloop.emulators.hubspot.webhook_sender import WebhookSender

DEFAULT_PORTAL_ID = 62515
DEFAULT_APP_ID = 1160452
OPTION_NAMES = frozenset({"scopes", "app_id", "portal_id", "client_id", "index_lag_ms"})


class HubSpotEmulator:
    """An in-memory HubSpot portal behind a Flask app (see :func:`create_emulator`)."""

    def __init__(
        self,
        *,
        token: str,
        client_secret: str,
        tier: str,
        seed: int,
        clock: EmulatorClock,
        scopes: Iterable[str] | None = None,
        app_id: int = DEFAULT_APP_ID,
        portal_id: int = DEFAULT_PORTAL_ID,
        client_id: str = "emulator-client-id",
        index_lag_ms: int = 0,
    ) -> None:
        self.clock = clock
        self.stats = RouteStats()
        self.faults = FaultPlan()
        self.seed_value = seed
        self._index_lag_ms = index_lag_ms
        self.portal = Portal(clock, portal_id)
        self.portal.index_lag_ms = index_lag_ms
        self.tokens = TokenRegistry(
            clock,
            token=token,
            scopes=scopes,
            app_id=app_id,
            client_id=client_id,
            client_secret=client_secret,
            seed=seed,
        )
        self.limiter = RateLimiter(clock, tier)
        self.webhooks = WebhookSender(clock, client_secret, app_id, seed)
        self.portal.event_sink = self.webhooks.publish
        self.app = self._build_app()

    def _build_app(self) -> Flask:
        app = Flask("closedloop.emulators.hubspot")
        install_emulator_hooks(app, self)
        install_gatekeeper(app, self.tokens, self.limiter)
        app.after_request(self._release_events)
        register_error_handlers(app)
        attach_state(
            app, portal=self.portal, tokens=self.tokens, limiter=self.limiter, sender=self.webhooks
        )
        for module in (
            routes_search,
            routes_batch,
            routes_objects,
            routes_associations,
            routes_properties,
            routes_pipelines,
            routes_events,
            routes_account,
            routes_webhooks,
        ):
            app.register_blueprint(module.blueprint)
        app.register_blueprint(
            hubspot_admin_blueprint(self.portal, self.tokens, self.limiter, self.webhooks)
        )
        return app

    def _release_events(self, response: Response) -> Response:
        self.portal.release_events()
        return response

    def reset(self) -> None:
        """Empty the data, rate windows, tokens and webhook queue; keep the factory settings."""
        self.webhooks.reset()
        self.portal.reset()
        self.portal.index_lag_ms = self._index_lag_ms
        self.tokens.reset()
        self.limiter.reset()

    def seed(self, options: dict[str, Any]) -> dict[str, Any]:
        """Create synthetic data (see :mod:`closedloop.emulators.hubspot.seeding`)."""
        return seed_portal(self.portal, options, self.seed_value)

    def flush_webhooks(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until no webhook delivery is queued, due or in flight."""
        return self.webhooks.flush(timeout)

    def close(self) -> None:
        """Stop the webhook sender's background thread."""
        self.webhooks.close()


def create_emulator(
    *,
    token: str = "emulator-token",  # noqa: S107 - the documented emulator default
    client_secret: str = "emulator-client-secret",  # noqa: S107 - likewise
    tier: str = "pro",
    seed: int = 0,
    clock: EmulatorClock | None = None,
    **options: Any,
) -> HubSpotEmulator:
    """Build a HubSpot emulator that looks like a fresh portal at ``tier``.

    Args:
        token: the private-app access token the emulator accepts.
        client_secret: the app client secret (OAuth and webhook signatures).
        tier: ``free``, ``starter``, ``pro``, ``enterprise`` or ``api-addon``.
        seed: seed of every random choice (ids, tokens, synthetic data).
        clock: the emulator clock; a new running clock when omitted.
        **options: ``scopes`` (the token's scopes; all when omitted), ``app_id``,
            ``portal_id``, ``client_id`` and ``index_lag_ms`` (search visibility delay).

    Raises:
        TypeError: for an unknown option.
    """
    unknown = set(options) - OPTION_NAMES
    if unknown:
        raise TypeError(f"unknown HubSpot emulator options: {sorted(unknown)}")
    return HubSpotEmulator(
        token=token,
        client_secret=client_secret,
        tier=tier,
        seed=seed,
        clock=clock or EmulatorClock(),
        **options,
    )
