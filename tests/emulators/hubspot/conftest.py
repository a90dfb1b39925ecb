"""Fixtures of the HubSpot emulator contract suite.

One emulator and server serve the whole suite; every test starts from a reset portal with
the emulator clock frozen at START, so rate windows and token expiry move only when a test
advances the clock. Vendor calls go through the official client only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from flask import Flask, Response, request
from hubspot import HubSpot
from urllib3.util.retry import Retry

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.hubspot import HubSpotEmulator, create_emulator
from closedloop.emulators.server import RunningServer

TOKEN = "pat-test-token"
CLIENT_SECRET = "test-client-secret"
START = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def emulator() -> Iterator[HubSpotEmulator]:
    """The emulator shared by the suite (frozen clock, pro tier)."""
    clock = EmulatorClock(START, frozen=True)
    built = create_emulator(token=TOKEN, client_secret=CLIENT_SECRET, seed=7, clock=clock)
    yield built
    built.close()


@pytest.fixture(scope="session")
def server(emulator: HubSpotEmulator) -> Iterator[RunningServer]:
    """The emulator on a loopback port."""
    with RunningServer(emulator.app) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_portal(emulator: HubSpotEmulator) -> None:
    """Every test starts from a fresh portal at START."""
    emulator.flush_webhooks(timeout=5)
    emulator.reset()
    emulator.stats.reset()
    emulator.faults.clear()
    emulator.clock.set(START)


def make_client(server: RunningServer, token: str = TOKEN) -> HubSpot:
    """The official client pointed at the emulator, strict models, no retries."""
    return HubSpot(
        access_token=token,
        host=server.url,
        client_side_validation=True,
        retry=Retry(total=0, raise_on_status=False),
    )


@pytest.fixture
def client_for(server: RunningServer) -> Callable[[str], HubSpot]:
    """A factory of clients holding other tokens."""
    return lambda token: make_client(server, token)


@pytest.fixture
def hs(server: RunningServer) -> HubSpot:
    """A client holding the private-app token."""
    return make_client(server)


class Admin:
    """Calls to the emulator's admin API (not part of HubSpot's API)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST a JSON body to ``/__emulator__/<path>`` and return the JSON answer."""
        response = requests.post(
            f"{self.base_url}/__emulator__/{path}", json=body or {}, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str) -> Any:
        """GET ``/__emulator__/<path>``."""
        response = requests.get(f"{self.base_url}/__emulator__/{path}", timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward."""
        self.post("clock", {"advance_seconds": seconds})


@pytest.fixture
def admin(server: RunningServer) -> Admin:
    """The admin API of the running emulator."""
    return Admin(server.url)


@dataclass
class Receiver:
    """A webhook target that records every request and answers planned statuses."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict[str, Any]]:
        """Every event of every received batch, in arrival order."""
        with self.lock:
            return [event for req in self.requests for event in req["json"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A tiny Flask app on another loopback port, standing in for closedloop's webhook."""
    app = Flask("webhook-receiver")
    state = Receiver(url="")

    @app.post("/hubspot/webhook")
    def receive() -> Response:
        body = request.get_data(as_text=True)
        with state.lock:
            state.requests.append(
                {
                    "headers": dict(request.headers),
                    "body": body,
                    "url": request.url,
                    "json": json.loads(body),
                }
            )
            status = state.statuses.pop(0) if state.statuses else 204
            delay = state.delay_seconds
        time.sleep(delay)
        return Response(status=status)

    with RunningServer(app) as running:
        state.url = f"{running.url}/hubspot/webhook"
        yield state
