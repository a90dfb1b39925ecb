"""Normalised comparison keys for stored values, ids and relative date literals.

Every field type gets a *key function* mapping a stored value to something Python can
compare with ``==`` and ``<`` the way Salesforce compares it, or ``None`` for null:

- text types compare case-insensitively (``casefold``), and ``""`` is null, as in Salesforce;
- ids compare case-insensitively in their 18-character form (a 15-character id gets its
  checksum suffix first);
- datetimes become a fixed-width UTC string ``YYYY-MM-DDTHH:MM:SS.ffffff`` whose string
  order is instant order; the common stored shape ``2024-01-31T10:00:00.000+0000`` takes a
  slicing fast path and anything else is parsed once and cached;
- dates become ``YYYY-MM-DD`` strings; booleans are never null (Salesforce checkboxes).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

KeyFunction = Callable[[Any], Any]

STRING_TYPES = frozenset(
    {"string", "picklist", "email", "phone", "url", "textarea", "combobox", "encryptedstring"}
)
NUMBER_TYPES = frozenset({"double", "int", "currency", "percent", "long"})
ID_TYPES = frozenset({"id", "reference"})

_ID_RE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_ID_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def format_instant(moment: datetime) -> str:
    """The fixed-width UTC key of an aware datetime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@lru_cache(maxsize=1 << 16)
def _parse_stored_datetime(text: str) -> str | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_instant(moment)


def datetime_key(raw: Any) -> str | None:
    """Key of a stored datetime (REST string or aware ``datetime``)."""
    if isinstance(raw, str):
        if len(raw) == 28 and raw[19] == "." and raw.endswith("+0000"):
            return raw[:23] + "000"
        return _parse_stored_datetime(raw) if raw else None
    if isinstance(raw, datetime):
        return format_instant(raw if raw.tzinfo else raw.replace(tzinfo=UTC))
    return None


def date_key(raw: Any) -> str | None:
    """Key of a stored date (``YYYY-MM-DD`` string or ``date``)."""
    if isinstance(raw, datetime):
        return raw.astimezone(UTC).date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw)[:10] if raw else None


def string_key(raw: Any) -> str | None:
    """Case-insensitive key of a text value; empty text is null."""
    if raw is None or raw == "":
        return None
    return str(raw).casefold()


def number_key(raw: Any) -> int | float | None:
    """Key of a number; anything that is not a number is null."""
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        return raw
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def boolean_key(raw: Any) -> bool:
    """Key of a checkbox; Salesforce checkboxes are never null, so missing means false."""
    return bool(raw)


def id_suffix(id15: str) -> str:
    """The three-character checksum that turns a 15-character id into its 18-character form."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for offset, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << offset
        suffix += _ID_SUFFIX_ALPHABET[bits]
    return suffix


def id_key(raw: Any) -> str | None:
    """Case-insensitive key of an id, in its 18-character form."""
    if not isinstance(raw, str) or not raw:
        return None
    text: str = raw + id_suffix(raw) if len(raw) == 15 else raw
    return text.lower()


def id_literal_key(text: str) -> str | None:
    """Key of an id written in a query, or None when it is not a well-formed id."""
    return id_key(text) if _ID_RE.fullmatch(text) else None


def multipicklist_key(raw: Any) -> frozenset[str] | None:
    """Set of the selected values (case-insensitive); nothing selected is null."""
    if raw is None or raw == "":
        return None
    return frozenset(part.strip().casefold() for part in str(raw).split(";") if part.strip())


_KEYS_BY_TYPE: dict[str, tuple[KeyFunction, KeyFunction]] = {
    **dict.fromkeys(ID_TYPES, (id_key, id_key)),
    **dict.fromkeys(NUMBER_TYPES, (number_key, number_key)),
    "datetime": (datetime_key, datetime_key),
    "date": (date_key, date_key),
    "boolean": (boolean_key, boolean_key),
    "multipicklist": (multipicklist_key, string_key),
}


def key_functions(field_type: str) -> tuple[KeyFunction, KeyFunction]:
    """The (filter key, sort key) functions for a describe type; text keys by default."""
    return _KEYS_BY_TYPE.get(field_type, (string_key, string_key))


# -- relative date literals -------------------------------------------------------------
# name -> (unit, relation, fixed amount); relations: this, last, next, last_n, next_n, ago.
_FIXED_LITERALS: dict[str, tuple[str, str, int]] = {
    "YESTERDAY": ("day", "last", 1), "TODAY": ("day", "this", 0),
    "TOMORROW": ("day", "next", 1), "LAST_90_DAYS": ("day", "last_n", 90),
    "NEXT_90_DAYS": ("day", "next_n", 90),
    **{f"{word}_{unit.upper()}": (unit, relation, 1)
       for unit in ("week", "month", "quarter", "year")
       for word, relation in (("LAST", "last"), ("THIS", "this"), ("NEXT", "next"))},
}  # fmt: skip
_PARAMETRIC_LITERALS: dict[str, tuple[str, str]] = {
    name: (unit, relation)
    for unit in ("day", "week", "month", "quarter", "year")
    for name, relation in (
        (f"LAST_N_{unit.upper()}S", "last_n"),
        (f"NEXT_N_{unit.upper()}S", "next_n"),
        (f"N_{unit.upper()}S_AGO", "ago"),
    )
}
FIXED_DATE_LITERALS = frozenset(_FIXED_LITERALS)
PARAMETRIC_DATE_LITERALS = frozenset(_PARAMETRIC_LITERALS)


def _unit_start(today: date, unit: str) -> date:
    if unit == "week":  # en_US locale: weeks start on Sunday
        return today - timedelta(days=(today.weekday() + 1) % 7)
    if unit == "month":
        return today.replace(day=1)
    if unit == "quarter":
        return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return today.replace(month=1, day=1)
    return today


def _shift(start: date, unit: str, count: int) -> date:
    if unit in {"day", "week"}:
        return start + timedelta(days=count * (7 if unit == "week" else 1))
    months = count * {"month": 1, "quarter": 3, "year": 12}[unit]
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def date_literal_range(name: str, amount: int | None, today: date) -> tuple[date, date]:
    """The half-open day range ``[start, end)`` a relative date literal stands for.

    Args:
        name: the literal's name, upper case (``THIS_MONTH``, ``LAST_N_DAYS``...).
        amount: the ``n`` of a parametric literal, None otherwise.
        today: the current UTC date.

    Returns:
        The first day in the range and the first day after it.
    """
    if name in _FIXED_LITERALS:
        unit, relation, amount = _FIXED_LITERALS[name]
    else:
        unit, relation = _PARAMETRIC_LITERALS[name]
    count = amount or 0
    start = _unit_start(today, unit)
    if relation == "last_n" and unit == "day":  # LAST_N_DAYS includes today
        return start - timedelta(days=count), start + timedelta(days=1)
    spans = {
        "this": (0, 1),
        "last": (-1, 0),
        "next": (1, 2),
        "last_n": (-count, 0),
        "next_n": (1, 1 + count),
        "ago": (-count, 1 - count),
    }
    first, after = spans[relation]
    return _shift(start, unit, first), _shift(start, unit, after)


def range_keys(field_type: str, span: tuple[date, date]) -> tuple[str, str]:
    """The date range as keys comparable with the field's key (date or datetime)."""
    if field_type == "date":
        return span[0].isoformat(), span[1].isoformat()
    start, end = (datetime.combine(day, time(), UTC) for day in span)
    return format_instant(start), format_instant(end)
