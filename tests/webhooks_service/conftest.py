"""The webhook listener on loopback over a store under test (helpers: webhook_support)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import Engine
from webhook_support import (
    HUBSPOT_SECRET,
    Listener,
    ListenerFactory,
    free_port,
    listener_settings,
)

from closedloop.config.schema import DatabaseSettings, HubSpotSettings, SalesforceSettings, Settings
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.engine import create_store_engine
from closedloop.store.migrate import upgrade
from closedloop.sync.engine import SyncEngine
from closedloop.sync.setup import build_connectors, build_sync
from closedloop.webhooks.app import create_app
from closedloop.webhooks.services import DealHandler, Services
from closedloop.webhooks.worker import InboxWorker

TOKEN = "webhooks-e2e-token"


@pytest.fixture
def store(database_url: str) -> Iterator[Engine]:
    engine = create_store_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def listener(store: Engine) -> Iterator[ListenerFactory]:
    servers: list[RunningServer] = []

    def start(
        *,
        base: Settings | None = None,
        clock: Clock = SYSTEM_CLOCK,
        sync_engine: SyncEngine | None = None,
        on_deals: DealHandler | None = None,
        record_deals: bool = False,
        wrap: Callable[[Any], Any] | None = None,
        **webhooks: Any,
    ) -> Listener:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        settings = listener_settings(base, url, **webhooks)
        services = Services(store=store, clock=clock, on_deals=on_deals)
        if sync_engine is not None:
            services.with_sync_engine(sync_engine)
        app = create_app(settings, services=services)
        built = Listener(url, settings, services, InboxWorker(services, settings), app)
        if record_deals:
            services.on_deals = lambda system, kind, ids: built.calls.append((system, kind, ids))
        if wrap is not None:
            app.wsgi_app = wrap(app.wsgi_app)  # type: ignore[method-assign]
        servers.append(RunningServer(app, port=port))
        return built

    yield start
    for server in servers:
        server.stop()


@dataclass
class Systems:
    """Both emulators on loopback, provisioned, and a sync engine on the store under test."""

    hubspot: str
    salesforce: str
    org_id: str
    settings: Settings
    engine: SyncEngine
    store: Engine

    def admin(self, system: str, method: str, route: str, body: Any = None) -> Any:
        base = self.hubspot if system == "hubspot" else self.salesforce
        answer = requests.request(method, f"{base}/__emulator__/{route}", json=body, timeout=120)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def write_calls(self) -> dict[str, int]:
        """Vendor write calls each emulator answered since its statistics were reset."""
        counts = {}
        for system in ("hubspot", "salesforce"):
            routes = self.admin(system, "get", "stats")["by_route"]
            counts[system] = sum(
                n
                for route, n in routes.items()
                if not route.startswith("GET")
                and "/search" not in route
                and "/batch/read" not in route
                and "/oauth" not in route
            )
        return counts

    def reset_stats(self) -> None:
        for system in ("hubspot", "salesforce"):
            self.admin(system, "post", "stats/reset", {})


@pytest.fixture
def systems(database_url: str, store: Engine) -> Iterator[Callable[..., Systems]]:
    running: list[tuple[RunningServer, Any]] = []

    def start(contacts: int = 20, seed: int = 1) -> Systems:
        hubspot = hubspot_emulator(token=TOKEN, client_secret=HUBSPOT_SECRET)
        salesforce = salesforce_emulator(outbound_background=False)
        hs, sf = RunningServer(hubspot.app), RunningServer(salesforce.app)
        running.extend([(hs, hubspot), (sf, salesforce)])
        limits = {"burst": 100_000, "search_per_second": 1000}
        requests.post(f"{hs.url}/__emulator__/limits", json=limits, timeout=10)
        seeded = {"contacts": contacts, "companies": 5, "deals": 0, "seed": seed}
        requests.post(f"{hs.url}/__emulator__/seed", json=seeded, timeout=300).raise_for_status()
        settings = Settings(
            database=DatabaseSettings(url=database_url),
            hubspot=HubSpotSettings(base_url=hs.url, access_token=TOKEN),
            salesforce=SalesforceSettings(
                instance_url=sf.url,
                login_url=sf.url,
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
            ),
        )
        connectors = build_connectors(settings)
        for connector in connectors.values():
            connector.provision(dry_run=False)
        engine = build_sync(settings, store=store, connectors=connectors)
        built = Systems(hs.url, sf.url, salesforce.org.org_id, settings, engine, store)
        built.reset_stats()
        return built

    yield start
    for server, emulator in running:
        server.stop()
        emulator.close()
