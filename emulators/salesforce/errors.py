"""Salesforce error shapes: top-level REST errors are JSON arrays of ``{message, errorCode}``.

Per-record errors (collections, Bulk API results) use ``statusCode`` instead of ``errorCode``;
:class:`RecordError` renders both.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


class RecordError(Exception):
    """A record-level failure: a status code, a message and the fields involved."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = list(fields or [])

    def as_status(self) -> dict[str, Any]:
        """The per-record form used by collections: ``{statusCode, message, fields}``."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def as_error(self) -> dict[str, Any]:
        """The top-level REST form: ``{message, errorCode, fields}``."""
        body: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields:
            body["fields"] = self.fields
        return body

    def as_bulk(self) -> str:
        """The ``sf__Error`` cell of a Bulk API 2.0 failed-results CSV."""
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


class ApiError(Exception):
    """A whole request failed: HTTP status plus one or more error entries."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.entries: list[dict[str, Any]] = [RecordError(code, message, fields).as_error()]

    @classmethod
    def from_record(cls, error: RecordError, status: int = 400) -> ApiError:
        """Raise a record error as a whole-request error."""
        return cls(status, error.code, error.message, error.fields)

    def response(self) -> Response:
        """The JSON array response."""
        response = jsonify(self.entries)
        response.status_code = self.status
        return response


def duplicate_external_id(field_name: str, ids: list[str]) -> RecordError:
    """``DUPLICATE_EXTERNAL_ID`` for an upsert whose key matches several records."""
    return RecordError(
        "DUPLICATE_EXTERNAL_ID",
        f"{field_name}: more than one record found for external id field: [{', '.join(ids)}]",
        [field_name],
    )


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    """404 ``NOT_FOUND``."""
    return ApiError(404, "NOT_FOUND", message)


def session_invalid() -> ApiError:
    """401 ``INVALID_SESSION_ID``, the body simple-salesforce's re-login handler reads."""
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
