"""What happens before a vendor route runs: bearer auth, scopes, then rate limits.

401 for a missing, unknown or expired token; 403 ``MISSING_SCOPES`` when the token lacks
every scope the call accepts; 429 with HubSpot's ``policyName`` body when a window is spent.
Admin routes (``/__emulator__/``), the OAuth endpoints and the developer-key webhook
settings API skip all three.
"""

from __future__ import annotations

import re

from flask import Flask, Response, g, request

from closedloop.emulators.admin import ADMIN_PREFIX, mark_rate_limited
from closedloop.emulators.hubspot.auth import AccessToken, TokenRegistry
from closedloop.emulators.hubspot.errors import HubSpotApiError, json_response
from closedloop.emulators.hubspot.object_types import find_object_type
from closedloop.emulators.hubspot.rate_limits import RateLimiter
from closedloop.emulators.hubspot.store import WriteSource

OPEN_PREFIXES = ("/oauth/v1/", "/webhooks/v3/")
READ_SUFFIXES = ("/batch/read", "/search")
OBJECT_PATH = re.compile(r"^/crm/v[34]/(?:objects|associations)/([^/]+)")
SCHEMA_PATH = re.compile(r"^/crm/v3/(properties|pipelines)/([^/]+)")
MISSING_SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)


def required_scopes(method: str, path: str) -> list[str]:
    """The scopes of which a token needs at least one for this call (empty: none needed)."""
    reading = method == "GET" or path.endswith(READ_SUFFIXES)
    access = "read" if reading else "write"
    match = OBJECT_PATH.match(path)
    if match:
        object_type = find_object_type(match.group(1))
        return [object_type.scope(access)] if object_type else []
    match = SCHEMA_PATH.match(path)
    if match:
        object_type = find_object_type(match.group(2))
        if object_type is None:
            return []
        if match.group(1) == "properties":
            return [object_type.schema_scope(access)]
        return [object_type.scope(access)]
    if path.startswith("/events/v3/send"):
        return ["analytics.behavioral_events.send"]
    if path.startswith("/integrators/timeline/"):
        return ["timeline"]
    return []


def rate_kind(path: str) -> str | None:
    """Which allowance a call spends: ``search``, ``associations``, ``standard`` or none."""
    if path.startswith("/crm/v3/objects/") and path.endswith("/search"):
        return "search"
    if path.startswith("/crm/v4/"):
        return "associations"
    if path.startswith(("/crm/", "/events/", "/integrators/", "/account-info/")):
        return "standard"
    return None


def current_token() -> AccessToken:
    """The token of the request being served."""
    token: AccessToken = g.hubspot_token
    return token


def current_source() -> WriteSource:
    """How writes of the current request show in history: the token's app as integration."""
    token = current_token()
    return WriteSource("INTEGRATION", str(token.app_id), None, "INTEGRATION")


def install_gatekeeper(app: Flask, tokens: TokenRegistry, limiter: RateLimiter) -> None:
    """Register the auth, scope and rate-limit hooks on the vendor app."""

    @app.before_request
    def _guard() -> Response | None:
        path = request.path
        if path.startswith((ADMIN_PREFIX, *OPEN_PREFIXES)):
            return None
        try:
            token = tokens.authenticate(request.headers.get("Authorization"))
        except HubSpotApiError as error:
            return json_response(error.body(), error.status)
        g.hubspot_token = token
        needed = required_scopes(request.method, path)
        if needed and token.scopes is not None and not token.scopes.intersection(needed):
            return _missing_scopes(needed)
        kind = rate_kind(path)
        if kind is None:
            return None
        verdict = limiter.check(kind, token.app_id, oauth=token.is_oauth)
        g.hubspot_rate_headers = verdict.headers
        if verdict.allowed:
            return None
        mark_rate_limited()
        response = json_response(verdict.body, 429)
        response.headers.update(verdict.headers)
        return response

    @app.after_request
    def _rate_headers(response: Response) -> Response:
        if response.status_code != 429:
            for name, value in (g.get("hubspot_rate_headers") or {}).items():
                response.headers[name] = value
        return response


def _missing_scopes(needed: list[str]) -> Response:
    error = HubSpotApiError(
        403,
        "MISSING_SCOPES",
        MISSING_SCOPES_MESSAGE,
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": needed},
            }
        ],
        extra={"links": {"scopes": "https://developers.hubspot.com/scopes"}},
    )
    return json_response(error.body(), 403)
