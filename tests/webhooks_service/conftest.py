"""The webhook listener on loopback over a store under test (helpers: webhook_support)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from emulated_vendors import Vendors, start_vendors
from sqlalchemy import Engine
from webhook_support import (
    HUBSPOT_SECRET,
    Listener,
    ListenerFactory,
    free_port,
    listener_settings,
)

from closedloop.config.schema import Settings
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
    """Both emulators, provisioned, and a sync engine on the store under test.

    The emulators' helpers (``admin``, ``write_calls``, ``reset_stats``, ``org_id``) are
    :class:`~emulated_vendors.Vendors`'.
    """

    vendors: Vendors
    settings: Settings
    engine: SyncEngine
    store: Engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.vendors, name)


@pytest.fixture
def systems(database_url: str, store: Engine) -> Iterator[Callable[..., Systems]]:
    started: list[Vendors] = []

    def start(contacts: int = 20, seed: int = 1) -> Systems:
        vendors = start_vendors(
            token=TOKEN, contacts=contacts, companies=5, seed=seed, hubspot_secret=HUBSPOT_SECRET
        )
        started.append(vendors)
        settings = vendors.settings(database_url)
        connectors = build_connectors(settings)
        for connector in connectors.values():
            connector.provision(dry_run=False)
        engine = build_sync(settings, store=store, connectors=connectors)
        vendors.reset_stats()
        return Systems(vendors, settings, engine, store)

    yield start
    for vendors in started:
        vendors.stop()
