"""What the webhook app and its inbox workers share: the store, the sync engine, the clock.

``closedloop serve`` builds one :class:`Services` from the settings; tests build one around
their own store and sync engine. The sync engine is built lazily (on the first event that
needs it), so the listener answers vendors even before the connectors are first used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from closedloop.config.schema import Settings
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.sync.engine import SyncEngine
from closedloop.sync.setup import build_sync, open_store
from closedloop.webhooks.inbox import Inbox
from closedloop.webhooks.metrics import Metrics

__all__ = ["DealHandler", "Services"]

DealHandler = Callable[[str, str, list[str]], None]
"""Called with (system, object type, record ids) for changed deals (the revenue loop)."""


@dataclass
class Services:
    """The long-lived parts the app and the workers use.

    Attributes:
        store: the state store (migrated).
        clock: the clock of every timestamp and signature window.
        on_deals: receives changed deals (``hubspot``/``deals``, ``salesforce``/``Opportunity``);
            when ``None``, deal events are marked done with the note "no revenue handler".
        sync_factory: builds the sync engine on first use.
        metrics: the process's metrics.
        sync_lock: serialises sync runs of this process (the engine is not re-entrant).
        inbox_signal: set by the listener after storing events, to wake idle workers.
    """

    store: Engine
    clock: Clock = SYSTEM_CLOCK
    on_deals: DealHandler | None = None
    sync_factory: Callable[[], SyncEngine] | None = None
    metrics: Metrics = field(default_factory=Metrics)
    sync_lock: threading.Lock = field(default_factory=threading.Lock)
    inbox_signal: threading.Event = field(default_factory=threading.Event)
    _sync: SyncEngine | None = field(default=None, repr=False)
    _build_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        on_deals: DealHandler | None = None,
        store: Engine | None = None,
        sync_engine: SyncEngine | None = None,
    ) -> Services:
        """Open (and migrate) the configured store unless given; the sync engine follows on use.

        Args:
            settings: the settings the store and the sync engine are built from.
            clock: the clock of every timestamp.
            on_deals: the deal handler (see the class attributes).
            store: an open, migrated store to use instead of ``database.url``.
            sync_engine: a ready sync engine on the same store (else built on first use).
        """
        store = store if store is not None else open_store(settings)
        services = cls(
            store=store,
            clock=clock,
            on_deals=on_deals,
            sync_factory=lambda: build_sync(settings, store=store, clock=clock),
        )
        services._sync = sync_engine
        return services

    @property
    def inbox(self) -> Inbox:
        """The webhook inbox on the store."""
        return Inbox(self.store, self.clock)

    @property
    def sync_engine(self) -> SyncEngine:
        """The sync engine, built on first use.

        Raises:
            RuntimeError: there is neither an engine nor a factory to build one.
        """
        with self._build_lock:
            if self._sync is None:
                if self.sync_factory is None:
                    raise RuntimeError("no sync engine configured for the webhook workers")
                self._sync = self.sync_factory()
            return self._sync

    def with_sync_engine(self, engine: SyncEngine) -> Services:
        """Use ``engine`` from now on (tests, or a caller that already built one)."""
        self._sync = engine
        return self
