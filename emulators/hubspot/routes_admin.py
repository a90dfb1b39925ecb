"""HubSpot-specific admin routes under ``/__emulator__/`` (see docs/emulators-hubspot.md).

``webhooks`` (settings, ``flush``, ``deliveries``), ``tokens`` (private-app tokens and their
scopes), ``oauth/code`` (mint an authorization code), ``limits`` (tier and allowances),
``search-index`` (index lag), ``records/touch`` (share one last-modified millisecond),
``records/write`` (create or update records as a sales rep in the UI, with associations) and
``events`` (received behavioural and timeline events).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request

from closedloop.emulators.admin import ADMIN_PREFIX
from closedloop.emulators.hubspot.auth import TokenRegistry
from closedloop.emulators.hubspot.errors import HubSpotApiError
from closedloop.emulators.hubspot.object_types import resolve_object_type
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.rate_limits import RateLimiter
from closedloop.emulators.hubspot.record_lifecycle import associate_on_create
from closedloop.emulators.hubspot.record_writes import (
    create_record,
    require_valid,
    touch,
    update_record,
)
from closedloop.emulators.hubspot.store import WriteSource
from closedloop.emulators.hubspot.webhook_sender import WebhookSender

AdminView = Callable[[dict[str, Any]], Any]
SALES_REP = WriteSource("CRM_UI", "userId:1001", "Sales rep", "CRM_UI")


def _admin_json(view: AdminView) -> Callable[[], tuple[Response, int]]:
    """Run ``view`` on the JSON body; answer its result, or 400 on a bad request."""

    @wraps(view)
    def wrapper() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        try:
            return jsonify(view(body)), 200
        except (TypeError, ValueError, KeyError, HubSpotApiError) as error:
            return jsonify({"error": str(error)}), 400

    return wrapper


def hubspot_admin_blueprint(
    portal: Portal, tokens: TokenRegistry, limiter: RateLimiter, sender: WebhookSender
) -> Blueprint:
    """The HubSpot-specific admin routes."""
    admin = Blueprint("hubspot_admin", __name__, url_prefix=ADMIN_PREFIX)

    def webhooks(body: dict[str, Any]) -> dict[str, Any]:
        return sender.configure(body) if request.method == "POST" else sender.settings.describe()

    def flush(body: dict[str, Any]) -> dict[str, Any]:
        return sender.flush(float(body.get("timeout", 10.0)))

    def deliveries(body: dict[str, Any]) -> dict[str, Any]:
        del body
        return {"deliveries": list(sender.log)}

    def token_admin(body: dict[str, Any]) -> dict[str, Any]:
        if request.method == "POST":
            scopes = body.get("scopes")
            tokens.register_private(
                str(body["token"]),
                None if scopes is None else list(scopes),
                int(body.get("appId", tokens.app_id)),
            )
        return {"tokens": tokens.describe()}

    def oauth_code(body: dict[str, Any]) -> dict[str, Any]:
        code = tokens.mint_code(list(body.get("scopes", [])), str(body.get("redirect_uri", "")))
        return {"code": code, "client_id": tokens.client_id}

    def limits(body: dict[str, Any]) -> dict[str, Any]:
        return limiter.configure(body) if request.method == "POST" else limiter.describe()

    def search_index(body: dict[str, Any]) -> dict[str, Any]:
        with portal.lock:
            if request.method == "POST":
                portal.index_lag_ms = max(0, int(body.get("lag_ms", 0)))
            return {"lag_ms": portal.index_lag_ms}

    def touch_records(body: dict[str, Any]) -> dict[str, Any]:
        kind = resolve_object_type(str(body.get("objectType", "contacts")))
        with portal.lock:
            timestamp = int(body.get("timestampMs", portal.now_ms()))
            store = portal.store(kind)
            wanted = body.get("ids")
            records = (
                list(store.live())
                if wanted is None
                else [r for r in (store.find(str(i)) for i in wanted) if r is not None]
            )
            for record in records:
                touch(portal, kind, record, timestamp)
        return {"touched": len(records), "timestampMs": timestamp}

    def write_records(body: dict[str, Any]) -> dict[str, Any]:
        """Records created (inputs without ``id``) or updated as a rep does in the UI.

        ``{"objectType": "deals", "inputs": [{"id"?, "properties", "associations"?}]}``;
        associations take the create-input form. Webhooks fire as for any UI change.
        """
        kind = resolve_object_type(str(body.get("objectType", "contacts")))
        ids: list[str] = []
        with portal.lock:
            store = portal.store(kind)
            for item in list(body.get("inputs", [])):
                if item.get("id") is None:
                    values = require_valid(portal, kind, item.get("properties"))
                    record = create_record(portal, kind, values, SALES_REP)
                    associate_on_create(portal, kind, record, item.get("associations"))
                else:
                    found = store.find(str(item["id"]))
                    if found is None:
                        raise KeyError(f"no {kind.name} record {item['id']}")
                    record = found
                    values = require_valid(
                        portal, kind, item.get("properties"), current=record.properties
                    )
                    update_record(portal, kind, record, values, SALES_REP)
                ids.append(record.id)
        return {"results": [{"id": i} for i in ids]}

    def events(body: dict[str, Any]) -> dict[str, Any]:
        del body
        with portal.lock:
            return {
                "behavioral": list(portal.behavioral_events),
                "timeline": list(portal.timeline_events.values()),
            }

    routes: list[tuple[str, AdminView, list[str]]] = [
        ("/webhooks", webhooks, ["GET", "POST"]),
        ("/webhooks/flush", flush, ["POST"]),
        ("/webhooks/deliveries", deliveries, ["GET"]),
        ("/tokens", token_admin, ["GET", "POST"]),
        ("/oauth/code", oauth_code, ["POST"]),
        ("/limits", limits, ["GET", "POST"]),
        ("/search-index", search_index, ["GET", "POST"]),
        ("/records/touch", touch_records, ["POST"]),
        ("/records/write", write_records, ["POST"]),
        ("/events", events, ["GET"]),
    ]
    for rule, view, methods in routes:
        admin.add_url_rule(rule, view.__name__, _admin_json(view), methods=methods)
    return admin
