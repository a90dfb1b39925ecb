"""CRM v3 batch endpoints: read, create, update, upsert, archive (at most 100 inputs each).

Success is 200 (create: 201); partial failure is 207 with ``numErrors`` and ``errors[]``.
Batch create answers per row only when every input has a unique ``objectWriteTraceId``;
otherwise one invalid row fails the whole call with a 400.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from closedloop.emulators.hubspot.app_context import current_portal
from closedloop.emulators.hubspot.errors import (
    HubSpotApiError,
    invalid_properties,
    json_response,
    standard_error,
    validation_error,
)
from closedloop.emulators.hubspot.gatekeeper import current_source
from closedloop.emulators.hubspot.object_types import ObjectType, resolve_object_type
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.record_lifecycle import archive_record, associate_on_create
from closedloop.emulators.hubspot.record_writes import (
    check_create_rules,
    check_properties,
    create_record,
    require_valid,
    update_record,
)
from closedloop.emulators.hubspot.request_args import batch_inputs, flag, json_object
from closedloop.emulators.hubspot.routes_objects import lookup
from closedloop.emulators.hubspot.serialize import record_json
from closedloop.emulators.hubspot.store import Record
from closedloop.emulators.hubspot.values import iso_from_ms

BASE = "/crm/v3/objects/<object_type>/batch"
MAX_INPUTS = 100


def batch_answer(
    portal: Portal, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok: int
) -> Response:
    """A ``BatchResponse`` (status ``ok``), or its 207 ``...WithErrors`` form."""
    now = iso_from_ms(portal.now_ms())
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "requestedAt": now,
        "startedAt": now,
        "completedAt": now,
        "links": {},
    }
    if errors:
        body.update(numErrors=len(errors), errors=errors)
    return json_response(body, 207 if errors else ok)


blueprint = Blueprint("hubspot_batch", __name__)


@blueprint.post(f"{BASE}/read")
def _read(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    inputs = batch_inputs(body, MAX_INPUTS)
    archived = flag("archived")
    results, missing = [], []
    with portal.lock:
        for item in inputs:
            key = str(item.get("id", ""))
            record = lookup(portal, kind, key, body.get("idProperty"), archived=archived)
            if record is None:
                missing.append(key)
                continue
            results.append(
                record_json(
                    kind,
                    record,
                    properties=body.get("properties"),
                    with_history=body.get("propertiesWithHistory"),
                )
            )
    errors = []
    if missing:
        errors.append(
            standard_error(
                "OBJECT_NOT_FOUND",
                f"Could not get some {kind.label} objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                context={"ids": missing},
            )
        )
    return batch_answer(portal, results, errors, 200)


@blueprint.post(f"{BASE}/create")
def _create(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    inputs = batch_inputs(json_object(), MAX_INPUTS)
    trace_ids = [item.get("objectWriteTraceId") for item in inputs]
    per_row = all(trace_ids) and len(set(trace_ids)) == len(trace_ids)
    results, errors = [], []
    with portal.lock:
        checked = []
        for item in inputs:
            values, issues = check_properties(portal, kind, item.get("properties"))
            checked.append((values, issues + check_create_rules(kind, values)))
        if not per_row:
            for _values, issues in checked:
                if issues:
                    raise invalid_properties(issues)
        for item, (values, issues) in zip(inputs, checked, strict=True):
            trace = item.get("objectWriteTraceId")
            try:
                if issues:
                    raise invalid_properties(issues)
                record = create_record(portal, kind, values, current_source())
                associate_on_create(portal, kind, record, item.get("associations"))
            except HubSpotApiError as error:
                if not per_row:
                    raise
                errors.append(
                    standard_error(
                        error.category,
                        error.message,
                        context={"objectWriteTraceId": [str(trace)]},
                        errors=error.errors,
                    )
                )
                continue
            answer = record_json(kind, record, properties=list(values))
            if trace:
                answer["objectWriteTraceId"] = trace
            results.append(answer)
    return batch_answer(portal, results, errors, 201)


@blueprint.post(f"{BASE}/update")
def _update(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    inputs = batch_inputs(json_object(), MAX_INPUTS)
    keys = [str(item.get("id", "")) for item in inputs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise validation_error(f"Duplicate IDs found in batch input: {duplicates}.")
    results, missing = [], []
    with portal.lock:
        found = []
        for item, key in zip(inputs, keys, strict=True):
            store = portal.store(kind)
            record = (
                lookup(portal, kind, key, item.get("idProperty"))
                if item.get("idProperty")
                else store.records.get(key)
            )
            if record is None or record.archived:
                missing.append(key)
                continue
            values = require_valid(portal, kind, item.get("properties"), current=record.properties)
            found.append((item, record, values))
        for item, record, values in found:
            update_record(portal, kind, record, values, current_source())
            answer = record_json(kind, record, properties=list(values))
            if item.get("objectWriteTraceId"):
                answer["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(answer)
    errors = []
    if missing:
        errors.append(
            standard_error(
                "OBJECT_NOT_FOUND",
                f"Could not update some {kind.label} objects: not found.",
                context={"ids": missing},
            )
        )
    return batch_answer(portal, results, errors, 200)


@blueprint.post(f"{BASE}/upsert")
def _upsert(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    inputs = batch_inputs(json_object(), MAX_INPUTS)
    with portal.lock:
        planned = [_plan_upsert(portal, kind, item) for item in inputs]
        results = []
        for item, (existing, values) in zip(inputs, planned, strict=True):
            is_new = existing is None
            if existing is None:
                record = create_record(portal, kind, values, current_source())
            else:
                record = existing
                update_record(portal, kind, record, values, current_source())
            answer = record_json(kind, record, properties=list(values))
            answer["new"] = is_new
            if item.get("objectWriteTraceId"):
                answer["objectWriteTraceId"] = item["objectWriteTraceId"]
            results.append(answer)
    return batch_answer(portal, results, [], 200)


@blueprint.post(f"{BASE}/archive")
def _archive(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    inputs = batch_inputs(json_object(), MAX_INPUTS)
    with portal.lock:
        for item in inputs:
            record = portal.store(kind).find(str(item.get("id", "")))
            if record is not None:
                archive_record(portal, kind, record, current_source())
    return Response(status=204)


def _plan_upsert(
    portal: Portal, kind: ObjectType, item: dict[str, Any]
) -> tuple[Record | None, dict[str, str]]:
    id_property = item.get("idProperty") or "hs_object_id"
    key = str(item.get("id", ""))
    if id_property == "hs_object_id":
        record = portal.store(kind).find(key)
    else:
        record = lookup(portal, kind, key, id_property)
    values = require_valid(
        portal, kind, item.get("properties"), current=record.properties if record else None
    )
    if id_property != "hs_object_id":
        values[id_property] = key.lower() if id_property == "email" else key
    return record, values
