"""Tooling API: custom fields and objects by metadata, as a connector provisions them.

``POST tooling/sobjects/CustomField`` with ``FullName`` (``Lead.First_Touch_Source__c``) and
``Metadata`` (``type``, ``label``, ``length``, ``externalId``, ``unique``…) adds the field to
the org. Like a field created in Setup without granting access, it stays invisible to the
API user until a permission set grants it (see :mod:`~closedloop.emulators.salesforce.permissions`).
``tooling/query`` answers ``SELECT … FROM CustomField`` / ``CustomObject``.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from closedloop.emulators.salesforce.api import Call, Route, json_response, no_content
from closedloop.emulators.salesforce.errors import ApiError, not_found
from closedloop.emulators.salesforce.ids import KEY_PREFIXES
from closedloop.emulators.salesforce.org import Org
from closedloop.emulators.salesforce.schema import FieldDef, ObjectDef
from closedloop.emulators.salesforce.values import format_datetime

METADATA_TYPES = {
    "Text": ("string", 255),
    "TextArea": ("textarea", 255),
    "LongTextArea": ("textarea", 32768),
    "Checkbox": ("boolean", 0),
    "Number": ("double", 0),
    "Currency": ("currency", 0),
    "Percent": ("percent", 0),
    "Date": ("date", 0),
    "DateTime": ("datetime", 0),
    "Email": ("email", 80),
    "Phone": ("phone", 40),
    "Url": ("url", 255),
    "Picklist": ("picklist", 255),
    "Lookup": ("reference", 18),
}


def create_custom_field(org: Org, full_name: str, metadata: dict[str, Any]) -> FieldDef:
    """Add a custom field described by Metadata API ``CustomField`` metadata.

    Raises:
        ApiError: 400 ``INVALID_TYPE``, ``DUPLICATE_DEVELOPER_NAME`` or
            ``FIELD_INTEGRITY_EXCEPTION``.
    """
    object_name, _, field_name = full_name.partition(".")
    obj = org.schema.get(object_name)
    if obj is None or obj.currency_only or not obj.writable:
        raise ApiError(
            400, "INVALID_TYPE", f"Cannot add custom fields to sObject type '{object_name}'"
        )
    kind = METADATA_TYPES.get(str(metadata.get("type")))
    if kind is None:
        raise ApiError(
            400, "FIELD_INTEGRITY_EXCEPTION", f"Unsupported field type: {metadata.get('type')}"
        )
    if obj.get(field_name) is not None:
        raise ApiError(
            400,
            "DUPLICATE_DEVELOPER_NAME",
            f"Duplicate Name: {field_name} already exists on {obj.name}",
        )
    ftype, default_length = kind
    definition = FieldDef(
        name=field_name,
        type=ftype,
        length=int(metadata.get("length") or default_length),
        label=str(metadata.get("label") or field_name.removesuffix("__c").replace("_", " ")),
        required=bool(metadata.get("required")),
        external_id=bool(metadata.get("externalId")),
        unique=bool(metadata.get("unique")),
        precision=int(metadata.get("precision") or 0),
        scale=int(metadata.get("scale") or 0),
        defaulted=ftype == "boolean",
    )
    if ftype == "picklist":
        values = metadata.get("valueSet", {}).get("valueSetDefinition", {}).get("value", [])
        definition.picklist = tuple(str(v.get("fullName")) for v in values)
        definition.restricted = bool(metadata.get("valueSet", {}).get("restricted"))
    if ftype == "reference":
        target = org.schema.get(str(metadata.get("referenceTo") or ""))
        if target is None:
            raise ApiError(
                400, "FIELD_INTEGRITY_EXCEPTION", "referenceTo must name an existing object"
            )
        definition.reference_to = (target.name,)
        definition.relationship_name = (
            str(metadata.get("relationshipName") or field_name[:-3]) + "__r"
        )
    try:
        org.schema.add_custom_field(obj, definition, org.clock.timestamp())
    except ValueError as exc:
        raise ApiError(400, "FIELD_INTEGRITY_EXCEPTION", str(exc)) from exc
    definition.metadata_id = org.ids.new(KEY_PREFIXES["CustomField"])
    definition.created_at = format_datetime(org.clock.now())
    org.store.add_column(obj.name, definition.name, False if ftype == "boolean" else None)
    return definition


def create_custom_object(org: Org, full_name: str, metadata: dict[str, Any]) -> ObjectDef:
    """Add a custom object described by Metadata API ``CustomObject`` metadata.

    Raises:
        ApiError: 400 ``DUPLICATE_DEVELOPER_NAME`` for a bad or taken name.
    """
    label = str(metadata.get("label") or full_name.removesuffix("__c"))
    try:
        obj = org.schema.add_custom_object(
            full_name, label, str(metadata.get("pluralLabel") or f"{label}s"), org.clock.timestamp()
        )
    except ValueError as exc:
        raise ApiError(400, "DUPLICATE_DEVELOPER_NAME", str(exc)) from exc
    obj.metadata_id = org.ids.new(KEY_PREFIXES["CustomObject"])
    obj.created_at = format_datetime(org.clock.now())
    if org.schema.multicurrency:
        org.schema.enable_multicurrency(
            org.schema.currency_codes, org.corporate_currency, org.clock.timestamp()
        )
    return obj


def metadata_rows(org: Org) -> dict[str, list[dict[str, Any]]]:
    """Rows for ``tooling/query``: every custom field and custom object of the org."""
    fields, objects = [], []
    for obj in org.schema.objects.values():
        if obj.custom:
            objects.append(
                {
                    "Id": obj.metadata_id,
                    "DeveloperName": obj.name[:-3],
                    "FullName": obj.name,
                    "NamespacePrefix": None,
                    "CreatedDate": obj.created_at,
                    "LastModifiedDate": obj.created_at,
                }
            )
        for definition in obj.fields.values():
            if definition.custom:
                fields.append(
                    {
                        "Id": definition.metadata_id,
                        "DeveloperName": definition.name[:-3],
                        "FullName": f"{obj.name}.{definition.name}",
                        "TableEnumOrId": obj.metadata_id if obj.custom else obj.name,
                        "NamespacePrefix": None,
                        "Length": definition.length,
                        "CreatedDate": definition.created_at,
                        "LastModifiedDate": definition.created_at,
                    }
                )
    return {"CustomField": fields, "CustomObject": objects}


def _find_field(org: Org, metadata_id: str) -> tuple[ObjectDef, FieldDef]:
    for obj in org.schema.objects.values():
        for definition in obj.fields.values():
            if definition.custom and definition.metadata_id == metadata_id:
                return obj, definition
    raise not_found()


def _body(call: Call) -> tuple[str, dict[str, Any]]:
    body = call.body()
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("Metadata"), dict)
        or not body.get("FullName")
    ):
        raise ApiError(400, "JSON_PARSER_ERROR", "FullName and Metadata are required")
    return str(body["FullName"]), body["Metadata"]


def _post_field(call: Call, _: list[str]) -> Response:
    definition = create_custom_field(call.org, *_body(call))
    return json_response(
        {"id": definition.metadata_id, "success": True, "errors": [], "warnings": [], "infos": []},
        201,
    )


def _post_object(call: Call, _: list[str]) -> Response:
    obj = create_custom_object(call.org, *_body(call))
    return json_response(
        {"id": obj.metadata_id, "success": True, "errors": [], "warnings": [], "infos": []}, 201
    )


def _get_field(call: Call, args: list[str]) -> Response:
    _obj, definition = _find_field(call.org, args[0])
    row = next(
        r for r in metadata_rows(call.org)["CustomField"] if r["Id"] == definition.metadata_id
    )
    metadata = {
        "type": next(k for k, v in METADATA_TYPES.items() if v[0] == definition.type),
        "label": definition.label,
        "length": definition.length,
        "externalId": definition.external_id,
        "unique": definition.unique,
        "required": definition.required,
    }
    url = f"{call.base}/tooling/sobjects/CustomField/{definition.metadata_id}"
    return json_response(
        {"attributes": {"type": "CustomField", "url": url}, **row, "Metadata": metadata}
    )


def _delete_field(call: Call, args: list[str]) -> Response:
    org = call.org
    obj, definition = _find_field(org, args[0])
    full_name = f"{obj.name}.{definition.name}"
    for mapping in org.lead_mappings:
        if full_name in (
            f"Lead.{mapping.lead_field}",
            f"{mapping.target_object}.{mapping.target_field}",
        ):
            raise ApiError(
                400, "FIELD_INTEGRITY_EXCEPTION", f"{full_name} is mapped for lead conversion"
            )
    del obj.fields[definition.name.lower()]
    obj.modified_at = org.clock.timestamp()
    for permission_id in org.store.find("FieldPermissions", "Field", full_name):
        org.writer.delete(org.schema.objects["fieldpermissions"], permission_id, system=True)
    return no_content()


ROUTES: list[Route] = [
    ("POST", ("tooling", "sobjects", "CustomField"), _post_field),
    ("GET", ("tooling", "sobjects", "CustomField", "*"), _get_field),
    ("DELETE", ("tooling", "sobjects", "CustomField", "*"), _delete_field),
    ("POST", ("tooling", "sobjects", "CustomObject"), _post_object),
]
