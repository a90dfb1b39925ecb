"""HubSpot error bodies: one exception type that every route raises, rendered as HubSpot does.

A non-batch HubSpot error body looks like::

    {"status": "error", "message": "...", "correlationId": "<uuid>",
     "category": "VALIDATION_ERROR", "errors": [{"message": "...", "code": "...",
     "context": {"propertyName": ["x"]}}]}

Batch 207 answers carry the same information per failed row (see :func:`standard_error`).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException


class HubSpotApiError(Exception):
    """An error answered with HubSpot's JSON error body.

    Args:
        status: the HTTP status code.
        category: HubSpot's error category, for example ``VALIDATION_ERROR``.
        message: the human-readable message.
        errors: ``errors[]`` details (each with at least ``message``).
        context: the ``context`` object (values are lists of strings).
        extra: further top-level keys (``links``, ``subCategory``...).
    """

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors
        self.context = context
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body HubSpot sends for this error."""
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": new_correlation_id(),
            "category": self.category,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        if self.context is not None:
            body["context"] = self.context
        body.update(self.extra)
        return body


def new_correlation_id() -> str:
    """A fresh correlation id (HubSpot uses UUIDs)."""
    return str(uuid.uuid4())


def json_response(body: Any, status: int = 200) -> Response:
    """A compact JSON response with the given status."""
    return Response(json.dumps(body), status=status, mimetype="application/json")


def validation_error(
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: dict[str, list[str]] | None = None,
) -> HubSpotApiError:
    """A 400 ``VALIDATION_ERROR``."""
    return HubSpotApiError(400, "VALIDATION_ERROR", message, errors=errors, context=context)


def not_found(message: str = "resource not found", **context: list[str]) -> HubSpotApiError:
    """A 404 ``OBJECT_NOT_FOUND``."""
    return HubSpotApiError(404, "OBJECT_NOT_FOUND", message, context=context or None)


def conflict(message: str) -> HubSpotApiError:
    """A 409 ``CONFLICT``."""
    return HubSpotApiError(409, "CONFLICT", message)


def property_issue(name: str, code: str, message: str) -> dict[str, Any]:
    """One ``errors[]`` entry about a property value."""
    return {"message": message, "code": code, "context": {"propertyName": [name]}}


def invalid_properties(issues: list[dict[str, Any]]) -> HubSpotApiError:
    """The 400 HubSpot answers when property values were not valid."""
    legacy = [
        {
            "isValid": False,
            "message": issue["message"],
            "error": issue["code"],
            "name": issue["context"]["propertyName"][0],
        }
        for issue in issues
    ]
    return validation_error(
        f"Property values were not valid: {json.dumps(legacy)}",
        errors=issues,
    )


def standard_error(
    category: str,
    message: str,
    *,
    context: dict[str, list[str]],
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One ``errors[]`` item of a 207 batch answer (every field the client requires)."""
    return {
        "status": "error",
        "category": category,
        "subCategory": {},
        "message": message,
        "context": context,
        "errors": errors or [],
        "links": {},
    }


def register_error_handlers(app: Flask) -> None:
    """Render :class:`HubSpotApiError` and Flask's own HTTP errors as HubSpot bodies."""

    @app.errorhandler(HubSpotApiError)
    def _api_error(error: HubSpotApiError) -> Response:
        return json_response(error.body(), error.status)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        category = "OBJECT_NOT_FOUND" if status == 404 else "VALIDATION_ERROR"
        body = {
            "status": "error",
            "message": error.description or error.name,
            "correlationId": new_correlation_id(),
            "category": category,
        }
        return json_response(body, status)
