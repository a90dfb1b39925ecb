"""The Salesforce emulator: a Flask app answering as an org does, for simple-salesforce 1.12.

Build one with :func:`create_emulator`. State lives in memory under one lock, ids and seed
data are deterministic per seed, and every time-dependent behaviour reads the emulator clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask

from closedloop.emulators.admin import FaultPlan, RouteStats, install_emulator_hooks
from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.salesforce import bulk2, composite, query, rest_sobjects, tooling
from closedloop.emulators.salesforce.admin_routes import salesforce_admin_blueprint
from closedloop.emulators.salesforce.api import rest_blueprint
from closedloop.emulators.salesforce.auth import AuthSettings, Sessions
from closedloop.emulators.salesforce.bulk2 import Job
from closedloop.emulators.salesforce.ids import IdFactory
from closedloop.emulators.salesforce.limits import EDITION_NAMES, ApiUsage, daily_allowance
from closedloop.emulators.salesforce.login import login_blueprint
from closedloop.emulators.salesforce.org import Org
from closedloop.emulators.salesforce.outbound import OutboundMessages
from closedloop.emulators.salesforce.query import QueryCursors
from closedloop.emulators.salesforce.seed import seed_org
from closedloop.emulators.salesforce.write_log import WriteLog


@dataclass
class EmulatorOptions:
    """Tunable behaviour (keyword options of :func:`create_emulator`)."""

    username: str = "integration@closedloop-emulator.example"
    password: str = "emulator-password"  # noqa: S105  (the emulator's documented default)
    security_token: str = "emulator-security-token"  # noqa: S105
    session_timeout: float = 7200.0
    edition: str = "enterprise"
    licenses: int = 5
    daily_api_requests: int | None = None
    password_flow: bool = False
    instance_url: str | None = None
    jwt_public_key: str | None = None
    bulk_polls: int = 1
    outbound_background: bool = True
    outbound_poll_interval: float = 0.2
    outbound_timeout: float = 10.0


class SalesforceEmulator:
    """One emulated org behind a Flask app (see ``docs/emulators-salesforce.md``)."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        seed: int,
        clock: EmulatorClock,
        options: EmulatorOptions,
    ) -> None:
        self.clock = clock
        self.options = options
        self.stats = RouteStats()
        self.faults = FaultPlan()
        self.lock = threading.RLock()
        self.default_seed = seed
        self.auth = AuthSettings(
            client_id=client_id,
            client_secret=client_secret,
            username=options.username,
            password=options.password,
            security_token=options.security_token,
            session_timeout=options.session_timeout,
            password_flow=options.password_flow,
        )
        if options.jwt_public_key:
            self.auth.jwt_keys[client_id] = options.jwt_public_key
        self.sessions = Sessions(clock, self.auth)
        allowance = options.daily_api_requests or daily_allowance(options.edition, options.licenses)
        self.usage = ApiUsage(clock, allowance)
        self.aux_ids = IdFactory(seed + 1)
        self.cursors = QueryCursors(self.aux_ids)
        self.jobs: dict[str, Job] = {}
        self.outbound = OutboundMessages(self)
        self.write_log = WriteLog(self)
        self.org = self._new_org()
        self.app = Flask("closedloop.emulators.salesforce")
        self.app.json.sort_keys = False  # type: ignore[attr-defined]
        install_emulator_hooks(self.app, self)
        self.app.register_blueprint(login_blueprint(self))
        routes = [
            *query.ROUTES,
            *rest_sobjects.ROUTES,
            *composite.ROUTES,
            *bulk2.ROUTES,
            *tooling.ROUTES,
        ]
        self.app.register_blueprint(rest_blueprint(self, routes))
        self.app.register_blueprint(salesforce_admin_blueprint(self))

    def _new_org(self) -> Org:
        org = Org(
            self.clock,
            seed=self.default_seed,
            api_username=self.options.username,
            edition=EDITION_NAMES.get(self.options.edition, "Enterprise Edition"),
        )
        org.store.listeners.append(self.outbound.on_changes)
        org.store.listeners.append(self.write_log.on_changes)
        return org

    def reset(self) -> None:
        """Back to a fresh org: data, schema, settings, cursors, jobs and API counters.

        Issued access tokens stay valid so a running client can keep going.
        """
        with self.lock:
            self.outbound.reset()
            self.write_log.clear()
            self.org = self._new_org()
            self.aux_ids.reset()
            self.cursors.clear()
            self.jobs.clear()
            self.usage.reset()

    def seed(self, options: dict[str, Any]) -> dict[str, Any]:
        """Create realistic synthetic records (see :mod:`closedloop.emulators.salesforce.seed`)."""
        with self.lock:
            return seed_org(self.org, options, default_seed=self.default_seed)

    def close(self) -> None:
        """Stop the Outbound Message delivery thread."""
        self.outbound.stop()


def create_emulator(
    *,
    client_id: str = "emulator-client-id",
    client_secret: str = "emulator-client-secret",  # noqa: S107  (documented default)
    seed: int = 0,
    clock: EmulatorClock | None = None,
    **options: Any,
) -> SalesforceEmulator:
    """Build a Salesforce emulator.

    Args:
        client_id: the connected app's consumer key the token endpoint accepts.
        client_secret: the consumer secret.
        seed: makes ids and synthetic data deterministic.
        clock: the emulator clock; a running wall clock when omitted.
        **options: any field of :class:`EmulatorOptions` (``username``, ``password``,
            ``security_token``, ``session_timeout``, ``edition``, ``licenses``,
            ``daily_api_requests``, ``password_flow``, ``instance_url``, ``jwt_public_key``,
            ``bulk_polls``, ``outbound_background``, ``outbound_poll_interval``,
            ``outbound_timeout``).

    Raises:
        TypeError: for an unknown option.
    """
    settings = EmulatorOptions(**options)
    return SalesforceEmulator(
        client_id=client_id,
        client_secret=client_secret,
        seed=seed,
        clock=clock or EmulatorClock(),
        options=settings,
    )
