"""CRM v3 single-record and list endpoints: get, list, create, update, archive, merge, GDPR delete.

``{objectType}`` may be ``contacts``, ``companies``, ``deals`` or their ids ``0-1``..``0-3``.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from closedloop.emulators.hubspot.app_context import current_portal
from closedloop.emulators.hubspot.errors import json_response, not_found, validation_error
from closedloop.emulators.hubspot.gatekeeper import current_source
from closedloop.emulators.hubspot.object_types import ObjectType, resolve_object_type
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.record_lifecycle import (
    archive_record,
    associate_on_create,
    merge_records,
    purge_record,
)
from closedloop.emulators.hubspot.record_writes import create_record, require_valid, update_record
from closedloop.emulators.hubspot.request_args import bounded_int, flag, json_object, multi
from closedloop.emulators.hubspot.serialize import associations_json, record_json
from closedloop.emulators.hubspot.store import Record

BASE = "/crm/v3/objects/<object_type>"


def lookup(
    portal: Portal,
    object_type: ObjectType,
    key: str,
    id_property: str | None,
    *,
    archived: bool = False,
) -> Record | None:
    """A record by id or by a unique property value.

    Raises:
        HubSpotApiError: 400 when ``id_property`` is not a unique-value property.
    """
    store = portal.store(object_type)
    if id_property and id_property != "hs_object_id":
        if id_property not in portal.catalog.unique_names(object_type.name):
            raise validation_error(
                f"{id_property} is not a unique property of {object_type.name}; "
                "idProperty must name a property with hasUniqueValue."
            )
        value = key.lower() if id_property == "email" else key
        found = store.find_unique(id_property, value)
        if found is None and archived:
            found = next(
                (r for r in store.archived() if r.properties.get(id_property) == value), None
            )
        return found if found is not None and found.archived == archived else None
    return store.find(key, archived=archived)


blueprint = Blueprint("hubspot_objects", __name__)


@blueprint.get(BASE)
def _list_page(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    limit = bounded_int("limit", 10, 100)
    after = request.args.get("after")
    start = int(after) if after and after.isdigit() else 0
    archived = flag("archived")
    properties = multi("properties")
    history = multi("propertiesWithHistory")
    associations = multi("associations") or []
    with portal.lock:
        store = portal.store(kind)
        page: list[Record] = []
        next_after: str | None = None
        for record in store.from_id(start, archived=archived):
            if len(page) == limit:
                next_after = record.id
                break
            page.append(record)
        results = []
        for record in page:
            body = record_json(kind, record, properties=properties, with_history=history)
            if associations:
                body["associations"] = associations_json(portal, kind, record, associations)
            results.append(body)
    answer: dict[str, object] = {"results": results}
    if next_after is not None:
        link = f"{request.host_url.rstrip('/')}{request.path}?after={next_after}"
        answer["paging"] = {"next": {"after": next_after, "link": link}}
    return json_response(answer)


@blueprint.get(f"{BASE}/<object_id>")
def _get_one(object_type: str, object_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        record = lookup(
            portal, kind, object_id, request.args.get("idProperty"), archived=flag("archived")
        )
        if record is None:
            raise not_found(id=[object_id])
        body = record_json(
            kind,
            record,
            properties=multi("properties"),
            with_history=multi("propertiesWithHistory"),
        )
        associations = multi("associations")
        if associations:
            body["associations"] = associations_json(portal, kind, record, associations)
    return json_response(body)


@blueprint.post(BASE)
def _create(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        values = require_valid(portal, kind, body.get("properties"))
        record = create_record(portal, kind, values, current_source())
        associate_on_create(portal, kind, record, body.get("associations"))
        answer = record_json(kind, record, properties=list(values))
    return json_response(answer, 201)


@blueprint.patch(f"{BASE}/<object_id>")
def _update(object_type: str, object_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        record = lookup(portal, kind, object_id, request.args.get("idProperty"))
        if record is None:
            raise not_found(id=[object_id])
        values = require_valid(portal, kind, body.get("properties"), current=record.properties)
        update_record(portal, kind, record, values, current_source())
        answer = record_json(kind, record, properties=list(values))
    return json_response(answer)


@blueprint.delete(f"{BASE}/<object_id>")
def _archive(object_type: str, object_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        record = portal.store(kind).find(object_id)
        if record is not None:
            archive_record(portal, kind, record, current_source())
    return Response(status=204)


@blueprint.post(f"{BASE}/merge")
def _merge(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    primary_id, merged_id = body.get("primaryObjectId"), body.get("objectIdToMerge")
    if not primary_id or not merged_id:
        raise validation_error("primaryObjectId and objectIdToMerge are required.")
    with portal.lock:
        record = merge_records(portal, kind, str(primary_id), str(merged_id), current_source())
        answer = record_json(kind, record)
    return json_response(answer)


@blueprint.post(f"{BASE}/gdpr-delete")
def _gdpr_delete(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    if kind.name != "contacts":
        raise validation_error("GDPR delete is only available for contacts.")
    body = json_object()
    if not body.get("objectId"):
        raise validation_error("objectId is required.")
    with portal.lock:
        record = lookup(portal, kind, str(body["objectId"]), body.get("idProperty"))
        if record is None and body.get("idProperty") is None:
            raise not_found(id=[str(body["objectId"])])
        if record is not None:
            purge_record(portal, kind, record, current_source())
    return Response(status=204)
