"""``POST /webhooks/hubspot``: signed HubSpot webhook batches into the inbox.

Order of checks: the body cap (413), the signature over the raw body (401: v3 with its +-300 s
window; v1/v2 only when ``webhooks.hubspot_legacy_signatures`` is on), the batch as a whole
(400), then each event on its own. The answer is 200 once the accepted events are committed,
naming every rejected index, because HubSpot retries the whole batch on any other status.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, request

from closedloop.config.schema import Settings
from closedloop.webhooks.errors import SignatureError
from closedloop.webhooks.http_io import (
    accepted_response,
    current_services,
    read_body,
    request_target,
    store_events,
)
from closedloop.webhooks.hubspot_events import HubSpotEvent, parse_hubspot_batch
from closedloop.webhooks.inbox import InboxEvent
from closedloop.webhooks.signatures import request_uri, verify_hubspot

__all__ = ["hubspot_blueprint", "hubspot_inbox_event"]

log = logging.getLogger("closedloop.webhooks")

SOURCE = "hubspot"
# HubSpot object type ids of generic "object.*" subscriptions, and the v3 API names.
_OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-5": "tickets"}
_PREFIXES = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "ticket": "tickets",
    "product": "products",
    "line_item": "line_items",
}


def _object_type(event: HubSpotEvent) -> str:
    prefix = event.subscription_type.partition(".")[0]
    if prefix == "object":
        type_id = event.raw.get("objectTypeId")
        return _OBJECT_TYPE_IDS.get(str(type_id), f"object:{type_id}")[:64]
    return _PREFIXES.get(prefix, prefix)[:64]


def _record_id(event: HubSpotEvent) -> str:
    for key in ("objectId", "primaryObjectId", "newObjectId", "fromObjectId"):
        value = event.raw.get(key)
        if isinstance(value, int):
            return str(value)
    return ""  # unreachable: the parser requires one of them


def _occurred_at(milliseconds: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def hubspot_inbox_event(event: HubSpotEvent) -> InboxEvent:
    """The inbox row of one validated HubSpot event (the event's JSON object as payload)."""
    return InboxEvent(
        source=SOURCE,
        dedupe_key=event.dedupe_key,
        system="hubspot",
        object_type=_object_type(event),
        record_id=_record_id(event),
        event_type=event.subscription_type[:100],
        occurred_at=_occurred_at(event.occurred_at_ms),
        payload=dict(event.raw),
    )


def hubspot_blueprint(settings: Settings) -> Blueprint:
    """The HubSpot webhook route, configured by ``settings``."""
    blueprint = Blueprint("hubspot_webhooks", __name__)
    max_bytes = settings.webhooks.max_body_bytes
    secret = settings.hubspot.client_secret
    secrets = [secret.get_secret_value()] if secret is not None else []
    base_url = settings.server.public_base_url or ""
    if "hubspot" in (settings.roles.marketing, settings.roles.crm):  # else HubSpot is unused
        if not secrets:
            log.warning("hubspot.client_secret is not set: HubSpot webhooks will be refused (401)")
        if not base_url:
            log.warning("server.public_base_url is not set: HubSpot webhooks will be refused (401)")

    @blueprint.post("/webhooks/hubspot")
    def receive() -> Response:
        body = read_body(max_bytes)
        services = current_services()
        if not secrets:
            raise SignatureError("no secret configured")
        verify_hubspot(
            request.headers,
            body,
            method=request.method,
            uri=request_uri(base_url, request_target()),
            secrets=secrets,
            now_ms=int(services.clock.now().timestamp() * 1000),
            allow_legacy=settings.webhooks.hubspot_legacy_signatures,
        )
        batch = parse_hubspot_batch(body, max_bytes=max_bytes)
        events = [hubspot_inbox_event(event) for event in batch.events]
        new = store_events(SOURCE, events, rejected=len(batch.rejections))
        if batch.rejections:
            log.info(
                "hubspot batch: %d events rejected: %s",
                len(batch.rejections),
                "; ".join(f"#{r.index} {r.reason}" for r in batch.rejections[:10]),
            )
        return accepted_response(events, new, batch.rejections)

    return blueprint
