"""A Salesforce emulator on loopback and connectors built from settings, as production builds them.

The connector reaches the emulator through simple-salesforce over real HTTP: the configured
``instance_url`` is the loopback ``http://`` address, which the connector's transport routes
every ``https://`` call to. Admin set-up goes through ``/__emulator__/`` routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from closedloop.config.schema import SalesforceSettings, Settings
from closedloop.connectors.salesforce.connector import SalesforceConnector
from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.salesforce import SalesforceEmulator, create_emulator
from closedloop.emulators.server import RunningServer
from closedloop.runtime.clock import ManualClock

CLIENT_ID = "emulator-client-id"
CLIENT_SECRET = "emulator-client-secret"
Admin = Callable[..., Any]


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    """A fresh org whose clock tests move instead of sleeping."""
    emu = create_emulator(seed=11, clock=EmulatorClock(), outbound_background=False)
    yield emu
    emu.close()


@pytest.fixture
def server(emulator: SalesforceEmulator) -> Iterator[RunningServer]:
    with RunningServer(emulator.app) as running:
        yield running


@pytest.fixture
def admin(server: RunningServer) -> Admin:
    """``admin("post", "limits", {...})`` calls an admin route and returns its JSON."""

    def call(method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        answer = requests.request(
            method, f"{server.url}/__emulator__/{route}", json=body, timeout=60
        )
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    return call


@pytest.fixture
def clock() -> ManualClock:
    """closedloop's clock: back-off waits advance it instead of sleeping."""
    return ManualClock(datetime.now(tz=UTC))


@pytest.fixture
def make_connector(
    server: RunningServer, clock: ManualClock
) -> Iterator[Callable[..., SalesforceConnector]]:
    built: list[SalesforceConnector] = []

    def build(**overrides: Any) -> SalesforceConnector:
        options = {
            "instance_url": server.url,
            "login_url": server.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            **overrides,
        }
        connector = SalesforceConnector.from_settings(
            Settings(salesforce=SalesforceSettings(**options)), clock=clock
        )
        built.append(connector)
        return connector

    yield build
    for connector in built:
        connector.close()


@pytest.fixture
def connector(make_connector: Callable[..., SalesforceConnector]) -> SalesforceConnector:
    return make_connector()


@pytest.fixture
def provisioned(connector: SalesforceConnector) -> SalesforceConnector:
    """A connector whose org has closedloop's fields, visible to the integration user."""
    connector.provision(dry_run=False)
    return connector


@pytest.fixture
def calls(admin: Admin) -> Callable[[str], int]:
    """Vendor calls the emulator answered whose ``METHOD /path`` contains a fragment.

    A fragment ending in ``$`` must match a whole route.
    """

    def count(fragment: str) -> int:
        by_route: dict[str, int] = admin("get", "stats")["by_route"]
        if fragment.endswith("$"):
            return by_route.get(fragment[:-1], 0)
        return sum(n for route, n in by_route.items() if fragment in route)

    return count
