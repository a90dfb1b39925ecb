"""Writing CRM records as HubSpot does: validation, history, timestamps, derived values, events.

Every function expects the caller to hold the portal lock.
"""

from __future__ import annotations

from typing import Any

from closedloop.emulators.hubspot.derived_values import derive
from closedloop.emulators.hubspot.errors import (
    HubSpotApiError,
    conflict,
    invalid_properties,
    property_issue,
)
from closedloop.emulators.hubspot.object_types import ObjectType
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.store import HistoryEntry, Record, WriteSource
from closedloop.emulators.hubspot.values import InvalidValueError, iso_from_ms, normalise_value

CALCULATED = WriteSource("CALCULATED", None, None, "HUBSPOT_INTERNAL")
SYSTEM_PROPERTIES = frozenset({"hs_object_id", "lastmodifieddate", "hs_lastmodifieddate"})


def check_properties(
    portal: Portal,
    object_type: ObjectType,
    raw: dict[str, Any] | None,
    *,
    current: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Normalised values and the ``errors[]`` issues HubSpot would report for them."""
    values: dict[str, str] = {}
    issues: list[dict[str, Any]] = []
    for name, raw_value in (raw or {}).items():
        definition = portal.catalog.get(object_type.name, name)
        if definition is None:
            issues.append(
                property_issue(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
            continue
        if definition.read_only_value and name != "createdate":
            issues.append(
                property_issue(name, "READ_ONLY_VALUE", f'Property "{name}" is read-only')
            )
            continue
        try:
            values[name] = normalise_value(definition, raw_value)
        except InvalidValueError as error:
            issues.append(property_issue(name, error.code, error.message))
    if object_type.name == "deals":
        issues.extend(_check_stage(portal, values, current or {}))
    if object_type.name == "contacts" and values.get("email"):
        values["email"] = values["email"].lower()
    return values, issues


def _check_stage(portal: Portal, values: dict[str, str], current: dict[str, str]) -> list[Any]:
    if "pipeline" not in values and "dealstage" not in values:
        return []
    pipeline_id = values.get("pipeline") or current.get("pipeline") or "default"
    stage_id = values.get("dealstage", current.get("dealstage", ""))
    if portal.pipelines.find_stage(pipeline_id, stage_id) is None:
        message = f"{stage_id} was not one of the allowed options for pipeline {pipeline_id}"
        return [property_issue("dealstage", "INVALID_OPTION", message)]
    return []


def require_valid(
    portal: Portal,
    object_type: ObjectType,
    raw: dict[str, Any] | None,
    *,
    current: dict[str, str] | None = None,
) -> dict[str, str]:
    """Normalised values.

    Raises:
        HubSpotApiError: the 400 HubSpot answers when any value is invalid.
    """
    values, issues = check_properties(portal, object_type, raw, current=current)
    if issues:
        raise invalid_properties(issues)
    return values


def check_create_rules(object_type: ObjectType, values: dict[str, str]) -> list[dict[str, Any]]:
    """Issues for properties a new record of this type must have."""
    required: tuple[str, ...] = ()
    if object_type.name == "deals":
        required = ("dealname", "dealstage")
    elif object_type.name == "companies" and not (values.get("name") or values.get("domain")):
        required = ("name",)
    return [
        property_issue(name, "REQUIRED_FIELD", f'Property "{name}" is required')
        for name in required
        if not values.get(name)
    ]


def check_unique(
    portal: Portal, object_type: ObjectType, values: dict[str, str], record_id: str | None
) -> None:
    """Refuse a value another record already holds in a unique property.

    Raises:
        HubSpotApiError: 409 ``CONFLICT`` naming the existing record.
    """
    store = portal.store(object_type)
    for name in portal.catalog.unique_names(object_type.name):
        value = values.get(name)
        if not value:
            continue
        other = store.find_unique(name, value)
        if other is not None and other.id != record_id:
            if name == "email":
                raise conflict(f"Contact already exists. Existing ID: {other.id}")
            raise conflict(
                f"A {object_type.singular} with {name}={value} already exists. "
                f"Existing ID: {other.id}"
            )


def create_record(
    portal: Portal, object_type: ObjectType, values: dict[str, str], source: WriteSource
) -> Record:
    """Create a record from checked values (see :func:`require_valid`)."""
    issues = check_create_rules(object_type, values)
    if issues:
        raise invalid_properties(issues)
    check_unique(portal, object_type, values, None)
    store = portal.store(object_type)
    now = portal.now_ms()
    record = Record(store.new_id(), object_type.name, now, now)
    store.add(record)
    initial = {"hs_object_id": record.id, "createdate": iso_from_ms(now)}
    if object_type.name == "deals" and "pipeline" not in values:
        initial["pipeline"] = "default"
    initial.update(_source_values(source))
    _write(portal, object_type, record, initial, CALCULATED, now)
    changed = _write(portal, object_type, record, values, source, now)
    _finish(portal, object_type, record, changed | set(initial), now)
    portal.notify(
        f"{object_type.singular}.creation",
        record.id,
        changeFlag="CREATED",
        changeSource=source.change_source,
        sourceId=source.source_id,
    )
    _notify_changes(portal, object_type, record, changed | set(initial), source)
    return record


def update_record(
    portal: Portal,
    object_type: ObjectType,
    record: Record,
    values: dict[str, str],
    source: WriteSource,
) -> set[str]:
    """Apply checked values; the names that actually changed."""
    check_unique(portal, object_type, values, record.id)
    now = portal.now_ms()
    changed = _write(portal, object_type, record, values, source, now)
    if changed:
        _finish(portal, object_type, record, changed, now)
        _notify_changes(portal, object_type, record, changed, source)
    return changed


def touch(portal: Portal, object_type: ObjectType, record: Record, timestamp_ms: int) -> None:
    """Set a record's last-modified time without changing any value (admin helper)."""
    record.updated_ms = timestamp_ms
    record.properties[object_type.modified_property] = iso_from_ms(timestamp_ms)
    record.reindex(portal.now_ms(), portal.index_lag_ms)


def _source_values(source: WriteSource) -> dict[str, str]:
    label = {"INTEGRATION": "Integration", "API": "API", "IMPORT": "Import"}.get(
        source.source_type, source.source_type.replace("_", " ").title()
    )
    values = {"hs_object_source": source.source_type, "hs_object_source_label": label}
    if source.source_id:
        values["hs_object_source_id"] = source.source_id
    if source.source_type in ("INTEGRATION", "API", "IMPORT"):
        values.update(
            hs_analytics_source="OFFLINE",
            hs_analytics_source_data_1=source.source_type,
            hs_analytics_source_data_2=source.source_id or "",
        )
    return values


def _write(
    portal: Portal,
    object_type: ObjectType,
    record: Record,
    values: dict[str, str],
    source: WriteSource,
    now: int,
) -> set[str]:
    store = portal.store(object_type)
    unique = portal.catalog.unique_names(object_type.name)
    changed: set[str] = set()
    for name, value in values.items():
        old = record.properties.get(name, "")
        if value == old:
            continue
        if value:
            record.properties[name] = value
        else:
            record.properties.pop(name, None)
        if name not in SYSTEM_PROPERTIES:
            record.history.setdefault(name, []).append(HistoryEntry(value, now, source))
        if name in unique:
            store.index_unique(record, name, old, value)
        changed.add(name)
    return changed


def _finish(
    portal: Portal, object_type: ObjectType, record: Record, changed: set[str], now: int
) -> None:
    derived = derive(object_type.name, record.properties, changed, portal.pipelines, now)
    changed |= _write(portal, object_type, record, derived, CALCULATED, now)
    record.updated_ms = now
    record.properties[object_type.modified_property] = iso_from_ms(now)
    record.reindex(now, portal.index_lag_ms)


def _notify_changes(
    portal: Portal, object_type: ObjectType, record: Record, changed: set[str], source: WriteSource
) -> None:
    for name in sorted(changed - SYSTEM_PROPERTIES):
        portal.notify(
            f"{object_type.singular}.propertyChange",
            record.id,
            propertyName=name,
            propertyValue=record.properties.get(name, ""),
            changeSource=source.change_source,
            sourceId=source.source_id,
        )


def reject_on_issues(issues: list[dict[str, Any]]) -> None:
    """Raise the 400 for a non-empty issue list.

    Raises:
        HubSpotApiError: when ``issues`` is not empty.
    """
    if issues:
        error: HubSpotApiError = invalid_properties(issues)
        raise error
