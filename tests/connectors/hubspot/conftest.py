"""A HubSpot emulator on loopback and connectors built from settings, as production builds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from closedloop.config.schema import HubSpotSettings, Settings
from closedloop.connectors.hubspot.connector import HubSpotConnector
from closedloop.emulators.hubspot import HubSpotEmulator, create_emulator
from closedloop.emulators.server import RunningServer
from closedloop.runtime.clock import ManualClock

TOKEN = "pat-connector-test"


@pytest.fixture(scope="module")
def hubspot_server() -> Iterator[tuple[HubSpotEmulator, RunningServer]]:
    emulator = create_emulator(token=TOKEN, client_secret="cs", seed=3)
    with RunningServer(emulator.app) as server:
        yield emulator, server


@pytest.fixture
def hubspot(hubspot_server: tuple[HubSpotEmulator, RunningServer]) -> RunningServer:
    """A reset emulator with the Pro tier's limits."""
    _, server = hubspot_server
    requests.post(f"{server.url}/__emulator__/reset", json={}, timeout=10).raise_for_status()
    return server


@pytest.fixture
def admin(hubspot: RunningServer) -> Callable[..., Any]:
    def call(method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        answer = requests.request(
            method, f"{hubspot.url}/__emulator__/{route}", json=body, timeout=60
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    return call


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_connector(hubspot: RunningServer, clock: ManualClock) -> Callable[..., HubSpotConnector]:
    def build(**overrides: Any) -> HubSpotConnector:
        hs = HubSpotSettings(**{"base_url": hubspot.url, "access_token": TOKEN, **overrides})
        return HubSpotConnector.from_settings(Settings(hubspot=hs), clock=clock)

    return build


@pytest.fixture
def connector(make_connector: Callable[..., HubSpotConnector]) -> HubSpotConnector:
    return make_connector()
