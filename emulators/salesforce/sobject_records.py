"""Reading, rendering and upserting sObject records: what the REST resources share.

The sObject resources of :mod:`~closedloop.emulators.salesforce.rest_sobjects`, sObject
Collections in :mod:`~closedloop.emulators.salesforce.composite` and Bulk API 2.0 ingest in
:mod:`~closedloop.emulators.salesforce.bulk2_ingest` all look objects up, render records limited
to the fields the API user can see, and match or upsert records by external id the same way.
"""

from __future__ import annotations

from typing import Any

from closedloop.emulators.salesforce.api import Call
from closedloop.emulators.salesforce.errors import ApiError, RecordError, not_found
from closedloop.emulators.salesforce.ids import normalize_id
from closedloop.emulators.salesforce.org import Org
from closedloop.emulators.salesforce.schema import FieldDef, ObjectDef
from closedloop.emulators.salesforce.values import coerce


def sobject(call: Call, name: str) -> ObjectDef:
    """The object called ``name``.

    Raises:
        ApiError: 404 ``NOT_FOUND`` for an unknown object.
    """
    obj = call.org.schema.get(name)
    if obj is None:
        raise not_found()
    return obj


def record_error(error: RecordError) -> ApiError:
    """A record failure as a whole-request error (404 for missing or deleted records)."""
    status = 404 if error.code in ("NOT_FOUND", "ENTITY_IS_DELETED") else 400
    return ApiError.from_record(error, status)


def render(
    call: Call, obj: ObjectDef, row: dict[str, Any], fields: list[FieldDef] | None = None
) -> dict[str, Any]:
    """A row as a REST record with ``attributes``, limited to fields the API user can see."""
    chosen = fields if fields is not None else call.org.security.visible_fields(obj)
    body: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": f"{call.base}/sobjects/{obj.name}/{row['Id']}"}
    }
    for definition in chosen:
        body[definition.name] = row.get(definition.name)
    return body


def field_list(call: Call, obj: ObjectDef, text: str | None) -> list[FieldDef] | None:
    """The fields named in a ``fields=`` parameter.

    Raises:
        ApiError: 400 ``INVALID_FIELD`` for a field the API user cannot see.
    """
    if not text:
        return None
    chosen = []
    for name in (n.strip() for n in text.split(",") if n.strip()):
        definition = obj.get(name)
        if definition is None or not call.org.security.visible(obj, definition):
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'")
        chosen.append(definition)
    return chosen


def external_field(call: Call, obj: ObjectDef, name: str) -> FieldDef:
    """The external-id field ``name`` of ``obj`` (``Id`` counts).

    Raises:
        ApiError: 404 ``NOT_FOUND`` when it is missing, hidden or not an external id.
    """
    definition = obj.get(name)
    if (
        definition is None
        or not call.org.security.visible(obj, definition)
        or not (definition.external_id or definition.name == "Id")
    ):
        raise not_found(f"Provided external ID field does not exist or is not accessible: {name}")
    return definition


def matches(org: Org, obj: ObjectDef, definition: FieldDef, value: str) -> list[str]:
    """Live record ids whose external id equals ``value``."""
    if definition.name == "Id":
        record_id = normalize_id(value)
        return [record_id] if record_id and org.store.get(obj.name, record_id) else []
    try:
        key = coerce(definition, value, from_csv=True)
    except RecordError:
        return []
    return org.store.find(obj.name, definition.name, key)


def upsert_one(
    org: Org,
    obj: ObjectDef,
    definition: FieldDef,
    value: str,
    body: dict[str, Any],
    *,
    update_only: bool = False,
    from_csv: bool = False,
) -> tuple[str, bool] | list[str]:
    """Create or update by external id; a list of ids when several records match.

    Raises:
        RecordError: a validation failure, or ``NOT_FOUND`` for ``updateOnly`` without a match.
    """
    values = {k: v for k, v in body.items() if k.lower() != definition.name.lower()}
    for key, sent in body.items():
        if key.lower() == definition.name.lower() and str(sent) != value:
            raise RecordError(
                "INVALID_FIELD",
                f"The external ID field {definition.name} in the body does not match the URL",
            )
    found = matches(org, obj, definition, value)
    if len(found) > 1:
        return found
    with org.store.transaction():
        if found:
            org.writer.update(obj, found[0], values, from_csv=from_csv)
            return found[0], False
        if update_only or (definition.name == "Id" and value):
            raise RecordError("NOT_FOUND", "The requested resource does not exist")
        if definition.name != "Id":
            values[definition.name] = value
        return org.writer.create(obj, values, from_csv=from_csv), True
