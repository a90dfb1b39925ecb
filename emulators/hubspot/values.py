"""Property values on the wire: always strings, checked and normalised by property type.

HubSpot accepts dates as ISO 8601 or epoch milliseconds and answers datetimes as ISO 8601
with milliseconds and a ``Z``; ``date`` properties must be midnight UTC.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from closedloop.emulators.hubspot.property_model import PropertyDefinition

MS_PER_DAY = 86_400_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidValueError(ValueError):
    """A property value HubSpot would refuse; ``code`` is HubSpot's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def iso_from_ms(epoch_ms: int) -> str:
    """``2026-01-05T10:00:00.123Z`` for an epoch-millisecond timestamp."""
    seconds, millis = divmod(epoch_ms, 1000)
    instant = (_EPOCH + timedelta(seconds=seconds)).replace(tzinfo=None)
    if instant.year < 1000:  # isoformat pads the year; strftime does not
        return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"
    return f"{instant.isoformat()}.{millis:03d}Z"


def ms_from_text(text: str) -> int | None:
    """Epoch milliseconds from epoch-ms digits or an ISO 8601 string; ``None`` if neither."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    try:
        parsed = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def number_from_text(text: str) -> float | None:
    """The number a string holds, or ``None``."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def wire_string(raw: Any) -> str:
    """Any JSON scalar as the string HubSpot stores (booleans become ``true``/``false``)."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def normalise_value(definition: PropertyDefinition, raw: Any) -> str:
    """The stored form of a written value; ``""`` clears the property.

    Raises:
        InvalidValueError: when the value does not fit the property's type or options.
    """
    text = wire_string(raw)
    if text == "":
        return ""
    kind = definition.type
    if kind == "number":
        if number_from_text(text) is None:
            raise InvalidValueError("INVALID_INTEGER", f"{text} was not a valid number.")
        return text
    if kind in ("date", "datetime"):
        return _normalise_date(definition, text)
    if kind == "bool":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise InvalidValueError("INVALID_BOOLEAN", f"{text} was not a valid boolean.")
        return lowered
    if kind == "enumeration" and definition.options and not definition.external_options:
        allowed = {option["value"] for option in definition.options}
        chosen = text.split(";") if definition.field_type == "checkbox" else [text]
        for value in chosen:
            if value not in allowed:
                raise InvalidValueError(
                    "INVALID_OPTION",
                    f"{value} was not one of the allowed options: [{', '.join(sorted(allowed))}]",
                )
        return text
    if len(text) > 65_536:
        raise InvalidValueError("INVALID_STRING", "String values are limited to 65536 characters.")
    return text


def _normalise_date(definition: PropertyDefinition, text: str) -> str:
    epoch_ms = ms_from_text(text)
    if epoch_ms is None:
        raise InvalidValueError("INVALID_DATE", f"{text} is not a valid date or datetime.")
    if definition.type == "date":
        if epoch_ms % MS_PER_DAY != 0:
            raise InvalidValueError(
                "INVALID_DATE",
                f"{text} is at {iso_from_ms(epoch_ms)}, which is not midnight UTC.",
            )
        return iso_from_ms(epoch_ms)[:10]
    return iso_from_ms(epoch_ms)
