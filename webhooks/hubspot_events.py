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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any

from closedloop.webhooks.hubspot_json import (
    MAX_EVENTS,
    InvalidEventError,
    check_storable,
    load_batch,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_EVENTS",
    "EventRejection",
    "HubSpotBatch",
    "HubSpotEvent",
    "parse_hubspot_batch",
]

DEFAULT_MAX_BYTES = 1_048_576

_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*")
_MAX_ID = 2**63 - 1
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


def _int(value: Any, key: str) -> int:
    if type(value) is not int:
        raise InvalidEventError(f"{key} is missing or not an integer")
    if not 0 <= value <= _MAX_ID:
        raise InvalidEventError(f"{key} is out of range")
    return value


def _checked_type(event: dict[str, Any]) -> str:
    """Check every known field of ``event`` (in a fixed order); its subscription type."""
    get = event.get
    kind = event["subscriptionType"] if "subscriptionType" in event else get("eventType")
    if type(kind) is not str or not _TYPE.fullmatch(kind):
        raise InvalidEventError("subscriptionType is missing or malformed")
    for key in _CHECKED_INTS:
        value = get(key)
        bad = type(value) is not int or not 0 <= value <= _MAX_ID
        if bad and (value is not None or key in _REQUIRED_INTS):
            _int(value, key)
    for key in _OPTIONAL_TEXT:
        value = get(key)
        if value is not None and type(value) is not str:
            raise InvalidEventError(f"{key} is not a string")
    merged = get("mergedObjectIds")
    if merged is not None and not (
        type(merged) is list and all(type(item) is int for item in merged)
    ):
        raise InvalidEventError("mergedObjectIds is not a list of integers")
    removed = get("associationRemoved")
    if removed is not None and type(removed) is not bool:
        raise InvalidEventError("associationRemoved is not a boolean")
    has_pair = get("fromObjectId") is not None and get("toObjectId") is not None
    if get("objectId") is None and not has_pair and get("primaryObjectId") is None:
        raise InvalidEventError("objectId is missing")
    if get("propertyName") is None and kind.endswith(".propertyChange"):
        raise InvalidEventError("propertyName is missing on a propertyChange event")
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
        raise InvalidEventError("event is not a JSON object")
    check_storable(event, scan_text)
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
    items, scan_text = load_batch(body, max_bytes)
    for index, item in enumerate(items):
        try:
            events.append(_validate(index, item, scan_text))
        except InvalidEventError as rejected:
            rejections.append(EventRejection(index, str(rejected)))
    return HubSpotBatch(tuple(events), tuple(rejections))
