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

Each accepted event gets ``dedupe_key``: a SHA-256 over the content key of reliability.md §1,
``(subscriptionId, objectId, occurredAt, propertyName, propertyValue)``, plus ``portalId`` (so the
key is unique across installing accounts) and, for association and merge events, which carry no
``objectId``, their ``fromObjectId``/``toObjectId``/``associationType``/``associationRemoved`` and
``primaryObjectId``/``mergedObjectIds``/``newObjectId`` fields. ``eventId`` is left out on purpose:
HubSpot says it is not guaranteed unique.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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
_IDENTITY_INTS = ("objectId", "fromObjectId", "toObjectId", "primaryObjectId", "newObjectId")
_OPTIONAL_TEXT = (
    "propertyName", "propertyValue", "changeSource", "changeFlag", "sourceId", "objectTypeId",
    "associationType",
)  # fmt: skip
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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


def _number_hooks() -> dict[str, Any]:
    def parse_int(text: str) -> int | _Invalid:
        return int(text) if len(text) <= 20 else _Invalid()

    def parse_float(text: str) -> float | _Invalid:
        value = float(text)
        return value if abs(value) != float("inf") else _Invalid()

    def parse_constant(_: str) -> _Invalid:
        return _Invalid()

    def object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        cls = _RepeatedKeys if len({key for key, _ in pairs}) != len(pairs) else dict
        return cls(pairs)

    return {
        "parse_int": parse_int,
        "parse_float": parse_float,
        "parse_constant": parse_constant,
        "object_pairs_hook": object_pairs,
    }


def _load(body: bytes, max_bytes: int) -> list[Any]:
    if not isinstance(body, (bytes, bytearray)):
        raise PayloadError("body must be bytes")
    if len(body) > max_bytes:
        raise PayloadError("body too large", too_large=True)
    try:
        data = json.loads(bytes(body).decode("utf-8"), **_number_hooks())
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    except ValueError:
        raise PayloadError("body is not valid JSON") from None
    if not isinstance(data, list):
        raise PayloadError("body is not a JSON array")
    if len(data) > MAX_EVENTS:
        raise PayloadError(f"batch holds more than {MAX_EVENTS} events")
    return data


def _check_storable(event: dict[str, Any]) -> None:
    stack: list[Any] = [event]
    while stack:
        item = stack.pop()
        if isinstance(item, _RepeatedKeys):
            raise _InvalidEventError("event repeats a key")
        if isinstance(item, _Invalid):
            raise _InvalidEventError("event holds a number outside the JSON range HubSpot sends")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _UNSTORABLE.search(item):
            raise _InvalidEventError("event holds NUL or unpaired surrogate characters")


def _int(event: dict[str, Any], key: str) -> int | None:
    return None if event.get(key) is None else _required_int(event, key)


def _required_int(event: dict[str, Any], key: str) -> int:
    value = event.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _InvalidEventError(f"{key} is missing or not an integer")
    if not 0 <= value <= _MAX_ID:
        raise _InvalidEventError(f"{key} is out of range")
    return value


def _text(event: dict[str, Any], key: str) -> str | None:
    value = event.get(key)
    if value is not None and not isinstance(value, str):
        raise _InvalidEventError(f"{key} is not a string")
    return value


def _validate(index: int, event: object) -> HubSpotEvent:
    if not isinstance(event, dict):
        raise _InvalidEventError("event is not a JSON object")
    _check_storable(event)
    kind = event.get("subscriptionType", event.get("eventType"))
    if not isinstance(kind, str) or not _TYPE.fullmatch(kind):
        raise _InvalidEventError("subscriptionType is missing or malformed")
    event_id, subscription_id = (
        _required_int(event, "eventId"),
        _required_int(event, "subscriptionId"),
    )
    portal_id, occurred_at = _required_int(event, "portalId"), _required_int(event, "occurredAt")
    _int(event, "appId")
    attempt = _int(event, "attemptNumber") or 0
    identity: dict[str, Any] = {key: _int(event, key) for key in _IDENTITY_INTS}
    texts = {key: _text(event, key) for key in _OPTIONAL_TEXT}
    merged = event.get("mergedObjectIds")
    if merged is not None and not (
        isinstance(merged, list) and all(type(item) is int for item in merged)
    ):
        raise _InvalidEventError("mergedObjectIds is not a list of integers")
    removed = event.get("associationRemoved")
    if removed is not None and not isinstance(removed, bool):
        raise _InvalidEventError("associationRemoved is not a boolean")
    has_pair = identity["fromObjectId"] is not None and identity["toObjectId"] is not None
    if identity["objectId"] is None and not has_pair and identity["primaryObjectId"] is None:
        raise _InvalidEventError("objectId is missing")
    if kind.endswith(".propertyChange") and texts["propertyName"] is None:
        raise _InvalidEventError("propertyName is missing on a propertyChange event")
    identity.update(
        mergedObjectIds=merged, associationType=texts["associationType"], associationRemoved=removed
    )
    key_parts = [
        portal_id,
        subscription_id,
        {k: v for k, v in identity.items() if v is not None},
        occurred_at,
        texts["propertyName"],
        texts["propertyValue"],
    ]
    canonical = json.dumps(key_parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return HubSpotEvent(
        index=index,
        event_id=event_id,
        subscription_id=subscription_id,
        portal_id=portal_id,
        occurred_at_ms=occurred_at,
        subscription_type=kind,
        attempt_number=attempt,
        object_id=identity["objectId"],
        property_name=texts["propertyName"],
        property_value=texts["propertyValue"],
        dedupe_key="hs1:" + hashlib.sha256(canonical.encode("ascii")).hexdigest(),
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
    for index, item in enumerate(_load(body, max_bytes)):
        try:
            events.append(_validate(index, item))
        except _InvalidEventError as rejected:
            rejections.append(EventRejection(index, str(rejected)))
    return HubSpotBatch(tuple(events), tuple(rejections))
