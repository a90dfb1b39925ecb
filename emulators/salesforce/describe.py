"""Describe results: ``GET /sobjects`` (describeGlobal) and ``GET /sobjects/X/describe``.

Only what the API user can see is described: custom fields without a granted read
permission are left out, exactly as field-level security hides them in Salesforce.
"""

from __future__ import annotations

from typing import Any

from closedloop.emulators.salesforce.org import Org
from closedloop.emulators.salesforce.rules import CASCADES
from closedloop.emulators.salesforce.schema import FieldDef, ObjectDef

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


def object_urls(obj: ObjectDef, base: str) -> dict[str, str]:
    """The ``urls`` map of an object."""
    root = f"{base}/sobjects/{obj.name}"
    return {"sobject": root, "describe": f"{root}/describe", "rowTemplate": f"{root}/{{ID}}"}


def global_entry(obj: ObjectDef, base: str) -> dict[str, Any]:
    """One object as describeGlobal lists it."""
    return {
        "activateable": False,
        "createable": obj.writable,
        "custom": obj.custom,
        "customSetting": False,
        "deletable": obj.writable,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "keyPrefix": obj.prefix,
        "label": obj.label,
        "labelPlural": obj.plural,
        "layoutable": obj.writable,
        "mergeable": obj.name in ("Lead", "Contact", "Account"),
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": obj.writable,
        "triggerable": obj.writable,
        "undeletable": obj.writable,
        "updateable": obj.writable,
        "urls": object_urls(obj, base),
    }


def describe_global(org: Org, base: str) -> dict[str, Any]:
    """The describeGlobal body."""
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [global_entry(obj, base) for obj in org.schema.all()],
    }


def describe_field(definition: FieldDef) -> dict[str, Any]:
    """One field as describe reports it."""
    default = definition.picklist_default
    is_text = definition.is_text or definition.type == "id"
    return {
        "aggregatable": definition.type != "textarea",
        "autoNumber": False,
        "byteLength": definition.length * 3 if is_text else 0,
        "calculated": False,
        "caseSensitive": False,
        "createable": definition.createable,
        "custom": definition.custom,
        "defaultValue": None,
        "defaultedOnCreate": definition.defaulted or definition.name in ("Id", "OwnerId"),
        "deprecatedAndHidden": False,
        "digits": definition.precision if definition.type == "int" else 0,
        "externalId": definition.external_id,
        "filterable": definition.type != "textarea",
        "groupable": definition.type
        not in ("textarea", "double", "currency", "percent", "datetime"),
        "idLookup": definition.name == "Id" or definition.external_id,
        "inlineHelpText": None,
        "label": definition.label,
        "length": definition.length if is_text else 0,
        "name": definition.name,
        "nameField": definition.name_field,
        "nillable": definition.nillable,
        "permissionable": definition.custom and not definition.required,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": value == default,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in definition.picklist
        ],
        "precision": definition.precision if definition.type != "int" else 0,
        "referenceTo": list(definition.reference_to),
        "relationshipName": definition.relationship_name,
        "restrictedPicklist": definition.restricted,
        "scale": definition.scale,
        "soapType": _SOAP_TYPES.get(definition.type, "xsd:string"),
        "sortable": definition.type != "textarea",
        "type": definition.type,
        "unique": definition.unique,
        "updateable": definition.updateable,
    }


def child_relationships(org: Org, obj: ObjectDef) -> list[dict[str, Any]]:
    """Reference fields of other objects that point at ``obj`` under a relationship name."""
    found = []
    for child in org.schema.all():
        for definition in org.security.visible_fields(child):
            if obj.name in definition.reference_to and definition.child_relationship:
                found.append(
                    {
                        "cascadeDelete": (child.name, definition.name)
                        in CASCADES.get(obj.name, ()),
                        "childSObject": child.name,
                        "deprecatedAndHidden": False,
                        "field": definition.name,
                        "relationshipName": definition.child_relationship,
                        "restrictedDelete": False,
                    }
                )
    return found


def describe_object(org: Org, obj: ObjectDef, base: str) -> dict[str, Any]:
    """The full describe of one object, limited to fields the API user can see."""
    body = global_entry(obj, base)
    body["childRelationships"] = child_relationships(org, obj)
    body["fields"] = [describe_field(f) for f in org.security.visible_fields(obj)]
    body["recordTypeInfos"] = []
    body["supportedScopes"] = [{"label": "All records", "name": "everything"}]
    return body
