"""Both emulators on loopback, provisioned, and a sync engine on the store under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from emulated_vendors import Vendors, start_vendors

from closedloop.config.schema import Settings
from closedloop.sync.engine import SyncEngine
from closedloop.sync.setup import build_connectors, build_sync, open_store

TOKEN = "e2e-token"


@dataclass
class Loop:
    """The systems of one end-to-end scenario (the emulators' helpers: :class:`Vendors`)."""

    vendors: Vendors
    settings: Settings
    engine: SyncEngine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.vendors, name)

    def writes(self) -> dict[str, int]:
        """Write calls each emulator received since the last reset of its statistics."""
        return self.vendors.write_calls()


@pytest.fixture
def loop(database_url: str) -> Iterator[Callable[..., Loop]]:
    started: list[Vendors] = []
    stores: list[Any] = []

    def start(contacts: int = 200, seed: int = 1) -> Loop:
        vendors = start_vendors(token=TOKEN, contacts=contacts, companies=20, seed=seed)
        started.append(vendors)
        settings = vendors.settings(database_url)
        connectors = build_connectors(settings)
        for connector in connectors.values():
            connector.provision(dry_run=False)
        store = open_store(settings)
        stores.append(store)
        engine = build_sync(settings, store=store, connectors=connectors)
        vendors.reset_stats()
        return Loop(vendors, settings, engine)

    yield start
    for vendors in started:
        vendors.stop()
    for store in stores:
        store.dispose()
