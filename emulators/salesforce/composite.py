"""sObject Collections: ``/composite/sobjects`` create, update, upsert, delete and retrieve.

At most 200 records per request (201 are refused with ``EXCEEDED_ID_LIMIT``). Results come
back in request order under HTTP 200 even when records fail, with per-record errors keyed by
``statusCode``. With ``allOrNone`` every change is rolled back when one record fails, and the
records that had succeeded report ``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from closedloop.emulators.salesforce.api import Call, Route, json_response
from closedloop.emulators.salesforce.errors import ApiError, RecordError, duplicate_external_id
from closedloop.emulators.salesforce.ids import normalize_id
from closedloop.emulators.salesforce.rest_sobjects import (
    external_field,
    field_list,
    render,
    sobject,
    upsert_one,
)
from closedloop.emulators.salesforce.schema import ObjectDef

MAX_RECORDS, MAX_RETRIEVE = 200, 2000
ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
)


def _records(call: Call) -> tuple[list[dict[str, Any]], bool]:
    body = call.body()
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must hold a 'records' list")
    _check_size(len(records))
    return records, bool(body.get("allOrNone", False))


def _check_size(count: int) -> None:
    if count > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )


def _type_of(call: Call, record: dict[str, Any]) -> ObjectDef:
    attributes = record.get("attributes")
    name = attributes.get("type") if isinstance(attributes, dict) else None
    obj = call.org.schema.get(str(name)) if name else None
    if obj is None:
        raise RecordError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
    return obj


def _run(
    call: Call,
    items: list[Any],
    all_or_none: bool,
    operation: Callable[[Any], dict[str, Any]],
    *,
    creates: bool = False,
) -> Response:
    results: list[dict[str, Any]] = []
    store = call.org.store
    with store.transaction() as tx:
        for item in items:
            try:
                with store.savepoint():
                    results.append(operation(item))
            except RecordError as error:
                results.append(
                    {"id": _known_id(item), "success": False, "errors": [error.as_status()]}
                )
        if all_or_none and not all(r["success"] for r in results):
            tx.rollback()
            results = [
                r
                if not r["success"]
                else {**r, "success": False, "errors": [ROLLED_BACK.as_status()]}
                for r in results
            ]
            for result in results:
                if "created" in result:
                    result["created"] = False
                if creates:
                    result["id"] = None
    for result in results:
        if result.get("id") is None:
            result.pop("id", None)
    return json_response(results)


def _known_id(item: Any) -> str | None:
    if isinstance(item, str):
        return normalize_id(item)
    if isinstance(item, dict) and isinstance(item.get("Id"), str):
        return normalize_id(item["Id"])
    return None


def _create(call: Call, _: list[str]) -> Response:
    records, all_or_none = _records(call)

    def create(record: dict[str, Any]) -> dict[str, Any]:
        obj = _type_of(call, record)
        return {"id": call.org.writer.create(obj, record), "success": True, "errors": []}

    return _run(call, records, all_or_none, create, creates=True)


def _update(call: Call, _: list[str]) -> Response:
    records, all_or_none = _records(call)

    def update(record: dict[str, Any]) -> dict[str, Any]:
        obj = _type_of(call, record)
        record_id = _known_id(record)
        if record_id is None:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        call.org.writer.update(obj, record_id, record)
        return {"id": record_id, "success": True, "errors": []}

    return _run(call, records, all_or_none, update)


def _delete(call: Call, _: list[str]) -> Response:
    ids = [i for i in call.request.args.get("ids", "").split(",") if i]
    _check_size(len(ids))
    all_or_none = call.request.args.get("allOrNone", "false").lower() == "true"

    def delete(raw_id: str) -> dict[str, Any]:
        record_id = normalize_id(raw_id)
        obj = call.org.schema.by_prefix(record_id[:3]) if record_id else None
        if record_id is None or obj is None:
            raise RecordError("MALFORMED_ID", f"malformed id {raw_id}")
        call.org.writer.delete(obj, record_id)
        return {"id": record_id, "success": True, "errors": []}

    return _run(call, ids, all_or_none, delete)


def _upsert(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    definition = external_field(call, obj, args[1])
    records, all_or_none = _records(call)

    def upsert(record: dict[str, Any]) -> dict[str, Any]:
        if _type_of(call, record).name != obj.name:
            raise RecordError("INVALID_TYPE", f"all records must be of type {obj.name}")
        value = next((v for k, v in record.items() if k.lower() == definition.name.lower()), None)
        if value in (None, ""):
            raise RecordError(
                "MISSING_ARGUMENT", f"{definition.name} not specified", [definition.name]
            )
        outcome = upsert_one(call.org, obj, definition, str(value), record)
        if isinstance(outcome, list):
            raise duplicate_external_id(definition.name, outcome)
        record_id, created = outcome
        return {"id": record_id, "success": True, "errors": [], "created": created}

    return _run(call, records, all_or_none, upsert)


def _retrieve(call: Call, obj: ObjectDef, ids: list[str], fields_text: str | None) -> Response:
    if not fields_text:
        raise ApiError(400, "MISSING_ARGUMENT", "fields is required")
    if len(ids) > MAX_RETRIEVE:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "cannot retrieve more than 2000 records")
    chosen = field_list(call, obj, fields_text)
    found: list[dict[str, Any] | None] = []
    for raw_id in ids:
        record_id = normalize_id(raw_id)
        row = call.org.store.get(obj.name, record_id) if record_id else None
        found.append(render(call, obj, row, chosen) if row else None)
    return json_response(found)


def _retrieve_get(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    ids = [i for i in call.request.args.get("ids", "").split(",") if i]
    return _retrieve(call, obj, ids, call.request.args.get("fields"))


def _retrieve_post(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    body = call.body()
    ids = body.get("ids", []) if isinstance(body, dict) else []
    fields = body.get("fields", []) if isinstance(body, dict) else []
    return _retrieve(call, obj, [str(i) for i in ids], ",".join(str(f) for f in fields))


ROUTES: list[Route] = [
    ("POST", ("composite", "sobjects"), _create),
    ("PATCH", ("composite", "sobjects"), _update),
    ("DELETE", ("composite", "sobjects"), _delete),
    ("GET", ("composite", "sobjects", "*"), _retrieve_get),
    ("POST", ("composite", "sobjects", "*"), _retrieve_post),
    ("PATCH", ("composite", "sobjects", "*", "*"), _upsert),
]
