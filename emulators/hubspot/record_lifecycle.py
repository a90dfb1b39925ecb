"""Archiving, merging and GDPR-deleting records, and associating records on create.

Every function expects the caller to hold the portal lock.
"""

from __future__ import annotations

from typing import Any

from closedloop.emulators.hubspot.association_types import (
    AssociationType,
    find_type,
    resolve_spec,
)
from closedloop.emulators.hubspot.errors import not_found, validation_error
from closedloop.emulators.hubspot.object_types import ObjectType, find_object_type
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.record_writes import update_record
from closedloop.emulators.hubspot.store import Record, WriteSource


def archive_record(
    portal: Portal, object_type: ObjectType, record: Record, source: WriteSource
) -> None:
    """Move a record to the recycle bin (restorable, so not an erasure)."""
    now = portal.now_ms()
    record.archived_ms = now
    record.updated_ms = now
    portal.store(object_type).drop_unique(record)
    record.reindex(now, portal.index_lag_ms)
    portal.notify(
        f"{object_type.singular}.deletion",
        record.id,
        changeFlag="DELETED",
        changeSource=source.change_source,
        sourceId=source.source_id,
    )


def purge_record(
    portal: Portal, object_type: ObjectType, record: Record, source: WriteSource
) -> None:
    """Delete a record and its associations for good (GDPR delete)."""
    portal.associations.detach(object_type.name, record.id)
    portal.store(object_type).remove(record)
    portal.notify(
        f"{object_type.singular}.privacyDeletion",
        record.id,
        changeFlag="DELETED",
        changeSource=source.change_source,
        sourceId=source.source_id,
    )
    portal.notify(
        f"{object_type.singular}.deletion",
        record.id,
        changeFlag="DELETED",
        changeSource=source.change_source,
        sourceId=source.source_id,
    )


def merge_records(
    portal: Portal, object_type: ObjectType, primary_id: str, merged_id: str, source: WriteSource
) -> Record:
    """Merge ``merged_id`` into ``primary_id``; the primary keeps its id and its values win.

    Raises:
        HubSpotApiError: 400 when both ids are the same, 404 when either is missing.
    """
    if primary_id == merged_id:
        raise validation_error("Cannot merge an object with itself.")
    store = portal.store(object_type)
    primary, merged = store.find(primary_id), store.find(merged_id)
    if primary is None or merged is None:
        missing = primary_id if primary is None else merged_id
        raise not_found(f"Object {missing} not found", ids=[missing])
    filled = {
        name: value
        for name, value in merged.properties.items()
        if not primary.properties.get(name)
        and portal.catalog.get(object_type.name, name)
        and not portal.catalog.properties[object_type.name][name].read_only_value
        and name not in ("createdate", "email")
    }
    merged_ids = [*primary.merged_ids, merged.id, *merged.merged_ids]
    store.remove(merged)
    for old_id in [merged.id, *merged.merged_ids]:
        store.merged_into[old_id] = primary.id
    for old_id, target in list(store.merged_into.items()):
        if target == merged.id:
            store.merged_into[old_id] = primary.id
    portal.associations.move(object_type.name, merged.id, primary.id)
    primary.merged_ids = merged_ids
    extra: dict[str, str] = {"hs_merged_object_ids": ";".join(merged_ids)}
    if object_type.name == "contacts" and merged.properties.get("email"):
        emails = [e for e in primary.properties.get("hs_additional_emails", "").split(";") if e]
        extra["hs_additional_emails"] = ";".join([*emails, merged.properties["email"]])
    update_record(portal, object_type, primary, {**filled, **extra}, source)
    portal.notify(
        f"{object_type.singular}.merge",
        primary.id,
        primaryObjectId=int(primary.id),
        mergedObjectIds=[int(i) for i in merged_ids],
        newObjectId=int(primary.id),
        numberOfPropertiesMoved=len(filled),
        changeSource=source.change_source,
        sourceId=source.source_id,
    )
    return primary


def associate_on_create(
    portal: Portal, object_type: ObjectType, record: Record, inputs: list[dict[str, Any]] | None
) -> None:
    """Apply the ``associations`` of a create input.

    Raises:
        HubSpotApiError: 400 for an invalid association type or a missing target.
    """
    for item in inputs or []:
        target_id = str((item.get("to") or {}).get("id", ""))
        for spec in item.get("types") or []:
            kind = resolve_spec(object_type.name, None, spec)
            target_type = find_object_type(kind.to_type)
            if target_type is None or portal.store(target_type).find(target_id) is None:
                raise validation_error(
                    f"Unable to create association: {kind.to_type} {target_id} does not exist."
                )
            link(portal, record.id, target_id, kind)


def link(portal: Portal, from_id: str, to_id: str, kind: AssociationType) -> bool:
    """Associate two records and announce it; ``True`` when the link is new."""
    added = portal.associations.add(from_id, to_id, kind)
    if added:
        _announce(portal, from_id, to_id, kind, removed=False)
    return added


def unlink(portal: Portal, from_id: str, to_id: str, kind: AssociationType) -> bool:
    """Remove one association type between two records and announce it."""
    removed = portal.associations.remove(from_id, to_id, kind)
    if removed:
        _announce(portal, from_id, to_id, kind, removed=True)
    return removed


def _announce(
    portal: Portal, from_id: str, to_id: str, kind: AssociationType, *, removed: bool
) -> None:
    _announce_side(portal, from_id, to_id, kind, removed=removed)
    inverse = find_type(kind.to_type, kind.inverse_id)
    if inverse is not None and (inverse != kind or from_id != to_id):
        _announce_side(portal, to_id, from_id, inverse, removed=removed)


def _announce_side(
    portal: Portal, from_id: str, to_id: str, kind: AssociationType, *, removed: bool
) -> None:
    from_type, to_type = find_object_type(kind.from_type), find_object_type(kind.to_type)
    if from_type is None or to_type is None:  # pragma: no cover - types come from the table
        return
    from_singular, to_singular = from_type.singular, to_type.singular
    portal.notify(
        f"{from_singular}.associationChange",
        from_id,
        associationType=f"{from_singular}_TO_{to_singular}".upper(),
        fromObjectId=int(from_id),
        toObjectId=int(to_id),
        associationRemoved=removed,
        isPrimaryAssociation=kind.is_primary,
        changeSource="INTEGRATION",
    )
