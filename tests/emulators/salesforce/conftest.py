"""Fixtures for the Salesforce emulator contract suite.

Every test drives a fresh emulator over real HTTP through ``simple_salesforce.Salesforce``
1.12, whose ``https://`` calls the project's transport session routes to the loopback server.
Admin set-up (what an admin does in Setup) goes through ``/__emulator__/`` routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from closedloop.connectors.salesforce.transport import SalesforceHTTP
from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.salesforce import SalesforceEmulator, create_emulator
from closedloop.emulators.server import RunningServer

CLIENT_ID = "emulator-client-id"
CLIENT_SECRET = "emulator-client-secret"
INSTANCE = "https://acme.my.salesforce.com"


@pytest.fixture
def clock() -> EmulatorClock:
    """The emulator clock, running from the real time; tests move it instead of sleeping."""
    return EmulatorClock()


@pytest.fixture
def emulator(clock: EmulatorClock) -> Iterator[SalesforceEmulator]:
    """A fresh org; Outbound Messages are delivered only when a test flushes them."""
    emu = create_emulator(seed=7, clock=clock, outbound_background=False)
    yield emu
    emu.close()


@pytest.fixture
def server(emulator: SalesforceEmulator) -> Iterator[RunningServer]:
    """The emulator on a loopback port."""
    with RunningServer(emulator.app) as running:
        yield running


@pytest.fixture
def http(server: RunningServer) -> Iterator[SalesforceHTTP]:
    """The transport session simple-salesforce uses, routing https:// to the emulator."""
    session = SalesforceHTTP(emulator_url=server.url, timeout=(5.0, 30.0))
    yield session
    session.close()


def _fetch_token(http: SalesforceHTTP) -> str:
    reply = http.post(
        "https://acme.my.salesforce.com/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    reply.raise_for_status()
    token: str = reply.json()["access_token"]
    return token


@pytest.fixture
def token(http: SalesforceHTTP) -> Callable[[], str]:
    """Fetch a fresh client-credentials access token."""
    return lambda: _fetch_token(http)


@pytest.fixture
def connect(http: SalesforceHTTP) -> Callable[..., Salesforce]:
    """Build a token-mode simple-salesforce client on API version 59.0 (``connect(token)``)."""

    def build(session_id: str | None = None, version: str = "59.0") -> Salesforce:
        return Salesforce(
            instance_url=INSTANCE,
            session_id=session_id or _fetch_token(http),
            session=http,
            version=version,
        )

    return build


@pytest.fixture
def sf(connect: Callable[..., Salesforce]) -> Salesforce:
    """A connected simple-salesforce client."""
    return connect()


@pytest.fixture
def admin(server: RunningServer) -> Callable[..., Any]:
    """Call an admin route: ``admin("post", "limits", {...})`` returns the JSON reply."""

    def call(method: str, path: str, body: dict[str, Any] | None = None, *, status: int = 0) -> Any:
        reply = requests.request(method, f"{server.url}/__emulator__/{path}", json=body, timeout=30)
        if status:
            assert reply.status_code == status, reply.text
        else:
            assert reply.status_code < 300, reply.text
        return reply.json()

    return call
