"""The demo's world: the emulators and closedloop's service on loopback, on a fresh store.

:class:`DemoWorld` starts the emulators the topology uses (HubSpot, Salesforce or both) and
the closedloop service (the real webhook app with its inbox workers, the sync engine and the
revenue loop, on the embedded SQLite store in a new directory), wires the vendors' webhooks to
the service, and stops everything when it is closed. Nothing here is demo-only logic: the
service is built exactly as ``closedloop serve`` builds it; only the vendor systems are
emulated.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from closedloop.config.schema import (
    ConnectorName,
    DatabaseSettings,
    HubSpotSettings,
    RevenueSettings,
    RolesSettings,
    SalesforceSettings,
    ServerSettings,
    Settings,
)
from closedloop.connectors.contract import Connector
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer
from closedloop.revenue.loop import RevenueLoop
from closedloop.sync.engine import SyncEngine
from closedloop.sync.setup import build_connectors, build_sync, open_store
from closedloop.webhooks.app import create_app
from closedloop.webhooks.services import Services
from closedloop.webhooks.worker import InboxWorker

TOKEN = "demo-private-app-token"  # noqa: S105  (the emulator's token, not a real secret)
CLIENT_SECRET = "demo-app-client-secret"  # noqa: S105
SF_CLIENT_ID = "demo-connected-app"
SF_CLIENT_SECRET = "demo-connected-app-secret"  # noqa: S105
TOPOLOGIES: dict[str, tuple[ConnectorName, ConnectorName]] = {
    "hubspot-salesforce": ("hubspot", "salesforce"),
    "hubspot": ("hubspot", "hubspot"),
    "salesforce": ("salesforce", "salesforce"),
}


@dataclass
class DemoWorld:
    """Everything the demo runs, and how to stop it."""

    settings: Settings
    hubspot: RunningServer | None
    salesforce: RunningServer | None
    service: RunningServer
    services: Services
    engine: SyncEngine
    revenue: RevenueLoop
    worker: InboxWorker
    connectors: dict[str, Connector]
    scratch: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def systems(self) -> list[str]:
        """The systems whose emulators run (marketing first)."""
        return list(dict.fromkeys([self.settings.roles.marketing, self.settings.roles.crm]))

    def emulator(self, system: str) -> RunningServer:
        """The running emulator of ``system``.

        Raises:
            KeyError: the topology does not use that system.
        """
        server = self.hubspot if system == "hubspot" else self.salesforce
        if server is None:
            raise KeyError(f"the {system} emulator is not running in this topology")
        return server

    def admin(self, system: str, method: str, route: str, body: Any = None) -> Any:
        """Call an emulator's admin API (``/__emulator__/...``): the demo's stand-in for people."""
        base = self.emulator(system).url
        answer = requests.request(method, f"{base}/__emulator__/{route}", json=body, timeout=300)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def stop(self) -> None:
        """Stop the workers, the service and the emulators, and remove the store."""
        if self._stopped:
            return
        self._stopped = True
        self.worker.stop()
        for server in (self.service, self.hubspot, self.salesforce):
            if server is not None:
                server.stop()
        for connector in self.connectors.values():
            connector.close()
        self.services.store.dispose()
        shutil.rmtree(self.scratch, ignore_errors=True)


def free_port() -> int:
    """A loopback port free right now (the service's URL must be known before it starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_world(*, seed: int = 7, topology: str = "hubspot-salesforce") -> DemoWorld:
    """Start the topology's emulators and the service on a fresh SQLite store in a new directory.

    Raises:
        KeyError: for a topology not in :data:`TOPOLOGIES`.
    """
    marketing, crm = TOPOLOGIES[topology]
    used = {marketing, crm}
    scratch = Path(tempfile.mkdtemp(prefix="closedloop-demo-"))
    started: list[RunningServer] = []
    try:
        hubspot = salesforce = None
        hubspot_settings = HubSpotSettings()
        salesforce_settings = SalesforceSettings()
        if "hubspot" in used:
            hubspot = RunningServer(
                hubspot_emulator(token=TOKEN, client_secret=CLIENT_SECRET, seed=seed).app
            )
            started.append(hubspot)
            hubspot_settings = HubSpotSettings(
                base_url=hubspot.url,
                access_token=SecretStr(TOKEN),
                client_secret=SecretStr(CLIENT_SECRET),
            )
        if "salesforce" in used:
            sf_emulator = salesforce_emulator(
                client_id=SF_CLIENT_ID,
                client_secret=SF_CLIENT_SECRET,
                seed=seed,
                outbound_background=True,
                outbound_poll_interval=0.2,
            )
            salesforce = RunningServer(sf_emulator.app)
            started.append(salesforce)
            salesforce_settings = SalesforceSettings(
                instance_url=salesforce.url,
                login_url=salesforce.url,
                client_id=SF_CLIENT_ID,
                client_secret=SecretStr(SF_CLIENT_SECRET),
                organization_id=sf_emulator.org.org_id,
            )
        port = free_port()
        settings = Settings(
            database=DatabaseSettings(url=f"sqlite:///{scratch / 'closedloop.db'}"),
            hubspot=hubspot_settings,
            salesforce=salesforce_settings,
            roles=RolesSettings(marketing=marketing, crm=crm),
            server=ServerSettings(port=port, public_base_url=f"http://127.0.0.1:{port}"),
            revenue=RevenueSettings(model="linear"),
        )
        return _serve(settings, hubspot, salesforce, scratch)
    except BaseException:
        for server in started:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _serve(
    settings: Settings,
    hubspot: RunningServer | None,
    salesforce: RunningServer | None,
    scratch: Path,
) -> DemoWorld:
    """The closedloop side: store, connectors, sync engine, revenue loop, service, worker."""
    store = open_store(settings)
    connectors = build_connectors(settings)
    engine = build_sync(settings, store=store, connectors=connectors)
    revenue = RevenueLoop(settings, engine.state, connectors)
    services = Services.from_settings(
        settings, on_deals=revenue.handle_deals, store=store, sync_engine=engine
    )
    service = RunningServer(create_app(settings, services=services), port=settings.server.port)
    worker = InboxWorker(services, settings)
    worker.start()
    return DemoWorld(
        settings,
        hubspot,
        salesforce,
        service,
        services,
        engine,
        revenue,
        worker,
        connectors,
        scratch,
    )
