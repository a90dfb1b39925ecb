"""Records as HubSpot answers them (``SimplePublicObject`` and friends).

Empty properties are omitted; ``hs_object_id``, ``createdate`` and the last-modified
property are always included; history is newest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from closedloop.emulators.hubspot.association_types import find_type
from closedloop.emulators.hubspot.object_types import ObjectType, find_object_type
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.store import HistoryEntry, Record
from closedloop.emulators.hubspot.values import iso_from_ms


def pick_properties(
    object_type: ObjectType,
    values: dict[str, str],
    requested: Iterable[str] | None,
    defaults: Iterable[str],
) -> dict[str, str]:
    """The requested (or default) non-empty values, plus the always-present ones."""
    names = list(requested) if requested is not None else list(defaults)
    names += ["hs_object_id", "createdate", object_type.modified_property]
    return {name: values[name] for name in names if values.get(name)}


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    """One ``ValueWithTimestamp``."""
    body: dict[str, Any] = {
        "value": entry.value,
        "timestamp": iso_from_ms(entry.timestamp_ms),
        "sourceType": entry.source.source_type,
    }
    if entry.source.source_id is not None:
        body["sourceId"] = entry.source.source_id
    if entry.source.source_label is not None:
        body["sourceLabel"] = entry.source.source_label
    return body


def record_json(
    object_type: ObjectType,
    record: Record,
    *,
    properties: Iterable[str] | None = None,
    with_history: Iterable[str] | None = None,
    defaults: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A record's wire form."""
    body: dict[str, Any] = {
        "id": record.id,
        "properties": pick_properties(
            object_type,
            record.properties,
            properties,
            object_type.list_properties if defaults is None else defaults,
        ),
        "createdAt": iso_from_ms(record.created_ms),
        "updatedAt": iso_from_ms(record.updated_ms),
        "archived": record.archived,
    }
    if record.archived_ms is not None:
        body["archivedAt"] = iso_from_ms(record.archived_ms)
    if with_history:
        body["propertiesWithHistory"] = {
            name: [history_json(e) for e in reversed(record.history.get(name, []))]
            for name in with_history
            if name in record.history
        }
    return body


def associations_json(
    portal: Portal, object_type: ObjectType, record: Record, to_types: Iterable[str]
) -> dict[str, Any]:
    """The ``associations`` of a v3 record read (only types with at least one link)."""
    body: dict[str, Any] = {}
    for segment in to_types:
        to_type = find_object_type(segment)
        if to_type is None:
            continue
        store = portal.store(to_type)
        results: list[dict[str, str]] = []
        targets = portal.associations.targets(object_type.name, record.id, to_type.name)
        for to_id in sorted(targets, key=int):
            if store.find(to_id) is None:
                continue
            for type_id in sorted(targets[to_id]):
                kind = find_type(object_type.name, type_id)
                results.append({"id": to_id, "type": kind.name if kind else str(type_id)})
        if results:
            body[to_type.name] = {"results": results}
    return body
