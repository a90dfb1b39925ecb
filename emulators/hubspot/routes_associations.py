"""Associations v4: per-record list, labelled and default create, archive, and the batch API.

Batch read takes ≤ 1,000 inputs, batch create ≤ 2,000. Labelled create answers 201,
default create 200; archives answer 204.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from closedloop.emulators.hubspot.app_context import current_portal
from closedloop.emulators.hubspot.association_types import default_type, find_type, resolve_spec
from closedloop.emulators.hubspot.errors import json_response, not_found, standard_error
from closedloop.emulators.hubspot.object_types import ObjectType, resolve_object_type
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.record_lifecycle import link, unlink
from closedloop.emulators.hubspot.request_args import (
    batch_inputs,
    bounded_int,
    json_body,
    json_object,
)
from closedloop.emulators.hubspot.routes_batch import batch_answer

RECORD = "/crm/v4/objects/<from_type>/<from_id>/associations"
BATCH = "/crm/v4/associations/<from_type>/<to_type>/batch"


def _targets_json(
    portal: Portal, from_type: ObjectType, from_id: str, to_type: ObjectType
) -> list[dict[str, Any]]:
    store = portal.store(to_type)
    targets = portal.associations.targets(from_type.name, from_id, to_type.name)
    results = []
    for to_id in sorted(targets, key=int):
        if store.find(to_id) is None:
            continue
        kinds = [find_type(from_type.name, t) for t in sorted(targets[to_id])]
        results.append(
            {
                "toObjectId": int(to_id),
                "associationTypes": [k.spec_with_label() for k in kinds if k is not None],
            }
        )
    return results


def _pair_json(
    from_type: ObjectType, from_id: str, to_type: ObjectType, to_id: str, labels: list[str]
) -> dict[str, Any]:
    return {
        "fromObjectTypeId": from_type.type_id,
        "fromObjectId": int(from_id),
        "toObjectTypeId": to_type.type_id,
        "toObjectId": int(to_id),
        "labels": labels,
    }


def _require(portal: Portal, object_type: ObjectType, record_id: str) -> None:
    if portal.store(object_type).find(record_id) is None:
        raise not_found(f"No {object_type.singular} with id {record_id}", ids=[record_id])


blueprint = Blueprint("hubspot_associations", __name__)


@blueprint.get(f"{RECORD}/<to_type>")
def _list_page(from_type: str, from_id: str, to_type: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    limit = bounded_int("limit", 500, 500)
    offset = int(request.args.get("after") or 0)
    with portal.lock:
        everything = _targets_json(portal, source, from_id, target)
    answer: dict[str, Any] = {"results": everything[offset : offset + limit]}
    if offset + limit < len(everything):
        answer["paging"] = {"next": {"after": str(offset + limit)}}
    return json_response(answer)


@blueprint.put(f"{RECORD}/<to_type>/<to_id>")
def _create_labelled(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    specs = json_body()
    if not isinstance(specs, list) or not specs:
        specs = [specs] if isinstance(specs, dict) and specs else []
    with portal.lock:
        _require(portal, source, from_id)
        _require(portal, target, to_id)
        kinds = [resolve_spec(source.name, target.name, spec) for spec in specs]
        for kind in kinds:
            link(portal, from_id, to_id, kind)
        labels = [k.label for k in kinds if k.label]
    return json_response(_pair_json(source, from_id, target, to_id, labels), 201)


@blueprint.put("/crm/v4/objects/<from_type>/<from_id>/associations/default/<to_type>/<to_id>")
def _create_default(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    with portal.lock:
        _require(portal, source, from_id)
        _require(portal, target, to_id)
        kind = default_type(source.name, target.name)
        link(portal, from_id, to_id, kind)
    result = {"from": {"id": from_id}, "to": {"id": to_id}, "associationSpec": kind.spec()}
    return batch_answer(portal, [result], [], 200)


@blueprint.delete(f"{RECORD}/<to_type>/<to_id>")
def _archive(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    with portal.lock:
        _unlink_all(portal, source, from_id, target, to_id)
    return Response(status=204)


@blueprint.post(f"{BATCH}/read")
def _batch_read(from_type: str, to_type: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    inputs = batch_inputs(json_object(), 1000)
    results, errors = [], []
    with portal.lock:
        for item in inputs:
            record_id = str(item.get("id", ""))
            found = _targets_json(portal, source, record_id, target)
            offset = int(item.get("after") or 0)
            if not found:
                errors.append(
                    standard_error(
                        "OBJECT_NOT_FOUND",
                        f"No {target.name} is associated with {source.singular} {record_id}.",
                        context={"fromObjectId": [record_id]},
                    )
                )
                continue
            entry: dict[str, Any] = {
                "from": {"id": record_id},
                "to": found[offset : offset + 500],
            }
            if offset + 500 < len(found):
                entry["paging"] = {"next": {"after": str(offset + 500)}}
            results.append(entry)
    return batch_answer(portal, results, errors, 200)


@blueprint.post(f"{BATCH}/create")
def _batch_create(from_type: str, to_type: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    inputs = batch_inputs(json_object(), 2000)
    results, errors = [], []
    with portal.lock:
        for item in inputs:
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            kinds = [resolve_spec(source.name, target.name, s) for s in item.get("types") or []]
            if (
                portal.store(source).find(from_id) is None
                or portal.store(target).find(to_id) is None
            ):
                errors.append(
                    standard_error(
                        "OBJECT_NOT_FOUND",
                        f"Could not associate {from_id} with {to_id}: "
                        "one of the records does not exist.",
                        context={"fromObjectId": [from_id], "toObjectId": [to_id]},
                    )
                )
                continue
            for kind in kinds:
                link(portal, from_id, to_id, kind)
            labels = [k.label for k in kinds if k.label]
            results.append(_pair_json(source, from_id, target, to_id, labels))
    return batch_answer(portal, results, errors, 201)


@blueprint.post(f"{BATCH}/associate/default")
def _batch_default(from_type: str, to_type: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    inputs = batch_inputs(json_object(), 2000)
    kind = default_type(source.name, target.name)
    results, errors = [], []
    with portal.lock:
        for item in inputs:
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            if (
                portal.store(source).find(from_id) is None
                or portal.store(target).find(to_id) is None
            ):
                errors.append(
                    standard_error(
                        "OBJECT_NOT_FOUND",
                        f"Could not associate {from_id} with {to_id}.",
                        context={"fromObjectId": [from_id], "toObjectId": [to_id]},
                    )
                )
                continue
            link(portal, from_id, to_id, kind)
            results.append(
                {"from": {"id": from_id}, "to": {"id": to_id}, "associationSpec": kind.spec()}
            )
    return batch_answer(portal, results, errors, 200)


@blueprint.post(f"{BATCH}/archive")
def _batch_archive(from_type: str, to_type: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    inputs = batch_inputs(json_object(), 2000)
    with portal.lock:
        for item in inputs:
            from_id = str((item.get("from") or {}).get("id", ""))
            for to in item.get("to") or []:
                _unlink_all(portal, source, from_id, target, str(to.get("id", "")))
    return Response(status=204)


@blueprint.post(f"{BATCH}/labels/archive")
def _batch_archive_labels(from_type: str, to_type: str) -> Response:
    portal = current_portal()
    source, target = resolve_object_type(from_type), resolve_object_type(to_type)
    inputs = batch_inputs(json_object(), 2000)
    with portal.lock:
        for item in inputs:
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            for spec in item.get("types") or []:
                unlink(portal, from_id, to_id, resolve_spec(source.name, target.name, spec))
    return Response(status=204)


def _unlink_all(
    portal: Portal, source: ObjectType, from_id: str, target: ObjectType, to_id: str
) -> None:
    linked = portal.associations.targets(source.name, from_id, target.name).get(to_id, set())
    for type_id in linked:
        kind = find_type(source.name, type_id)
        if kind is not None:
            unlink(portal, from_id, to_id, kind)
