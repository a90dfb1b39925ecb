"""One table that turns a vendor answer into what closedloop does next.

The HubSpot table is keyed by HTTP status (with the 429 ``policyName`` refining it); the
Salesforce table by ``errorCode`` / ``statusCode``, which Salesforce documents as the retry key
(``UNABLE_TO_LOCK_ROW`` arrives as a 400, ``REQUEST_LIMIT_EXCEEDED`` as a 403). Connectors call
:func:`classify_hubspot` or :func:`classify_salesforce` and raise the matching error from
:mod:`closedloop.runtime.errors`; they never branch on status codes themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """What to do with a failed call or row."""

    RETRY = "retry"  # transient: back off (honouring Retry-After) and try again
    REAUTHENTICATE = "reauthenticate"  # get a new token, replay once
    SKIP_ROW = "skip_row"  # this row is bad: dead-letter it with its reason
    IGNORE = "ignore"  # nothing to do (e.g. deleting what is already gone)
    PAUSE = "pause"  # the portal or org must rest (daily limit, migration)
    FATAL = "fatal"  # configuration or permission problem: stop the run


@dataclass(frozen=True)
class Resolution:
    """An action plus the reason a person reads in the run report."""

    action: Action
    reason: str
    retry_after: float | None = None


HUBSPOT_BY_STATUS: dict[int, tuple[Action, str]] = {
    400: (Action.SKIP_ROW, "HubSpot rejected the data"),
    401: (Action.REAUTHENTICATE, "HubSpot token invalid or expired"),
    403: (Action.FATAL, "HubSpot token lacks a required scope"),
    404: (Action.IGNORE, "HubSpot record not found"),
    409: (Action.SKIP_ROW, "HubSpot conflict (record already exists)"),
    414: (Action.SKIP_ROW, "request URI too long: split the request"),
    423: (Action.RETRY, "HubSpot record locked under heavy writes"),
    429: (Action.RETRY, "HubSpot rate limit"),
    477: (Action.PAUSE, "HubSpot portal migration in progress"),
    488: (Action.FATAL, "token used against the wrong HubSpot data centre"),
}
HUBSPOT_TRANSIENT = {500, 502, 503, 504, 521, 523, 524}
HUBSPOT_MIN_LOCK_WAIT = 2.0
HUBSPOT_POLICY_WAIT = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0}

SALESFORCE_BY_CODE: dict[str, tuple[Action, str]] = {
    "UNABLE_TO_LOCK_ROW": (Action.RETRY, "Salesforce record locked by another process"),
    "SERVER_UNAVAILABLE": (Action.RETRY, "Salesforce temporarily unavailable"),
    "UNKNOWN_EXCEPTION": (Action.RETRY, "Salesforce internal error"),
    "REQUEST_LIMIT_EXCEEDED": (Action.PAUSE, "Salesforce API request limit exceeded"),
    "INVALID_SESSION_ID": (Action.REAUTHENTICATE, "Salesforce session expired or invalid"),
    "API_DISABLED_FOR_ORG": (Action.FATAL, "the API is disabled for this Salesforce org"),
    "INSUFFICIENT_ACCESS": (Action.FATAL, "the integration user lacks a permission"),
    "INSUFFICIENT_ACCESS_OR_READONLY": (Action.SKIP_ROW, "no edit access to this record"),
    "NOT_FOUND": (Action.IGNORE, "Salesforce record not found"),
    "ENTITY_IS_DELETED": (Action.IGNORE, "Salesforce record is deleted"),
    "DUPLICATE_VALUE": (Action.SKIP_ROW, "a unique field already holds this value"),
    "DUPLICATES_DETECTED": (Action.SKIP_ROW, "a duplicate rule blocked the write"),
    "INVALID_FIELD": (Action.SKIP_ROW, "field missing or not visible to the integration user"),
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": (Action.SKIP_ROW, "an org validation rule refused it"),
    "REQUIRED_FIELD_MISSING": (Action.SKIP_ROW, "a required field is missing"),
    "STRING_TOO_LONG": (Action.SKIP_ROW, "a value is longer than its field"),
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": (Action.SKIP_ROW, "value not in the picklist"),
    "MALFORMED_QUERY": (Action.FATAL, "closedloop sent a malformed SOQL query"),
}


def classify_hubspot(
    status: int, body: str | bytes | None = None, headers: dict[str, str] | None = None
) -> Resolution:
    """Decide what a HubSpot error answer means.

    Args:
        status: the HTTP status.
        body: the response body (JSON text); used to read a 429's ``policyName``.
        headers: the response headers; ``Retry-After`` is honoured when present.
    """
    retry_after = _retry_after(headers)
    payload = _json(body)
    if status == 429:
        policy = str(payload.get("policyName", "")).upper()
        if policy == "DAILY":
            return Resolution(Action.PAUSE, "HubSpot daily API limit reached", retry_after)
        wait = retry_after if retry_after is not None else HUBSPOT_POLICY_WAIT.get(policy)
        return Resolution(Action.RETRY, f"HubSpot rate limit ({policy or 'unknown policy'})", wait)
    if status == 423:
        wait = max(retry_after or 0.0, HUBSPOT_MIN_LOCK_WAIT)
        return Resolution(Action.RETRY, HUBSPOT_BY_STATUS[423][1], wait)
    if status in HUBSPOT_BY_STATUS:
        action, reason = HUBSPOT_BY_STATUS[status]
        message = payload.get("message")
        return Resolution(action, f"{reason}: {message}" if message else reason, retry_after)
    if status in HUBSPOT_TRANSIENT:
        return Resolution(Action.RETRY, f"HubSpot transient error {status}", retry_after)
    if status >= 500:
        return Resolution(Action.RETRY, f"HubSpot server error {status}", retry_after)
    return Resolution(Action.FATAL, f"unexpected HubSpot answer {status}")


def classify_salesforce(status: int, error_code: str | None, message: str = "") -> Resolution:
    """Decide what a Salesforce error (call-level ``errorCode`` or row ``statusCode``) means."""
    code = (error_code or "").upper()
    if code in SALESFORCE_BY_CODE:
        action, reason = SALESFORCE_BY_CODE[code]
        return Resolution(action, f"{reason}: {message}" if message else reason)
    if code.startswith("INSUFFICIENT_ACCESS"):
        return Resolution(Action.FATAL, f"the integration user lacks a permission: {message}")
    if status == 401:
        return Resolution(Action.REAUTHENTICATE, "Salesforce session expired or invalid")
    if status in (500, 502, 503, 504):
        return Resolution(Action.RETRY, f"Salesforce transient error {status}")
    if status in {300, 400}:
        return Resolution(Action.SKIP_ROW, f"Salesforce rejected the row ({code}): {message}")
    return Resolution(Action.FATAL, f"unexpected Salesforce answer {status} {code}".strip())


def salesforce_error_code(body: str | bytes | None) -> tuple[str | None, str]:
    """The first ``errorCode`` and message of a Salesforce error array (or object)."""
    payload: Any
    try:
        payload = json.loads(body or b"")
    except (ValueError, TypeError):
        return None, ""
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if not isinstance(payload, dict):
        return None, ""
    code = payload.get("errorCode") or payload.get("statusCode")
    return (str(code) if code else None), str(payload.get("message", ""))


def _json(body: str | bytes | None) -> dict[str, Any]:
    try:
        payload = json.loads(body or b"")
    except (ValueError, TypeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _retry_after(headers: dict[str, str] | None) -> float | None:
    if not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except ValueError:
                return None
    return None
