"""Custom behavioural events (``/events/v3/send`` → 204) and timeline events (→ 201).

Occurrences are kept in the portal so tests can read them through
``GET /__emulator__/events``. A behavioural event names its contact by ``objectId``,
``email`` or ``utk``; a timeline event by ``objectId`` or ``email``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from closedloop.emulators.hubspot.app_context import current_portal
from closedloop.emulators.hubspot.errors import json_response, not_found, validation_error
from closedloop.emulators.hubspot.object_types import CONTACTS
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.request_args import batch_inputs, json_object
from closedloop.emulators.hubspot.routes_batch import batch_answer
from closedloop.emulators.hubspot.values import iso_from_ms, ms_from_text

MAX_EVENT_PROPERTIES = 50
MAX_EVENT_NAME = 50
MAX_VALUE_CHARS = 256


def _check_occurrence(body: dict[str, Any]) -> dict[str, Any]:
    name = body.get("eventName")
    if not isinstance(name, str) or not name or len(name) > MAX_EVENT_NAME:
        raise validation_error("eventName is required and at most 50 characters long.")
    if not any(body.get(key) for key in ("objectId", "email", "utk")):
        raise validation_error("An event needs an objectId, email or utk.")
    properties = body.get("properties") or {}
    if len(properties) > MAX_EVENT_PROPERTIES:
        raise validation_error("An event occurrence carries at most 50 properties.")
    for key, value in properties.items():
        if len(str(value)) > MAX_VALUE_CHARS:
            raise validation_error(f"Event property {key} is longer than 256 characters.")
    return dict(body)


blueprint = Blueprint("hubspot_events", __name__)


@blueprint.post("/events/v3/send")
def _send() -> Response:
    portal = current_portal()
    occurrence = _check_occurrence(json_object())
    with portal.lock:
        portal.behavioral_events.append({**occurrence, "receivedAt": portal.now_ms()})
    return Response(status=204)


@blueprint.post("/events/v3/send/batch")
def _send_batch() -> Response:
    portal = current_portal()
    inputs = batch_inputs(json_object(), 500)
    occurrences = [_check_occurrence(item) for item in inputs]
    with portal.lock:
        now = portal.now_ms()
        portal.behavioral_events.extend({**o, "receivedAt": now} for o in occurrences)
    return Response(status=204)


@blueprint.post("/integrators/timeline/v3/events")
def _create_timeline_event() -> Response:
    portal = current_portal()
    body = json_object()
    with portal.lock:
        answer = _store_timeline_event(portal, body)
    return json_response(answer, 201)


@blueprint.post("/integrators/timeline/v3/events/batch/create")
def _create_timeline_batch() -> Response:
    portal = current_portal()
    inputs = batch_inputs(json_object(), 500)
    with portal.lock:
        results = [_store_timeline_event(portal, item) for item in inputs]
    return batch_answer(portal, results, [], 201)


@blueprint.get("/integrators/timeline/v3/events/<template_id>/<event_id>")
def _get_timeline_event(template_id: str, event_id: str) -> Response:
    portal = current_portal()
    with portal.lock:
        found = portal.timeline_events.get(event_id)
    if found is None or found["eventTemplateId"] != template_id:
        raise not_found(f"Timeline event {event_id} not found")
    return json_response(found)


def _store_timeline_event(portal: Portal, body: dict[str, Any]) -> dict[str, Any]:
    template_id = body.get("eventTemplateId")
    if not template_id or not isinstance(body.get("tokens"), dict):
        raise validation_error("Timeline events need an eventTemplateId and tokens.")
    store = portal.store(CONTACTS)
    record = None
    if body.get("objectId"):
        record = store.find(str(body["objectId"]))
    elif body.get("email"):
        record = store.find_unique("email", str(body["email"]).lower())
    if record is None:
        raise not_found("The timeline event's object could not be found.")
    now = portal.now_ms()
    event_id = str(body.get("id") or f"{template_id}-{len(portal.timeline_events) + 1}")
    timestamp = ms_from_text(str(body["timestamp"])) if body.get("timestamp") else None
    event = {
        "id": event_id,
        "eventTemplateId": str(template_id),
        "objectType": "contacts",
        "objectId": record.id,
        "tokens": {str(k): str(v) for k, v in body["tokens"].items()},
        "extraData": body.get("extraData"),
        "createdAt": iso_from_ms(now),
        "timestamp": iso_from_ms(timestamp if timestamp is not None else now),
    }
    if body.get("email"):
        event["email"] = body["email"]
    portal.timeline_events[event_id] = event
    return event
