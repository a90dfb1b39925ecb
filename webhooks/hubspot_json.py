"""Decoding a HubSpot webhook body, and the per-event checks on what JSON may carry.

:func:`load_batch` turns the raw body into the batch's elements, refusing only what makes the
batch unusable as a whole (:class:`~closedloop.webhooks.errors.PayloadError`). Numbers HubSpot
never sends (``NaN``, ``Infinity``, overflowing floats, integers of more than 20 digits),
objects with a repeated key and text PostgreSQL cannot store (NUL, unpaired surrogates) are
kept as markers, so :func:`check_storable` can reject just the event that holds them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from closedloop.webhooks.errors import PayloadError

__all__ = ["MAX_EVENTS", "InvalidEventError", "check_storable", "load_batch"]

MAX_EVENTS = 100
# Integers of at most 20 characters of JSON text, the longest HubSpot could send.
_INT_FLOOR, _INT_CEILING = -(10**19), 10**20
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# JSON can carry NUL or a lone surrogate only as a \u escape (a raw control character is invalid
# JSON, a raw surrogate invalid UTF-8), so strings need a scan only when the body holds "\u".
_ESCAPE = "\\u"
_OUT_OF_RANGE = "event holds a number outside the JSON range HubSpot sends"


class InvalidEventError(Exception):
    """The current event is invalid, for the reason in ``args[0]``."""


class _Invalid:
    """Stands in for a JSON number Python would accept but HubSpot never sends."""


class _RepeatedKeys(dict[str, Any]):
    """A JSON object in which some key appeared more than once."""


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    built = dict(pairs)
    return built if len(built) == len(pairs) else _RepeatedKeys(pairs)


def _parse_int(text: str) -> int | _Invalid:
    return int(text) if len(text) <= 20 else _Invalid()


def _parse_float(text: str) -> float | _Invalid:
    value = float(text)
    return value if abs(value) != float("inf") else _Invalid()


def _parse_constant(_: str) -> _Invalid:
    return _Invalid()


# The fast decoder parses numbers natively (the per-event check then refuses the ones HubSpot
# never sends); the strict one, used only when the fast one fails (an integer too long for
# int()), turns them into _Invalid instead, so such a number costs only its own event.
_FAST_DECODER = json.JSONDecoder(object_pairs_hook=_object_pairs)
_STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_pairs,
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_parse_constant,
)


def load_batch(body: bytes, max_bytes: int) -> tuple[list[Any], bool]:
    """The batch's elements, and whether any string may hold NUL or a lone surrogate.

    Raises:
        PayloadError: not bytes, over ``max_bytes``, not UTF-8 JSON, not an array, too deep,
            or more than :data:`MAX_EVENTS` elements.
    """
    if not isinstance(body, (bytes, bytearray)):
        raise PayloadError("body must be bytes")
    if len(body) > max_bytes:
        raise PayloadError("body too large", too_large=True)
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    try:
        try:
            data = _FAST_DECODER.decode(text)
        except ValueError:
            data = _STRICT_DECODER.decode(text)
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    except ValueError:
        raise PayloadError("body is not valid JSON") from None
    if not isinstance(data, list):
        raise PayloadError("body is not a JSON array")
    if len(data) > MAX_EVENTS:
        raise PayloadError(f"batch holds more than {MAX_EVENTS} events")
    return data, _ESCAPE in text


def check_storable(event: dict[str, Any], scan_text: bool) -> None:
    """Refuse repeated keys, numbers HubSpot never sends and (if ``scan_text``) NUL/surrogates.

    Depth first from the last value, keys after values: the first problem found (and so the
    reason given) is the same as a plain stack walk of the event would find.
    """
    if type(event) is _RepeatedKeys:
        raise InvalidEventError("event repeats a key")
    for value in reversed(event.values()):
        kind = type(value)
        if kind is int:
            if not _INT_FLOOR < value < _INT_CEILING:
                raise InvalidEventError(_OUT_OF_RANGE)
        elif kind is not str and kind is not bool and value is not None:
            _check_value(value, scan_text)
        elif scan_text and kind is str and _UNSTORABLE.search(value):
            raise InvalidEventError("event holds NUL or unpaired surrogate characters")
    if scan_text:
        _check_value(list(event), scan_text)


def _check_value(value: Any, scan_text: bool) -> None:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if scan_text and _UNSTORABLE.search(item):
                raise InvalidEventError("event holds NUL or unpaired surrogate characters")
        elif kind is int:
            if not _INT_FLOOR < item < _INT_CEILING:
                raise InvalidEventError(_OUT_OF_RANGE)
        elif kind is dict:
            if scan_text:
                stack.extend(item.keys())
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is float:
            if not math.isfinite(item):
                raise InvalidEventError(_OUT_OF_RANGE)
        elif kind is _RepeatedKeys:
            raise InvalidEventError("event repeats a key")
        elif kind is _Invalid:
            raise InvalidEventError(_OUT_OF_RANGE)
