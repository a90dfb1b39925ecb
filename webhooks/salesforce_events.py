"""Parse the JSON change events Salesforce Apex and Flow callouts post to closedloop.

The body is either one event object or ``{"events": [event, ...]}`` with at most 100 events::

    {"events": [{"object": "Opportunity", "id": "006Hn00000AbCdEIAV",
                 "change_type": "updated", "changed_fields": ["StageName"],
                 "occurred_at": "2026-01-05T10:00:00Z", "event_id": "a0B...-1"}]}

``object`` (an sObject API name) and ``id`` (a 15- or 18-character record id) are required;
``change_type`` (``created``, ``updated``, ``deleted``, ``undeleted``; default ``updated``),
``changed_fields`` (field API names), ``occurred_at`` (ISO 8601 with an offset) and
``event_id`` (the sender's unique id of the change, at most 255 printable characters) are
optional. As for HubSpot batches, only an unusable body raises
:class:`~closedloop.webhooks.errors.PayloadError`; a bad event becomes an
:class:`~closedloop.webhooks.hubspot_events.EventRejection` and its batch-mates are kept.

Dedupe keys: ``event_id`` when the event has one; else the Standard Webhooks ``webhook-id`` of
the request plus the event's index (retries repeat both); else, for Flow callouts, the event's
content plus its ``occurred_at``, or, without that, the time of receipt, so two real changes
are never merged into one (a retried Flow callout without either id may then be processed
twice, which is harmless: processing re-reads the record).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from closedloop.webhooks.errors import PayloadError
from closedloop.webhooks.hubspot_events import MAX_EVENTS, EventRejection

__all__ = ["SalesforceChange", "SalesforceChangeBatch", "parse_salesforce_events"]

CHANGE_TYPES = ("created", "updated", "deleted", "undeleted")
_OBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_ALLOWED_KEYS = {"object", "id", "event_id", "change_type", "changed_fields", "occurred_at"}


@dataclass(frozen=True)
class SalesforceChange:
    """One validated change event."""

    index: int
    object_type: str
    record_id: str
    change_type: str
    changed_fields: tuple[str, ...]
    occurred_at: datetime | None
    event_id: str | None

    def as_json(self) -> dict[str, Any]:
        """The normalised event, as stored in the inbox payload."""
        return {
            "object": self.object_type,
            "id": self.record_id,
            "change_type": self.change_type,
            "changed_fields": list(self.changed_fields),
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "event_id": self.event_id,
        }

    def dedupe_key(self, source: str, message_id: str | None, received_ms: int) -> str:
        """The inbox key of this event (see the module docstring)."""
        if self.event_id is not None:
            parts: list[Any] = [source, "event", self.event_id]
        elif message_id is not None:
            parts = [source, "message", message_id, self.index]
        else:
            stamp = self.occurred_at.isoformat() if self.occurred_at else received_ms
            parts = [source, "content", self.as_json(), stamp]
        canonical = json.dumps(parts, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
        return "sfe1:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class SalesforceChangeBatch:
    """The accepted events in body order, and one rejection per refused element."""

    events: tuple[SalesforceChange, ...]
    rejections: tuple[EventRejection, ...]


class _InvalidEventError(Exception):
    """Internal: the current event is invalid for ``args[0]``."""


def _reject_constant(_: str) -> None:
    raise ValueError("NaN and Infinity are not JSON")


def _load(body: bytes, max_bytes: int) -> list[Any]:
    if not isinstance(body, (bytes, bytearray)):
        raise PayloadError("body must be bytes")
    if len(body) > max_bytes:
        raise PayloadError("body too large", too_large=True)
    try:
        data = json.loads(bytes(body).decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    except RecursionError:
        raise PayloadError("body is nested too deeply") from None
    except ValueError:
        raise PayloadError("body is not valid JSON") from None
    if isinstance(data, dict) and "events" in data:
        if set(data) != {"events"} or not isinstance(data["events"], list):
            raise PayloadError('expected {"events": [...]} or one event object')
        data = data["events"]
    elif isinstance(data, dict):
        data = [data]
    else:
        raise PayloadError('expected {"events": [...]} or one event object')
    if not data or len(data) > MAX_EVENTS:
        raise PayloadError(f"expected 1 to {MAX_EVENTS} events")
    return data


def _text(event: dict[str, Any], key: str, pattern: re.Pattern[str], required: bool) -> str | None:
    value = event.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _InvalidEventError(f"{key} is missing or malformed")
    return value


def _occurred_at(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise _InvalidEventError("occurred_at is not an ISO 8601 timestamp")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise _InvalidEventError("occurred_at is not an ISO 8601 timestamp") from None
    if stamp.utcoffset() is None:
        raise _InvalidEventError("occurred_at has no UTC offset")
    return stamp


def _validate(index: int, event: object) -> SalesforceChange:
    if not isinstance(event, dict):
        raise _InvalidEventError("event is not a JSON object")
    unknown = set(event) - _ALLOWED_KEYS
    if unknown:
        raise _InvalidEventError("event holds unknown keys")
    object_type = _text(event, "object", _OBJECT, True)
    record_id = _text(event, "id", _RECORD_ID, True)
    change_type = event.get("change_type", "updated")
    if change_type not in CHANGE_TYPES:
        raise _InvalidEventError("change_type is not one of " + ", ".join(CHANGE_TYPES))
    fields = event.get("changed_fields", [])
    if not isinstance(fields, list) or len(fields) > 500:
        raise _InvalidEventError("changed_fields is not a list of field names")
    if not all(isinstance(f, str) and _FIELD.fullmatch(f) for f in fields):
        raise _InvalidEventError("changed_fields is not a list of field names")
    event_id = event.get("event_id")
    if event_id is not None and not (
        isinstance(event_id, str)
        and 0 < len(event_id) <= 255
        and event_id.isascii()
        and event_id.isprintable()
    ):
        raise _InvalidEventError("event_id is not 1 to 255 printable ASCII characters")
    return SalesforceChange(
        index=index,
        object_type=str(object_type),
        record_id=str(record_id),
        change_type=str(change_type),
        changed_fields=tuple(fields),
        occurred_at=_occurred_at(event.get("occurred_at")),
        event_id=event_id,
    )


def parse_salesforce_events(body: bytes, *, max_bytes: int) -> SalesforceChangeBatch:
    """Parse a change-event body into accepted events and per-index rejections.

    Raises:
        PayloadError: the body as a whole is unusable (``too_large`` set for the size limit).
    """
    events: list[SalesforceChange] = []
    rejections: list[EventRejection] = []
    for index, item in enumerate(_load(body, max_bytes)):
        try:
            events.append(_validate(index, item))
        except _InvalidEventError as rejected:
            rejections.append(EventRejection(index, str(rejected)))
    return SalesforceChangeBatch(tuple(events), tuple(rejections))
