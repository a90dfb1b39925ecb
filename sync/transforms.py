"""Canonical values to and from each system's wire format, one mapped field at a time.

The shape of a value on the wire depends on the system and the field's ``value_type``:

============  ==============================================  ===================================
type          HubSpot (every value a string; ``""`` clears)   Salesforce (JSON types; null clears)
============  ==============================================  ===================================
string        text                                            text
number        ``"5"``, ``"2.5"``                              ``5``, ``2.5``
datetime      ISO ``...T10:00:00.000Z`` (reads epoch ms too)  ISO ``...Z`` (reads ``...+0000``)
date          ``"2024-01-31"`` (midnight UTC)                 ``"2024-01-31"``
bool          ``"true"`` / ``"false"``                        ``true`` / ``false``
============  ==============================================  ===================================

Text on its way out goes through the field's transforms (``trim``, ``lower``, ``upper``, in
order), then its picklist map, then truncation to ``max_length`` UTF-16 code units (how
Salesforce counts), never splitting a surrogate pair or a character from its combining marks.
Canonical dates are midnight-UTC datetimes. A value that cannot be represented raises
:class:`TransformError`, whose ``reason`` the engine records as a refusal.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from closedloop.mappings.field_types import SystemField
from closedloop.runtime.errors import ClosedLoopError
from closedloop.sync.model import CanonicalValue

__all__ = ["TransformError", "WireValue", "from_wire", "same_value", "to_wire", "truncate"]

WireValue = str | int | float | bool | None
STRING_WIRE_SYSTEMS = frozenset({"hubspot"})
"""Systems whose property values are all strings on the wire (and ``""`` clears one)."""
CASE_INSENSITIVE_PICKLISTS = frozenset({"salesforce"})
"""Systems that match picklist values regardless of case."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_TEXT: dict[str, Callable[[str], str]] = {"trim": str.strip, "lower": str.lower, "upper": str.upper}
_JOINERS = frozenset("\u200d\ufe0e\ufe0f\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
"""Zero-width joiner, text/emoji variation selectors and the skin-tone modifiers."""


class TransformError(ClosedLoopError, ValueError):
    """A value does not fit a field; ``reason`` says why in words fit for a refusal."""

    def __init__(self, field: SystemField, reason: str) -> None:
        super().__init__(f"{field.system} {field.field}: {reason}")
        self.field = field
        self.reason = reason


def to_wire(field: SystemField, value: CanonicalValue) -> WireValue:
    """The value to send to ``field``'s system (``None`` and ``""`` clear the field).

    Raises:
        TransformError: the value has the wrong type, has no picklist value and no default, or
            would clear a required field.
    """
    strings = field.system in STRING_WIRE_SYSTEMS
    text = _text_out(field, value) if field.value_type == "string" and value is not None else ""
    if value is None or value == "" or (field.value_type == "string" and not text):
        if field.required:
            raise TransformError(field, f"{field.field} is required, so it is never cleared")
        return "" if strings else None
    kind = field.value_type
    if kind == "string":
        return text
    if kind == "number":
        number = _number(field, value)
        return _plain(number) if strings else number
    if kind == "bool":
        flag = _bool(field, value)
        return ("true" if flag else "false") if strings else flag
    if kind == "date":
        return _day(field, value).isoformat()
    instant = _instant(field, value).replace(tzinfo=None)
    return instant.isoformat(timespec="milliseconds") + "Z"


def from_wire(field: SystemField, wire: WireValue) -> CanonicalValue:
    """The canonical value of what ``field``'s system sent (blank becomes ``None``).

    Picklist values map back to the first canonical value that maps to them; values outside
    the map come back as they are.

    Raises:
        TransformError: the value cannot be read as the field's type.
    """
    if wire is None or wire == "":
        return None
    kind = field.value_type
    if kind == "number":
        return _number(field, wire)
    if kind == "bool":
        return _bool(field, wire)
    if kind == "datetime":
        return _instant(field, wire)
    if kind == "date":
        return datetime.combine(_day(field, wire), datetime.min.time(), tzinfo=UTC)
    text = wire if isinstance(wire, str) else _plain(wire)
    for canonical, mapped in (field.picklist or {}).items():
        if _same_text(field, mapped, text):
            return canonical
    return text


def same_value(field: SystemField, a: WireValue, b: WireValue) -> bool:
    """Whether two wire values of ``field`` mean the same thing (so nothing needs writing).

    Numbers compare by value (``"5"`` equals ``5.0``), datetimes as instants to the
    millisecond, dates as days, booleans as truth values, text after the field's transforms
    and truncation (and case-insensitively for picklists of systems that ignore case). Blank
    (``None``, ``""``) equals blank. Unreadable values compare as they are.
    """
    if a is b or (type(a) is type(b) and a == b):
        return True  # identical wire values mean the same, whatever the field
    try:
        return _key(field, a) == _key(field, b)
    except TransformError:
        return a == b


def truncate(text: str, max_length: int) -> str:
    """``text`` cut to at most ``max_length`` UTF-16 code units, on a character boundary.

    A surrogate pair (or an astral character) is never split, and a base character is not
    separated from the combining marks, variation selectors, skin-tone modifiers or joiners
    that follow it.
    """
    if 2 * len(text) <= max_length or (len(text) <= max_length and text.isascii()):
        return text  # fits for certain: no character takes more than two code units
    if len(text.encode("utf-16-le", "surrogatepass")) <= 2 * max_length:
        return text
    units, cut = 0, 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > max_length:
            cut = index
            break
    if cut and 0xD800 <= ord(text[cut - 1]) <= 0xDBFF:  # a high surrogate held as a code point
        cut -= 1
    while cut and (_attached(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1
    return text[:cut]


def _attached(char: str) -> bool:
    return bool(unicodedata.combining(char)) or char in _JOINERS or "\udc00" <= char <= "\udfff"


def _key(field: SystemField, wire: WireValue) -> object:
    """A comparable form of a wire value (``None`` for blank)."""
    if wire is None or wire == "":
        return None
    kind = field.value_type
    if kind == "string":
        text = _text_out(field, wire, mapped=False)
        case_free = field.picklist is not None and field.system in CASE_INSENSITIVE_PICKLISTS
        return (text.casefold() if case_free else text) or None
    if kind == "datetime":
        return (_instant(field, wire) - _EPOCH) // _MS
    return from_wire(field, wire)


def _same_text(field: SystemField, a: str, b: str) -> bool:
    if field.system in CASE_INSENSITIVE_PICKLISTS:
        return a.casefold() == b.casefold()
    return a == b


def _text_out(field: SystemField, value: CanonicalValue, *, mapped: bool = True) -> str:
    if isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = value if isinstance(value, str) else _plain(value)
    for name in field.transforms:
        text = _TEXT[name](text)
    if mapped and field.picklist is not None and text:
        text = _pick(field, text)
    return truncate(text, field.max_length) if field.max_length else text


def _pick(field: SystemField, text: str) -> str:
    picklist = field.picklist or {}
    if text in picklist:
        return picklist[text]
    folded = {key.casefold(): mapped for key, mapped in picklist.items()}
    if text.casefold() in folded:
        return folded[text.casefold()]
    if field.picklist_default is not None:
        return field.picklist_default
    raise TransformError(field, f"no {field.field} value is mapped for {text!r}")


def _plain(value: object) -> str:
    """A scalar as text without exponent or trailing ``.0`` (``5.0`` -> ``"5"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value):
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def _number(field: SystemField, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TransformError(field, f"{value!r} is not a number")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else repr(value))
    except InvalidOperation:
        raise TransformError(field, f"{value!r} is not a number") from None
    if not number.is_finite():
        raise TransformError(field, f"{value!r} is not a finite number")
    return int(number) if number == number.to_integral_value() else float(number)


def _bool(field: SystemField, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else ""
    if text in ("true", "1", "false", "0"):
        return text in ("true", "1")
    raise TransformError(field, f"{value!r} is not true or false")


def _instant(field: SystemField, value: object) -> datetime:
    """An aware UTC datetime from a datetime, epoch milliseconds or an ISO 8601 string."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TransformError(field, f"{value.isoformat()} has no time zone")
        return value.astimezone(UTC)
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    try:
        if text.lstrip("-").isdigit():
            return _EPOCH + int(text) * _MS
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise TransformError(field, f"{value!r} is not a date and time") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _day(field: SystemField, value: object) -> date:
    """The UTC calendar day of a date, datetime, ``YYYY-MM-DD`` or epoch-ms value."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise TransformError(field, f"{value!r} is not a date") from None
    return _instant(field, value).date()
