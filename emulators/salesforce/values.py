"""Field values in Salesforce's REST formats, and coercion of what clients send.

Datetimes are stored as ``2024-01-31T10:00:00.000+0000`` and dates as ``2024-01-31``, which is
how the REST API returns them. JSON bodies bring typed values; Bulk API CSV cells are strings.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from closedloop.emulators.salesforce.errors import RecordError
from closedloop.emulators.salesforce.ids import normalize_id
from closedloop.emulators.salesforce.schema import FieldDef

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def format_datetime(instant: datetime) -> str:
    """``2024-01-31T10:00:00.000+0000`` for a timezone-aware datetime."""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def format_date(day: date) -> str:
    """``2024-01-31``."""
    return day.isoformat()


def parse_datetime(text: str) -> datetime:
    """Parse the ISO 8601 forms Salesforce accepts (``Z``, ``+00:00`` or ``+0000``).

    Raises:
        ValueError: when ``text`` is not an ISO 8601 datetime.
    """
    cleaned = text.strip().replace(" ", "+")
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    cleaned = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", cleaned)
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD`` (a datetime is cut to its date).

    Raises:
        ValueError: when ``text`` is not a date.
    """
    return date.fromisoformat(text.strip()[:10])


def _bad_value(definition: FieldDef, value: Any) -> RecordError:
    return RecordError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        f"{definition.label}: value not of required type: {value}",
        [definition.name],
    )


def coerce(definition: FieldDef, value: Any, *, from_csv: bool = False) -> Any:
    """Convert a client value to the stored form for ``definition``'s type.

    Args:
        definition: the target field.
        value: what the client sent (None clears the field).
        from_csv: the value is a Bulk API CSV cell (a string).

    Raises:
        RecordError: when the value cannot be stored in the field.
    """
    if value is None:
        return None
    kind = definition.type
    try:
        if kind == "boolean":
            return _to_bool(definition, value)
        if kind in ("double", "currency", "percent"):
            if isinstance(value, bool):
                raise _bad_value(definition, value)
            return float(value)
        if kind == "int":
            if isinstance(value, bool):
                raise _bad_value(definition, value)
            return int(float(value))
        if kind == "date":
            return format_date(parse_date(str(value)))
        if kind == "datetime":
            return format_datetime(parse_datetime(str(value)))
    except (TypeError, ValueError) as exc:
        raise _bad_value(definition, value) from exc
    if kind == "reference":
        return _to_reference(definition, value)
    if isinstance(value, dict | list) or (isinstance(value, bool) and not from_csv):
        raise _bad_value(definition, value)
    return _to_text(definition, str(value))


def _to_bool(definition: FieldDef, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _bad_value(definition, value)


def _to_reference(definition: FieldDef, value: Any) -> str | None:
    text = str(value).strip()
    if not text:
        return None
    normalized = normalize_id(text)
    if normalized is None:
        raise RecordError(
            "MALFORMED_ID",
            f"{definition.label}: id value of incorrect type: {text}",
            [definition.name],
        )
    return normalized


def _to_text(definition: FieldDef, text: str) -> str | None:
    if text == "":
        return None
    if definition.length and len(text) > definition.length:
        raise RecordError(
            "STRING_TOO_LONG",
            f"{definition.label}: data value too large: {text[:40]} "
            f"(max length={definition.length})",
            [definition.name],
        )
    if definition.type == "email" and not _EMAIL.match(text):
        raise RecordError(
            "INVALID_EMAIL_ADDRESS",
            f"{definition.label}: invalid email address: {text}",
            [definition.name],
        )
    if definition.type == "picklist" and definition.restricted and text not in definition.picklist:
        raise RecordError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{definition.label}: bad value for restricted picklist field: {text}",
            [definition.name],
        )
    return text


def csv_cell(value: Any) -> str:
    """A stored value as a Bulk API CSV cell (``true``/``false``, empty for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else str(value)
    return str(value)
