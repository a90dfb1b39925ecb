"""Both emulators on loopback, provisioned, and a sync engine on the store under test."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from closedloop.config.schema import (
    DatabaseSettings,
    HubSpotSettings,
    SalesforceSettings,
    Settings,
)
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer
from closedloop.sync.engine import SyncEngine
from closedloop.sync.setup import build_connectors, build_sync, open_store

TOKEN = "e2e-token"
RETRIEVE = re.compile(r"^POST /services/data/v[\d.]+/composite/sobjects/\w+$")


@dataclass
class Loop:
    """The systems of one end-to-end scenario."""

    hubspot: str
    salesforce: str
    settings: Settings
    engine: SyncEngine

    def admin(self, system: str, method: str, route: str, body: Any = None) -> Any:
        base = self.hubspot if system == "hubspot" else self.salesforce
        answer = requests.request(method, f"{base}/__emulator__/{route}", json=body, timeout=120)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def writes(self) -> dict[str, int]:
        """Write calls each emulator received since the last reset of its statistics."""
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
                and not RETRIEVE.search(route)  # sObject Collections retrieve: a read
            )
        return counts

    def reset_stats(self) -> None:
        for system in ("hubspot", "salesforce"):
            self.admin(system, "post", "stats/reset", {})


@pytest.fixture
def loop(database_url: str) -> Iterator[Callable[..., Loop]]:
    servers: list[RunningServer] = []
    stores: list[Any] = []

    def start(contacts: int = 200, seed: int = 1) -> Loop:
        hubspot = RunningServer(hubspot_emulator(token=TOKEN).app)
        salesforce = RunningServer(salesforce_emulator(outbound_background=False).app)
        servers.extend([hubspot, salesforce])
        requests.post(
            f"{hubspot.url}/__emulator__/limits",
            json={"burst": 100_000, "search_per_second": 1000},
            timeout=10,
        )
        requests.post(
            f"{hubspot.url}/__emulator__/seed",
            json={"contacts": contacts, "companies": 20, "deals": 0, "seed": seed},
            timeout=300,
        ).raise_for_status()
        settings = Settings(
            database=DatabaseSettings(url=database_url),
            hubspot=HubSpotSettings(base_url=hubspot.url, access_token=TOKEN),
            salesforce=SalesforceSettings(
                instance_url=salesforce.url,
                login_url=salesforce.url,
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
            ),
        )
        connectors = build_connectors(settings)
        for connector in connectors.values():
            connector.provision(dry_run=False)
        store = open_store(settings)
        stores.append(store)
        engine = build_sync(settings, store=store, connectors=connectors)
        built = Loop(hubspot.url, salesforce.url, settings, engine)
        built.reset_stats()
        return built

    yield start
    for server in servers:
        server.stop()
    for store in stores:
        store.dispose()
