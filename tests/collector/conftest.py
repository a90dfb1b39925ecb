"""Fixtures: a migrated store, a manual clock and the collector served over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import Engine

from closedloop.config.schema import CollectorSettings, Settings
from closedloop.emulators.server import RunningServer
from closedloop.runtime.clock import ManualClock
from closedloop.store.engine import create_store_engine
from closedloop.store.migrate import upgrade
from closedloop.webhooks.collector import collector_blueprint

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ORIGIN = "https://www.example.com"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@dataclass
class Collector:
    """A running collector: its URL, store and clock, and a helper that posts touches."""

    url: str
    store: Engine
    clock: ManualClock

    def post(
        self, body: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> requests.Response:
        """POST ``body`` as JSON (or ``raw`` bytes) from an allowed origin and a browser."""
        sent = {"Origin": ORIGIN, "User-Agent": BROWSER, "Content-Type": "application/json"}
        sent.update(headers or {})
        data = raw if raw is not None else requests.compat.json.dumps(body).encode()
        return requests.post(f"{self.url}/collect", data=data, headers=sent, timeout=10)


def build_app(settings: Settings, store: Engine, clock: ManualClock) -> Flask:
    """A minimal Flask app with only the collector blueprint."""
    app = Flask("collector-test")
    app.register_blueprint(collector_blueprint(settings, store, clock=clock))
    return app


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def store(database_url: str) -> Iterator[Engine]:
    """The store at the newest schema, on SQLite and on PostgreSQL."""
    engine = create_store_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite store, for tests about HTTP behaviour that never reach the ledger."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'collector.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def serve(clock: ManualClock) -> Iterator[Callable[..., Collector]]:
    """Start the collector on ``store`` with collector settings overridden by keywords."""
    servers: list[RunningServer] = []

    def start(store: Engine, **collector: Any) -> Collector:
        options: dict[str, Any] = {"allowed_origins": [ORIGIN]} | collector
        settings = Settings(collector=CollectorSettings(**options))
        server = RunningServer(build_app(settings, store, clock))
        servers.append(server)
        return Collector(server.url, store, clock)

    yield start
    for server in servers:
        server.stop()
