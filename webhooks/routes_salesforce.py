"""Salesforce routes: SOAP Outbound Messages and JSON change events from Apex and Flow.

``POST /webhooks/salesforce/outbound-message`` parses the envelope with defusedxml (no DTD, no
entities), checks ``OrganizationId`` against ``salesforce.organization_id``, stores every
notification and only then answers the exact ACK envelope. Every refusal is a SOAP fault: 400
for a malformed body, 401 for another org, 413 over the cap.

``POST /webhooks/salesforce/events`` takes the JSON of
:mod:`closedloop.webhooks.salesforce_events`, authenticated either by Standard Webhooks
headers (Apex callouts; any of ``webhooks.salesforce_event_secrets`` may sign, so a secret can
be rotated) or by the ``X-ClosedLoop-Token`` header (Flow HTTP callouts; one secret per source
in ``webhooks.flow_tokens``).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from closedloop.config.schema import Settings
from closedloop.webhooks.callout_auth import (
    FLOW_AUTH_HEADER,
    verify_shared_secret,
    verify_standard_webhook,
)
from closedloop.webhooks.errors import SignatureError
from closedloop.webhooks.http_io import (
    OUTBOUND_MESSAGE_PATH,
    accepted_response,
    current_services,
    read_body,
    store_events,
)
from closedloop.webhooks.inbox import InboxEvent
from closedloop.webhooks.outbound_messages import (
    ACK_CONTENT_TYPE,
    OutboundMessage,
    ack_envelope,
    parse_outbound_message,
    verify_organization_id,
)
from closedloop.webhooks.salesforce_events import parse_salesforce_events
from closedloop.webhooks.signatures import get_header

__all__ = ["outbound_inbox_events", "salesforce_blueprint"]

OUTBOUND_SOURCE = "salesforce_outbound"
EVENTS_SOURCE = "salesforce_events"


def outbound_inbox_events(message: OutboundMessage) -> list[InboxEvent]:
    """One inbox row per notification; the key is the org plus the notification id."""
    org = message.organization_id.upper()
    return [
        InboxEvent(
            source=OUTBOUND_SOURCE,
            dedupe_key=f"sfom:{org}:{item.notification_id}",
            system="salesforce",
            object_type=item.sobject_type[:64],
            record_id=item.record_id,
            event_type="outbound_message",
            occurred_at=None,
            payload={
                "organization_id": message.organization_id,
                "action_id": message.action_id,
                "notification_id": item.notification_id,
                "object": item.sobject_type,
                "id": item.record_id,
                "fields": dict(item.fields),
            },
        )
        for item in message.notifications
    ]


def _authenticate_callout(settings: Settings, body: bytes, now_s: int) -> str:
    """Check a change-event request; returns its source label (``apex``, ``flow:<name>``)."""
    hooks = settings.webhooks
    if get_header(request.headers, "webhook-signature") is not None:
        secrets = [s.get_secret_value() for s in hooks.salesforce_event_secrets]
        if not secrets:
            raise SignatureError("no secret configured")
        verify_standard_webhook(request.headers, body, secrets=secrets, now_s=now_s)
        return "apex"
    if get_header(request.headers, FLOW_AUTH_HEADER) is not None:
        for name, token in sorted(hooks.flow_tokens.items()):
            try:
                verify_shared_secret(request.headers, body, secrets=token.get_secret_value())
            except SignatureError:
                continue
            return f"flow:{name}"
        raise SignatureError("shared secret does not match")
    raise SignatureError("missing Standard Webhooks or X-ClosedLoop-Token headers")


def salesforce_blueprint(settings: Settings) -> Blueprint:
    """The two Salesforce routes, configured by ``settings``."""
    blueprint = Blueprint("salesforce_webhooks", __name__)
    max_bytes = settings.webhooks.max_body_bytes
    organization_id = settings.salesforce.organization_id or ""

    @blueprint.post(OUTBOUND_MESSAGE_PATH)
    def outbound_message() -> Response:
        body = read_body(max_bytes)
        message = parse_outbound_message(body, max_bytes=max_bytes)
        verify_organization_id(message, expected=organization_id)
        store_events(OUTBOUND_SOURCE, outbound_inbox_events(message))
        answer = Response(ack_envelope(), status=200)
        answer.headers["Content-Type"] = ACK_CONTENT_TYPE
        return answer

    @blueprint.post("/webhooks/salesforce/events")
    def change_events() -> Response:
        body = read_body(max_bytes)
        services = current_services()
        now = services.clock.now()
        source = _authenticate_callout(settings, body, int(now.timestamp()))
        batch = parse_salesforce_events(body, max_bytes=max_bytes)
        message_id = get_header(request.headers, "webhook-id") if source == "apex" else None
        received_ms = int(now.timestamp() * 1000)
        events = [
            InboxEvent(
                source=EVENTS_SOURCE,
                dedupe_key=change.dedupe_key(source, message_id, received_ms),
                system="salesforce",
                object_type=change.object_type,
                record_id=change.record_id,
                event_type=f"{source}:{change.change_type}"[:100],
                occurred_at=change.occurred_at,
                payload=change.as_json(),
            )
            for change in batch.events
        ]
        new = store_events(EVENTS_SOURCE, events, rejected=len(batch.rejections))
        return accepted_response(events, new, batch.rejections)

    return blueprint
