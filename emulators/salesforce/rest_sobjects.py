"""sObject resources: describe, CRUD, external-id read and upsert, getUpdated and getDeleted.

Status codes follow the REST API: create 201 ``{id, success, errors}``; update and delete
204; upsert 201 (created) / 200 (updated, API 46.0+; 204 before) / 300 (several matches) /
404 (unknown external-id field, or no match with ``updateOnly=true``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime as http_date
from email.utils import parsedate_to_datetime

from flask import Response

from closedloop.emulators.salesforce.api import Call, Route, json_response, no_content
from closedloop.emulators.salesforce.describe import describe_global, describe_object, global_entry
from closedloop.emulators.salesforce.errors import ApiError, RecordError, not_found
from closedloop.emulators.salesforce.ids import normalize_id
from closedloop.emulators.salesforce.schema import ObjectDef
from closedloop.emulators.salesforce.sobject_records import (
    external_field,
    field_list,
    matches,
    record_error,
    render,
    sobject,
    upsert_one,
)
from closedloop.emulators.salesforce.values import format_datetime, parse_datetime

__all__ = [
    "DELETED_WINDOW_DAYS",
    "MAX_REPLICATION_IDS",
    "ROUTES",
    "UPDATED_WINDOW_DAYS",
    "external_field",
    "field_list",
    "matches",
    "record_error",
    "render",
    "sobject",
    "upsert_one",
]

UPDATED_WINDOW_DAYS, DELETED_WINDOW_DAYS, MAX_REPLICATION_IDS = 30, 15, 600_000


def _global(call: Call, _: list[str]) -> Response:
    return json_response(describe_global(call.org, call.base))


def _metadata(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    return json_response({"objectDescribe": global_entry(obj, call.base), "recentItems": []})


def _describe(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    org = call.org
    changed = max(obj.modified_at, org.schema_changed_at)
    since = call.request.headers.get("If-Modified-Since")
    if since:
        try:
            if parsedate_to_datetime(since).timestamp() >= int(changed):
                return Response(status=304)
        except (TypeError, ValueError):
            pass
    response = json_response(describe_object(org, obj, call.base))
    response.headers["Last-Modified"] = http_date(
        datetime.fromtimestamp(int(changed), tz=UTC), usegmt=True
    )
    return response


def _create(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    body = call.body()
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object for the record")
    try:
        with call.org.store.transaction():
            record_id = call.org.writer.create(obj, body)
    except RecordError as error:
        raise record_error(error) from error
    return json_response({"id": record_id, "success": True, "errors": []}, 201)


def _record_id(obj: ObjectDef, value: str) -> str:
    record_id = normalize_id(value)
    if record_id is None or not record_id.startswith(obj.prefix):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {value}")
    return record_id


def _get(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    record_id = _record_id(obj, args[1])
    try:
        row = call.org.writer.live(obj, record_id)
    except RecordError as error:
        raise record_error(error) from error
    return json_response(
        render(call, obj, row, field_list(call, obj, call.request.args.get("fields")))
    )


def _update(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    record_id = _record_id(obj, args[1])
    body = call.body()
    try:
        with call.org.store.transaction():
            call.org.writer.update(obj, record_id, body)
    except RecordError as error:
        raise record_error(error) from error
    return no_content()


def _delete(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    record_id = _record_id(obj, args[1])
    try:
        with call.org.store.transaction():
            call.org.writer.delete(obj, record_id)
    except RecordError as error:
        raise record_error(error) from error
    return no_content()


def _several(call: Call, obj: ObjectDef, ids: list[str]) -> Response:
    return json_response([f"{call.base}/sobjects/{obj.name}/{rid}" for rid in ids], 300)


def _get_external(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    definition = external_field(call, obj, args[1])
    found = matches(call.org, obj, definition, args[2])
    if not found:
        raise not_found()
    if len(found) > 1:
        return _several(call, obj, found)
    row = call.org.writer.live(obj, found[0])
    return json_response(
        render(call, obj, row, field_list(call, obj, call.request.args.get("fields")))
    )


def _upsert(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    definition = external_field(call, obj, args[1])
    body = call.body()
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object for the record")
    try:
        update_only = call.request.args.get("updateOnly") == "true"
        result = upsert_one(call.org, obj, definition, args[2], body, update_only=update_only)
    except RecordError as error:
        raise record_error(error) from error
    if isinstance(result, list):
        return _several(call, obj, result)
    record_id, created = result
    if created:
        return json_response({"id": record_id, "success": True, "errors": [], "created": True}, 201)
    if float(call.version) < 46:
        return no_content()
    return json_response({"id": record_id, "success": True, "errors": [], "created": False}, 200)


def _create_by_id(call: Call, args: list[str]) -> Response:
    if args[1] != "Id":
        raise ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            "HTTP Method 'POST' not allowed. Allowed are GET,PATCH,DELETE",
        )
    return _create(call, args[:1])


def _window(call: Call, days: int) -> tuple[str, str, str]:
    args = call.request.args
    try:
        start = parse_datetime(args["start"]).replace(second=0, microsecond=0)
        end = parse_datetime(args["end"]).replace(second=0, microsecond=0)
    except (KeyError, ValueError) as exc:
        raise ApiError(
            400, "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 dates"
        ) from exc
    now = call.org.clock.now()
    if end < start:
        raise ApiError(
            400, "INVALID_REPLICATION_DATE", "EndDate must chronologically follow the StartDate"
        )
    if start < now - timedelta(days=days):
        raise ApiError(
            400, "INVALID_REPLICATION_DATE", f"startDate cannot be more than {days} days ago"
        )
    covered = min(end, now.replace(second=0, microsecond=0))
    return format_datetime(start), format_datetime(end), format_datetime(covered)


def _updated(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    start, end, covered = _window(call, UPDATED_WINDOW_DAYS)
    ids = [
        row["Id"] for row in call.org.store.rows(obj.name) if start <= row["SystemModstamp"] < end
    ]
    if len(ids) > MAX_REPLICATION_IDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "Too many ids: narrow the date range")
    return json_response({"ids": ids, "latestDateCovered": covered})


def _deleted(call: Call, args: list[str]) -> Response:
    obj = sobject(call, args[0])
    start, end, covered = _window(call, DELETED_WINDOW_DAYS)
    store = call.org.store
    deleted = [
        {"id": row["Id"], "deletedDate": store.deleted_at[row["Id"]]}
        for row in store.rows(obj.name, include_deleted=True)
        if row.get("IsDeleted") and start <= store.deleted_at.get(row["Id"], "") < end
    ]
    if len(deleted) > MAX_REPLICATION_IDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "Too many ids: narrow the date range")
    return json_response(
        {
            "deletedRecords": deleted,
            "earliestDateAvailable": call.org.purged_before,
            "latestDateCovered": covered,
        }
    )


ROUTES: list[Route] = [
    ("GET", ("sobjects",), _global),
    ("GET", ("sobjects", "*"), _metadata),
    ("POST", ("sobjects", "*"), _create),
    ("GET", ("sobjects", "*", "describe"), _describe),
    ("GET", ("sobjects", "*", "updated"), _updated),
    ("GET", ("sobjects", "*", "deleted"), _deleted),
    ("GET", ("sobjects", "*", "*"), _get),
    ("PATCH", ("sobjects", "*", "*"), _update),
    ("DELETE", ("sobjects", "*", "*"), _delete),
    ("POST", ("sobjects", "*", "*"), _create_by_id),
    ("GET", ("sobjects", "*", "*", "*"), _get_external),
    ("PATCH", ("sobjects", "*", "*", "*"), _upsert),
]
