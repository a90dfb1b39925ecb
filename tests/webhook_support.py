"""Helpers of the webhook listener tests (tests/webhooks_service): signing, settings, Listener."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from closedloop.config.schema import (
    DatabaseSettings,
    HubSpotSettings,
    SalesforceSettings,
    ServerSettings,
    Settings,
    WebhookSettings,
)
from closedloop.webhooks.callout_auth import sign_standard_webhook
from closedloop.webhooks.inbox import StoredEvent
from closedloop.webhooks.services import Services
from closedloop.webhooks.signatures import sign_hubspot_v3
from closedloop.webhooks.worker import InboxWorker

DATA = Path(__file__).parent / "webhooks" / "data"
HUBSPOT_SECRET = "listener-client-secret"
ORG_ID = "00D000000000001AAA"
WHSEC_OLD = "whsec_" + base64.b64encode(b"old secret of the apex callouts").decode()
WHSEC_NEW = "whsec_" + base64.b64encode(b"new secret of the apex callouts").decode()
FLOW_TOKEN = "flow-token-of-the-lead-flow"


def free_port() -> int:
    """A TCP port that was free a moment ago (the listener URL must be known before it runs)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def hubspot_headers(url: str, body: bytes, *, timestamp_ms: int | None = None) -> dict[str, str]:
    """v3 signature headers for a POST of ``body`` to ``url`` (now, unless told otherwise)."""
    stamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": sign_hubspot_v3(HUBSPOT_SECRET, "POST", url, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }


def standard_headers(
    body: bytes, *, secret: str = WHSEC_NEW, msg_id: str = "msg_1", timestamp_s: int | None = None
) -> dict[str, str]:
    """Standard Webhooks headers signed with ``secret``."""
    stamp = timestamp_s if timestamp_s is not None else int(time.time())
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign_standard_webhook(secret, msg_id, stamp, body),
    }


def hubspot_event(n: int, **overrides: Any) -> dict[str, Any]:
    """A valid contact property-change event; ``n`` makes it distinct."""
    event = {
        "eventId": 1000 + n,
        "subscriptionId": 77,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": 1_767_225_600_000 + n,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 5000 + n,
        "propertyName": "phone",
        "propertyValue": f"+1 555 01{n:03d}",
        "changeSource": "CRM",
    }
    event.update(overrides)
    return event


@dataclass
class Listener:
    """The app on loopback, its services and an inbox worker over the same store."""

    url: str
    settings: Settings
    services: Services
    worker: InboxWorker
    app: Flask
    calls: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
        return requests.post(self.url + path, data=body, headers=headers or {}, timeout=30)

    def post_hubspot(self, events: Any, *, timestamp_ms: int | None = None) -> Any:
        body = json.dumps(events).encode()
        url = self.url + "/webhooks/hubspot"
        return self.post(
            "/webhooks/hubspot", body, hubspot_headers(url, body, timestamp_ms=timestamp_ms)
        )

    def rows(self) -> list[StoredEvent]:
        return self.services.inbox.events()


ListenerFactory = Callable[..., Listener]


def listener_settings(base: Settings | None, url: str, **webhooks: Any) -> Settings:
    """``base`` (or defaults) with the listener's secrets, public URL and webhook settings."""
    base = base or Settings(database=DatabaseSettings(url="sqlite://"))
    organization_id = webhooks.pop("organization_id", ORG_ID)
    public_base_url = webhooks.pop("public_base_url", url)
    hubspot_secret = webhooks.pop("hubspot_secret", HUBSPOT_SECRET)
    options: dict[str, Any] = {
        "salesforce_event_secrets": (WHSEC_OLD, WHSEC_NEW),
        "flow_tokens": {"lead_flow": FLOW_TOKEN},
        **webhooks,
    }
    hubspot = {**base.hubspot.model_dump(), "client_secret": hubspot_secret}
    salesforce = {**base.salesforce.model_dump(), "organization_id": organization_id}
    return base.model_copy(
        update={
            "hubspot": HubSpotSettings(**hubspot),
            "salesforce": SalesforceSettings(**salesforce),
            "server": ServerSettings(public_base_url=public_base_url),
            "webhooks": WebhookSettings(**options),
        }
    )
