"""Webhook settings of the emulated app: target URL, subscriptions, signing and test modes.

Set through ``POST /__emulator__/webhooks`` (or HubSpot's ``/webhooks/v3/{appId}/...``).
A property-change subscription needs a ``propertyName``; HubSpot does not allow
``hs_lastmodifieddate`` or ``num_unique_conversion_events``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from closedloop.emulators.hubspot.signatures import SIGNATURE_VERSIONS

OBJECTS = ("contact", "company", "deal")
ACTIONS = (
    "creation",
    "deletion",
    "propertyChange",
    "associationChange",
    "merge",
    "restore",
    "privacyDeletion",
)
NOT_SUBSCRIBABLE = frozenset({"hs_lastmodifieddate", "num_unique_conversion_events"})
MAX_SUBSCRIPTIONS = 1000


@dataclass
class Subscription:
    """One webhook subscription."""

    id: int
    event_type: str
    property_name: str | None = None
    active: bool = True

    def accepts(self, event: dict[str, Any]) -> bool:
        """Whether a CRM change matches this subscription."""
        if not self.active or event["subscriptionType"] != self.event_type:
            return False
        if self.event_type.endswith(".propertyChange"):
            return event.get("propertyName") == self.property_name
        return True

    def to_json(self) -> dict[str, Any]:
        """The wire form (as HubSpot's subscriptions API answers)."""
        body: dict[str, Any] = {"id": self.id, "eventType": self.event_type, "active": self.active}
        if self.property_name:
            body["propertyName"] = self.property_name
        return body


@dataclass
class WebhookSettings:
    """Everything that decides where, how and what the sender delivers."""

    app_id: int
    target_url: str | None = None
    subscriptions: list[Subscription] = field(default_factory=list)
    signature_version: str = "v3"
    max_concurrent: int = 10
    timeout_seconds: float = 5.0
    max_attempts: int = 10
    batch_size: int = 100
    duplicate: bool = False
    reorder: bool = False
    next_subscription_id: int = 1

    def add_subscription(self, raw: dict[str, Any]) -> Subscription:
        """Add one subscription from ``{"eventType", "propertyName"?, "active"?}``.

        Raises:
            ValueError: for an unknown event type or a property change without a property.
        """
        event_type = str(raw.get("eventType") or raw.get("subscriptionType") or "")
        obj, _, action = event_type.partition(".")
        if obj not in OBJECTS or action not in ACTIONS:
            raise ValueError(f"unknown webhook event type {event_type!r}")
        name = raw.get("propertyName")
        if action == "propertyChange" and not name:
            raise ValueError("propertyChange subscriptions need a propertyName")
        if name in NOT_SUBSCRIBABLE:
            raise ValueError(f"{name} cannot be subscribed to")
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise ValueError(f"at most {MAX_SUBSCRIPTIONS} subscriptions per app")
        subscription = Subscription(
            self.next_subscription_id,
            event_type,
            str(name) if name else None,
            bool(raw.get("active", True)),
        )
        self.next_subscription_id += 1
        self.subscriptions.append(subscription)
        return subscription

    def apply(self, body: dict[str, Any]) -> None:
        """Apply an admin request; ``subscriptions`` replaces the whole list.

        Raises:
            ValueError: for unknown keys or invalid values.
        """
        known = {
            "targetUrl",
            "appId",
            "subscriptions",
            "signatureVersion",
            "maxConcurrentRequests",
            "timeoutSeconds",
            "maxAttempts",
            "batchSize",
            "duplicate",
            "reorder",
        }
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown webhook settings: {sorted(unknown)}")
        version = str(body.get("signatureVersion", self.signature_version))
        if version not in SIGNATURE_VERSIONS:
            raise ValueError(f"signatureVersion must be one of {SIGNATURE_VERSIONS}")
        concurrency = int(body.get("maxConcurrentRequests", self.max_concurrent))
        if not 1 <= concurrency <= 10:
            raise ValueError("maxConcurrentRequests must be between 1 and 10")
        batch_size = int(body.get("batchSize", self.batch_size))
        if not 1 <= batch_size <= 100:
            raise ValueError("batchSize must be between 1 and 100")
        if "subscriptions" in body:
            self.subscriptions = []
            for raw in body["subscriptions"]:
                self.add_subscription(raw)
        self.signature_version, self.max_concurrent, self.batch_size = (
            version,
            concurrency,
            batch_size,
        )
        self.target_url = body.get("targetUrl", self.target_url)
        self.app_id = int(body.get("appId", self.app_id))
        self.timeout_seconds = float(body.get("timeoutSeconds", self.timeout_seconds))
        self.max_attempts = max(1, min(10, int(body.get("maxAttempts", self.max_attempts))))
        self.duplicate = bool(body.get("duplicate", self.duplicate))
        self.reorder = bool(body.get("reorder", self.reorder))

    def describe(self) -> dict[str, Any]:
        """The settings as JSON."""
        return {
            "targetUrl": self.target_url,
            "appId": self.app_id,
            "subscriptions": [s.to_json() for s in self.subscriptions],
            "signatureVersion": self.signature_version,
            "maxConcurrentRequests": self.max_concurrent,
            "timeoutSeconds": self.timeout_seconds,
            "maxAttempts": self.max_attempts,
            "batchSize": self.batch_size,
            "duplicate": self.duplicate,
            "reorder": self.reorder,
        }
