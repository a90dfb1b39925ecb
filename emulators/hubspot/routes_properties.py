"""Properties and property groups: list, get, create (201), update, archive (204), batch.

Batch create answers 201 (207 with per-row errors), batch read 200/207, batch archive 204.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from closedloop.emulators.hubspot.app_context import current_portal
from closedloop.emulators.hubspot.errors import HubSpotApiError, json_response, standard_error
from closedloop.emulators.hubspot.object_types import resolve_object_type
from closedloop.emulators.hubspot.request_args import batch_inputs, flag, json_object
from closedloop.emulators.hubspot.routes_batch import batch_answer
from closedloop.emulators.hubspot.values import iso_from_ms

BASE = "/crm/v3/properties/<object_type>"


blueprint = Blueprint("hubspot_properties", __name__)


@blueprint.get(BASE)
def _list_properties(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        results = [
            d.to_json(iso_from_ms)
            for d in portal.catalog.listing(kind.name, archived=flag("archived"))
        ]
    return json_response({"results": results})


@blueprint.post(BASE)
def _create_property(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        created = portal.catalog.create(kind.name, body, portal.now_ms())
        answer = created.to_json(iso_from_ms)
    return json_response(answer, 201)


@blueprint.get(f"{BASE}/<name>")
def _get_property(object_type: str, name: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        answer = portal.catalog.require(kind.name, name).to_json(iso_from_ms)
    return json_response(answer)


@blueprint.patch(f"{BASE}/<name>")
def _update_property(object_type: str, name: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        updated = portal.catalog.update(kind.name, name, body, portal.now_ms())
        answer = updated.to_json(iso_from_ms)
    return json_response(answer)


@blueprint.delete(f"{BASE}/<name>")
def _archive_property(object_type: str, name: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        portal.catalog.archive(kind.name, name, portal.now_ms())
    return Response(status=204)


@blueprint.post(f"{BASE}/batch/create")
def _batch_create(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    inputs = batch_inputs(json_object(), 100)
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    with portal.lock:
        for item in inputs:
            try:
                created = portal.catalog.create(kind.name, item, portal.now_ms())
            except HubSpotApiError as error:
                errors.append(
                    standard_error(
                        error.category,
                        error.message,
                        context={"propertyName": [str(item.get("name", ""))]},
                    )
                )
                continue
            results.append(created.to_json(iso_from_ms))
    return batch_answer(portal, results, errors, 201)


@blueprint.post(f"{BASE}/batch/read")
def _batch_read(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    inputs = batch_inputs(body, 100)
    archived = bool(body.get("archived", False))
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    with portal.lock:
        for item in inputs:
            name = str(item.get("name", ""))
            found = portal.catalog.properties[kind.name].get(name)
            if found is None or (found.archived_ms is not None) != archived:
                missing.append(name)
            else:
                results.append(found.to_json(iso_from_ms))
    errors = []
    if missing:
        errors.append(
            standard_error(
                "OBJECT_NOT_FOUND",
                "Some properties could not be found.",
                context={"propertyName": missing},
            )
        )
    return batch_answer(portal, results, errors, 200)


@blueprint.post(f"{BASE}/batch/archive")
def _batch_archive(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    inputs = batch_inputs(json_object(), 100)
    with portal.lock:
        for item in inputs:
            name = str(item.get("name", ""))
            if portal.catalog.get(kind.name, name) is not None:
                portal.catalog.archive(kind.name, name, portal.now_ms())
    return Response(status=204)


@blueprint.get(f"{BASE}/groups")
def _list_groups(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        results = [g.to_json() for g in portal.catalog.groups[kind.name].values() if not g.archived]
    return json_response({"results": results})


@blueprint.post(f"{BASE}/groups")
def _create_group(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        answer = portal.catalog.create_group(kind.name, body).to_json()
    return json_response(answer, 201)


@blueprint.get(f"{BASE}/groups/<name>")
def _get_group(object_type: str, name: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        answer = portal.catalog.require_group(kind.name, name).to_json()
    return json_response(answer)


@blueprint.patch(f"{BASE}/groups/<name>")
def _update_group(object_type: str, name: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        group = portal.catalog.require_group(kind.name, name)
        group.label = str(body.get("label", group.label))
        group.display_order = int(body.get("displayOrder", group.display_order))
        answer = group.to_json()
    return json_response(answer)


@blueprint.delete(f"{BASE}/groups/<name>")
def _archive_group(object_type: str, name: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        portal.catalog.archive_group(kind.name, name)
    return Response(status=204)
