"""HubSpot's webhook management API (``/webhooks/v3/{appId}/settings|subscriptions``).

These endpoints use a developer key (``?hapikey=``), not the portal's bearer token, so the
gatekeeper lets them through; they edit the same settings as ``/__emulator__/webhooks``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from closedloop.emulators.hubspot.app_context import current_portal, current_sender
from closedloop.emulators.hubspot.errors import json_response, not_found, validation_error
from closedloop.emulators.hubspot.request_args import json_object
from closedloop.emulators.hubspot.values import iso_from_ms
from closedloop.emulators.hubspot.webhook_settings import Subscription

BASE = "/webhooks/v3/<int:app_id>"


blueprint = Blueprint("hubspot_webhook_settings", __name__)


def _subscription_json(subscription: Subscription) -> dict[str, Any]:
    now = iso_from_ms(current_portal().now_ms())
    return {
        **subscription.to_json(),
        "id": str(subscription.id),
        "createdAt": now,
        "updatedAt": now,
    }


def _settings_json() -> dict[str, Any]:
    settings = current_sender().settings
    now = iso_from_ms(current_portal().now_ms())
    return {
        "targetUrl": settings.target_url or "",
        "createdAt": now,
        "updatedAt": now,
        "throttling": {"maxConcurrentRequests": settings.max_concurrent},
    }


def _find(subscription_id: int) -> Subscription:
    for subscription in current_sender().settings.subscriptions:
        if subscription.id == subscription_id:
            return subscription
    raise not_found(f"Subscription {subscription_id} not found")


@blueprint.get(f"{BASE}/settings")
def _get_settings(app_id: int) -> Response:
    del app_id
    return json_response(_settings_json())


@blueprint.put(f"{BASE}/settings")
def _put_settings(app_id: int) -> Response:
    sender = current_sender()
    body = json_object()
    throttling = body.get("throttling") or {}
    try:
        sender.configure(
            {
                "targetUrl": body.get("targetUrl"),
                "appId": app_id,
                "maxConcurrentRequests": throttling.get("maxConcurrentRequests", 10),
            }
        )
    except ValueError as error:
        raise validation_error(str(error)) from None
    return json_response(_settings_json())


@blueprint.delete(f"{BASE}/settings")
def _clear_settings(app_id: int) -> Response:
    sender = current_sender()
    del app_id
    sender.configure({"targetUrl": None})
    return Response(status=204)


@blueprint.get(f"{BASE}/subscriptions")
def _list_subscriptions(app_id: int) -> Response:
    sender = current_sender()
    del app_id
    return json_response(
        {"results": [_subscription_json(s) for s in sender.settings.subscriptions]}
    )


@blueprint.post(f"{BASE}/subscriptions")
def _create_subscription(app_id: int) -> Response:
    sender = current_sender()
    del app_id
    try:
        created = sender.settings.add_subscription(json_object())
    except ValueError as error:
        raise validation_error(str(error)) from None
    return json_response(_subscription_json(created), 201)


@blueprint.get(f"{BASE}/subscriptions/<int:subscription_id>")
def _get_subscription(app_id: int, subscription_id: int) -> Response:
    del app_id
    return json_response(_subscription_json(_find(subscription_id)))


@blueprint.patch(f"{BASE}/subscriptions/<int:subscription_id>")
def _patch_subscription(app_id: int, subscription_id: int) -> Response:
    del app_id
    subscription = _find(subscription_id)
    subscription.active = bool(json_object().get("active", subscription.active))
    return json_response(_subscription_json(subscription))


@blueprint.delete(f"{BASE}/subscriptions/<int:subscription_id>")
def _delete_subscription(app_id: int, subscription_id: int) -> Response:
    sender = current_sender()
    del app_id
    sender.settings.subscriptions.remove(_find(subscription_id))
    return Response(status=204)
