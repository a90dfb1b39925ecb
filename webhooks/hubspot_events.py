"""Parse and validate a HubSpot webhook batch (a JSON array of at most 100 events).

Only a batch that is unusable as a whole raises :class:`~closedloop.webhooks.errors.PayloadError`
(not UTF-8 JSON, not an array, more than 100 elements, nested too deeply, over the size limit).
Everything else is judged per event: a bad event becomes an :class:`EventRejection` carrying its
index and a reason, and never costs its batch-mates their place. Numbers HubSpot never sends
(``NaN``, ``Infinity``, overflowing floats, integers of more than 20 digits) and objects with a
repeated key are likewise rejected per event, as is text PostgreSQL cannot store (NUL, unpaired
surrogates).

Call this only after the signature was verified, on the same raw bytes. HubSpot retries a whole
batch on any 4xx/5xx, so the listener answers 2xx for a batch with rejected events (and logs the
reasons), and 400 only for a :class:`PayloadError`.

Each accepted event gets ``dedupe_key``: its ``occurredAt`` (so keys arrive in index order),
then a SHA-256 over the content key of reliability.md §1,
``(subscriptionId, objectId, occurredAt, propertyName, propertyValue)``, plus ``portalId`` (so the
key is unique across installing accounts) and, for association and merge events, which carry no
``objectId``, their ``fromObjectId``/``toObjectId``/``associationType``/``associationRemoved`` and
``primaryObjectId``/``mergedObjectIds``/``newObjectId`` fields. ``eventId`` is left out on purpose:
HubSpot says it is not guaranteed unique.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any

from closedloop.webhooks.errors import PayloadError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_EVENTS",
    "EventRejection",
    "HubSpotBatch",
    "HubSpotEvent",
    "parse_hubspot_batch",
]

MAX_EVENTS = 100
DEFAULT_MAX_BYTES = 1_048_576

_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*")
_MAX_ID = 2**63 - 1
# Integers of at most 20 characters of JSON text, the longest HubSpot could send.
_INT_FLOOR, _INT_CEILING = -(10**19), 10**20
_REQUIRED_INTS = ("eventId", "subscriptionId", "portalId", "occurredAt")
_IDENTITY_INTS = ("objectId", "fromObjectId", "toObjectId", "primaryObjectId", "newObjectId")
# Every integer field, in the order they are checked (so is the reason of a rejection).
_CHECKED_INTS = (*_REQUIRED_INTS, "appId", "attemptNumber", *_IDENTITY_INTS)
# The fields that name what an event is about, sorted (as json.dumps(sort_keys=True) would).
_KEYED = tuple(
    sorted((*_IDENTITY_INTS, "mergedObjectIds", "associationType", "associationRemoved"))
)
_QUOTED = {key: encode_basestring_ascii(key) for key in _KEYED}
_OPTIONAL_TEXT = (
    "propertyName", "propertyValue", "changeSource", "changeFlag", "sourceId", "objectTypeId",
    "associationType",
)  # fmt: skip
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# JSON can carry NUL or a lone surrogate only as a \u escape (a raw control character is invalid
# JSON, a raw surrogate invalid UTF-8), so strings need a scan only when the body holds "\u".
_ESCAPE = "\\u"
_OUT_OF_RANGE = "event holds a number outside the JSON range HubSpot sends"


class _Invalid:
    """Stands in for a JSON number Python would accept but HubSpot never sends."""


class _RepeatedKeys(dict[str, Any]):
    """A JSON object in which some key appeared more than once."""


@dataclass(frozen=True)
class HubSpotEvent:
    """One validated event; ``raw`` is the JSON object as received, for the inbox payload."""

    index: int
    event_id: int
    subscription_id: int
    portal_id: int
    occurred_at_ms: int
    subscription_type: str
    attempt_number: int
    object_id: int | None
    property_name: str | None
    property_value: str | None = field(repr=False)
    dedupe_key: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class EventRejection:
    """Why the element at ``index`` of the batch was not accepted (no payload data inside)."""

    index: int
    reason: str


@dataclass(frozen=True)
class HubSpotBatch:
    """The accepted events, in batch order, and one rejection per refused element."""

    events: tuple[HubSpotEvent, ...]
    rejections: tuple[EventRejection, ...]


class _InvalidEventError(Exception):
    """Internal: the current event is invalid for ``args[0]``."""


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


def _load(body: bytes, max_bytes: int) -> tuple[list[Any], bool]:
    """The batch's elements, and whether any string may hold NUL or a lone surrogate."""
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


def _check_storable(event: dict[str, Any], scan_text: bool) -> None:
    """Refuse repeated keys, numbers HubSpot never sends and (if ``scan_text``) NUL/surrogates.

    Depth first from the last value, keys after values: the first problem found (and so the
    reason given) is the same as a plain stack walk of the event would find.
    """
    if type(event) is _RepeatedKeys:
        raise _InvalidEventError("event repeats a key")
    for value in reversed(event.values()):
        kind = type(value)
        if kind is int:
            if not _INT_FLOOR < value < _INT_CEILING:
                raise _InvalidEventError(_OUT_OF_RANGE)
        elif kind is not str and kind is not bool and value is not None:
            _check_value(value, scan_text)
        elif scan_text and kind is str and _UNSTORABLE.search(value):
            raise _InvalidEventError("event holds NUL or unpaired surrogate characters")
    if scan_text:
        _check_value(list(event), scan_text)


def _check_value(value: Any, scan_text: bool) -> None:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if scan_text and _UNSTORABLE.search(item):
                raise _InvalidEventError("event holds NUL or unpaired surrogate characters")
        elif kind is int:
            if not _INT_FLOOR < item < _INT_CEILING:
                raise _InvalidEventError(_OUT_OF_RANGE)
        elif kind is dict:
            if scan_text:
                stack.extend(item.keys())
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is float:
            if not math.isfinite(item):
                raise _InvalidEventError(_OUT_OF_RANGE)
        elif kind is _RepeatedKeys:
            raise _InvalidEventError("event repeats a key")
        elif kind is _Invalid:
            raise _InvalidEventError(_OUT_OF_RANGE)


def _int(value: Any, key: str) -> int:
    if type(value) is not int:
        raise _InvalidEventError(f"{key} is missing or not an integer")
    if not 0 <= value <= _MAX_ID:
        raise _InvalidEventError(f"{key} is out of range")
    return value


def _checked_type(event: dict[str, Any]) -> str:
    """Check every known field of ``event`` (in a fixed order); its subscription type."""
    get = event.get
    kind = event["subscriptionType"] if "subscriptionType" in event else get("eventType")
    if type(kind) is not str or not _TYPE.fullmatch(kind):
        raise _InvalidEventError("subscriptionType is missing or malformed")
    for key in _CHECKED_INTS:
        value = get(key)
        bad = type(value) is not int or not 0 <= value <= _MAX_ID
        if bad and (value is not None or key in _REQUIRED_INTS):
            _int(value, key)
    for key in _OPTIONAL_TEXT:
        value = get(key)
        if value is not None and type(value) is not str:
            raise _InvalidEventError(f"{key} is not a string")
    merged = get("mergedObjectIds")
    if merged is not None and not (
        type(merged) is list and all(type(item) is int for item in merged)
    ):
        raise _InvalidEventError("mergedObjectIds is not a list of integers")
    removed = get("associationRemoved")
    if removed is not None and type(removed) is not bool:
        raise _InvalidEventError("associationRemoved is not a boolean")
    has_pair = get("fromObjectId") is not None and get("toObjectId") is not None
    if get("objectId") is None and not has_pair and get("primaryObjectId") is None:
        raise _InvalidEventError("objectId is missing")
    if get("propertyName") is None and kind.endswith(".propertyChange"):
        raise _InvalidEventError("propertyName is missing on a propertyChange event")
    return kind


def _json(value: str | int | bool | list[int] | None) -> str:
    """``value`` as json.dumps(..., ensure_ascii=True) writes it (the types _validate allows)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is str:
        return encode_basestring_ascii(value)
    if type(value) is list:
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def _dedupe_key(event: dict[str, Any]) -> str:
    """``hs2:<occurredAt, 13 digits>:<SHA-256 of the content key>`` (compact, key-sorted JSON).

    The time prefix keeps the inbox's unique index growing at its right edge: events arrive
    roughly in occurrence order, so a batch's keys land on a few adjacent index pages instead
    of one random page each (a redelivery carries the same ``occurredAt``, hence the same key).
    """
    get = event.get
    identity = []
    for key in _KEYED:
        value = get(key)
        if value is not None:
            identity.append(f"{_QUOTED[key]}:{value if type(value) is int else _json(value)}")
    name, value = _json(get("propertyName")), _json(get("propertyValue"))
    parts = f"{event['portalId']},{event['subscriptionId']},{{{','.join(identity)}}}"
    canonical = f"[{parts},{event['occurredAt']},{name},{value}]"
    digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()
    return f"hs2:{event['occurredAt']:013d}:{digest}"


def _validate(index: int, event: object, scan_text: bool) -> HubSpotEvent:
    if not isinstance(event, dict):
        raise _InvalidEventError("event is not a JSON object")
    _check_storable(event, scan_text)
    kind = _checked_type(event)
    get = event.get
    return HubSpotEvent(
        index=index,
        event_id=event["eventId"],
        subscription_id=event["subscriptionId"],
        portal_id=event["portalId"],
        occurred_at_ms=event["occurredAt"],
        subscription_type=kind,
        attempt_number=get("attemptNumber") or 0,
        object_id=get("objectId"),
        property_name=get("propertyName"),
        property_value=get("propertyValue"),
        dedupe_key=_dedupe_key(event),
        raw=event,
    )


def parse_hubspot_batch(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> HubSpotBatch:
    """Parse a HubSpot webhook body into accepted events and per-index rejections.

    Args:
        body: the raw request body, exactly as received (and as verified).
        max_bytes: refuse larger bodies before parsing them.

    Returns:
        The accepted events in batch order and one rejection per refused element. Duplicates
        inside the batch are all returned; the inbox's unique key on ``dedupe_key`` absorbs them.

    Raises:
        PayloadError: the batch as a whole is unusable (``too_large`` set for the size limit).
    """
    events: list[HubSpotEvent] = []
    rejections: list[EventRejection] = []
    items, scan_text = _load(body, max_bytes)
    for index, item in enumerate(items):
        try:
            events.append(_validate(index, item, scan_text))
        except _InvalidEventError as rejected:
            rejections.append(EventRejection(index, str(rejected)))
    return HubSpotBatch(tuple(events), tuple(rejections))
