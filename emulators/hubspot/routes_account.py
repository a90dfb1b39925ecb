"""OAuth endpoints (token grant, access-token info) and the daily API-usage endpoint.

``POST /oauth/v1/token`` takes a form-encoded authorization-code or refresh-token grant with
``client_id`` and ``client_secret``; access tokens live 30 minutes of emulator time.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from closedloop.emulators.hubspot.app_context import (
    current_limiter,
    current_portal,
    current_tokens,
)
from closedloop.emulators.hubspot.auth import OAuthError
from closedloop.emulators.hubspot.errors import json_response, not_found
from closedloop.emulators.hubspot.rate_limits import MS_PER_DAY
from closedloop.emulators.hubspot.values import iso_from_ms

blueprint = Blueprint("hubspot_account", __name__)


@blueprint.post("/oauth/v1/token")
def _grant_token() -> Response:
    form = {key: request.form.get(key, "") for key in request.form}
    try:
        return json_response(current_tokens().grant(form))
    except OAuthError as error:
        return json_response(error.body, 400)


@blueprint.get("/oauth/v1/access-tokens/<token>")
def _access_token_info(token: str) -> Response:
    portal = current_portal()
    found = next(
        (t for t in current_tokens().describe() if t["token"] == token and t["kind"] == "oauth"),
        None,
    )
    if found is None or found["expiresAt"] <= portal.now_ms():
        raise not_found("Token not found or expired")
    return json_response(
        {
            "token": token,
            "hub_id": portal.portal_id,
            "app_id": found["appId"],
            "user_id": 1,
            "scopes": found["scopes"] or [],
            "token_type": "access",
            "expires_in": (found["expiresAt"] - portal.now_ms()) // 1000,
        }
    )


@blueprint.get("/account-info/v3/api-usage/daily/private-apps")
def _daily_usage() -> Response:
    portal = current_portal()
    usage = current_limiter().describe()
    now = portal.now_ms()
    return json_response(
        {
            "results": [
                {
                    "name": "private-apps-api-calls-daily",
                    "usageLimit": usage["daily"],
                    "currentUsage": usage["daily_used"],
                    "collectedAt": iso_from_ms(now),
                    "fetchStatus": "SUCCESS",
                    "resetsAt": iso_from_ms((now // MS_PER_DAY + 1) * MS_PER_DAY),
                }
            ]
        }
    )
