"""Build a ready :class:`~closedloop.sync.engine.SyncEngine` from settings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from closedloop.config.schema import Settings
from closedloop.connectors.contract import Connector
from closedloop.connectors.registry import connector_class
from closedloop.mappings.fields import load_field_mappings
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.engine import create_store_engine
from closedloop.store.migrate import upgrade
from closedloop.sync.engine import SyncEngine
from closedloop.sync.state import SyncState


def open_store(settings: Settings) -> Engine:
    """The state store named by ``database.url``, migrated to the newest schema."""
    engine = create_store_engine(settings.database.resolved_url())
    upgrade(engine)
    return engine


def build_connectors(settings: Settings, clock: Clock = SYSTEM_CLOCK) -> dict[str, Connector]:
    """One connector per system the roles name (a system in both roles is built once)."""
    names = dict.fromkeys([settings.roles.marketing, settings.roles.crm])
    return {name: connector_class(name).from_settings(settings, clock=clock) for name in names}


def build_sync(
    settings: Settings,
    *,
    store: Engine | None = None,
    connectors: dict[str, Connector] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> SyncEngine:
    """A sync engine on the configured store, connectors and field mappings."""
    overrides = Path(settings.sync.mappings_dir) if settings.sync.mappings_dir else None
    return SyncEngine(
        settings,
        SyncState.open(store or open_store(settings), clock),
        connectors or build_connectors(settings, clock),
        load_field_mappings(override_dir=overrides),
        clock=clock,
    )
