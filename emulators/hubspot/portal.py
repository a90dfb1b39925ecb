"""One HubSpot portal's data: schema, pipelines, records, associations and event logs.

Every route takes :attr:`Portal.lock` around its reads and writes; the pieces it holds are
not thread-safe on their own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.hubspot.associations import AssociationStore
from closedloop.emulators.hubspot.object_types import OBJECT_TYPES, ObjectType
from closedloop.emulators.hubspot.pipelines import PipelineStore
from closedloop.emulators.hubspot.property_catalog import PropertyCatalog
from closedloop.emulators.hubspot.store import ObjectStore

FIRST_IDS = {"contacts": 1_000_001, "companies": 2_000_001, "deals": 3_000_001}

EventSink = Callable[[list[dict[str, Any]]], None]


class Portal:
    """The state of one HubSpot account (portal).

    Args:
        clock: the emulator clock every timestamp comes from.
        portal_id: the Hub id reported in webhooks and token info.
    """

    def __init__(self, clock: EmulatorClock, portal_id: int) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.portal_id = portal_id
        self.event_sink: EventSink = _ignore_events
        self._unsent_events: list[dict[str, Any]] = []
        self.index_lag_ms = 0
        self.catalog = PropertyCatalog(clock.now_ms())
        self.pipelines = PipelineStore(clock.now_ms())
        self.stores: dict[str, ObjectStore] = {}
        self.associations = AssociationStore()
        self.behavioral_events: list[dict[str, Any]] = []
        self.timeline_events: dict[str, dict[str, Any]] = {}
        self._next_event_id = 1
        self.reset()

    def reset(self) -> None:
        """Back to a fresh portal: default schema and pipeline, no records."""
        with self.lock:
            now = self.clock.now_ms()
            self.index_lag_ms = 0
            self.catalog = PropertyCatalog(now)
            self.pipelines = PipelineStore(now)
            self.stores = {t.name: ObjectStore(t, FIRST_IDS[t.name]) for t in OBJECT_TYPES}
            self.associations = AssociationStore()
            self.behavioral_events = []
            self.timeline_events = {}
            self._next_event_id = 1
            self._unsent_events = []

    def store(self, object_type: ObjectType | str) -> ObjectStore:
        """The record store of one object type."""
        name = object_type if isinstance(object_type, str) else object_type.name
        return self.stores[name]

    def now_ms(self) -> int:
        """The emulator clock in epoch milliseconds."""
        return self.clock.now_ms()

    def notify(self, subscription_type: str, object_id: str, **fields: Any) -> None:
        """Offer one CRM change to the webhook sender (which filters by subscription)."""
        event: dict[str, Any] = {
            "eventId": self._next_event_id,
            "portalId": self.portal_id,
            "occurredAt": self.now_ms(),
            "subscriptionType": subscription_type,
            "objectId": int(object_id),
        }
        self._next_event_id += 1
        event.update({k: v for k, v in fields.items() if v is not None})
        self._unsent_events.append(event)

    def release_events(self) -> None:
        """Hand the changes of the current request to the webhook sender in one go.

        Called once per request, so the events of one API call travel together.
        """
        with self.lock:
            events, self._unsent_events = self._unsent_events, []
        if events:
            self.event_sink(events)

    def counts(self) -> dict[str, int]:
        """Live records per object type and the number of associations."""
        counts = {name: sum(1 for _ in store.live()) for name, store in self.stores.items()}
        counts["associations"] = self.associations.count() // 2
        return counts


def _ignore_events(events: list[dict[str, Any]]) -> None:
    """The event sink of a portal without a webhook sender."""
    del events
