"""Property and property-group definitions, and the default set a new portal starts with.

The defaults live in ``data/default_properties.json``; keys an entry leaves out take the
defaults of :class:`PropertyDefinition` (not hidden, no options, HubSpot-defined, not
archivable, definition read-only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

ALLOWED_FIELD_TYPES: dict[str, frozenset[str]] = {
    "string": frozenset(
        {"text", "textarea", "file", "html", "phonenumber", "calculation_equation"}
    ),
    "number": frozenset({"number", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "enumeration": frozenset(
        {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"}
    ),
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
}


@dataclass
class PropertyDefinition:
    """One CRM property as ``/crm/v3/properties`` describes it."""

    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: list[dict[str, Any]] = field(default_factory=list)
    display_order: int = -1
    hidden: bool = False
    form_field: bool = False
    has_unique_value: bool = False
    calculated: bool = False
    external_options: bool = False
    hubspot_defined: bool = True
    read_only_value: bool = False
    show_currency_symbol: bool = False
    referenced_object_type: str | None = None
    calculation_formula: str | None = None
    created_ms: int = 0
    updated_ms: int = 0
    archived_ms: int | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any], *, hubspot_defined: bool) -> PropertyDefinition:
        """Build a definition from a create body or a data-file entry."""
        return cls(
            name=str(body["name"]),
            label=str(body["label"]),
            type=str(body["type"]),
            field_type=str(body["fieldType"]),
            group_name=str(body["groupName"]),
            description=str(body.get("description") or ""),
            options=parse_options(body.get("options")),
            display_order=int(body.get("displayOrder", -1)),
            hidden=bool(body.get("hidden", False)),
            form_field=bool(body.get("formField", False)),
            has_unique_value=bool(body.get("hasUniqueValue", False)),
            calculated=bool(body.get("calculated", False)),
            external_options=bool(body.get("externalOptions", False)),
            hubspot_defined=hubspot_defined,
            read_only_value=bool(body.get("readOnlyValue", False)),
            show_currency_symbol=bool(body.get("showCurrencySymbol", False)),
            referenced_object_type=body.get("referencedObjectType"),
            calculation_formula=body.get("calculationFormula"),
        )

    def to_json(self, iso: Any) -> dict[str, Any]:
        """The wire form; ``iso`` turns epoch milliseconds into ISO 8601."""
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": self.options,
            "displayOrder": self.display_order,
            "calculated": self.calculated,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "hubspotDefined": self.hubspot_defined,
            "showCurrencySymbol": self.show_currency_symbol,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
            "formField": self.form_field,
            "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.updated_ms),
            "archived": self.archived_ms is not None,
        }
        if self.archived_ms is not None:
            body["archivedAt"] = iso(self.archived_ms)
        if self.referenced_object_type:
            body["referencedObjectType"] = self.referenced_object_type
        if self.calculation_formula:
            body["calculationFormula"] = self.calculation_formula
        return body


def parse_options(raw: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Enumeration options in the wire form, with HubSpot's defaults filled in."""
    return [
        {
            "label": str(option.get("label", option.get("value", ""))),
            "value": str(option.get("value", "")),
            "displayOrder": int(option.get("displayOrder", index)),
            "hidden": bool(option.get("hidden", False)),
            "description": str(option.get("description", "")),
        }
        for index, option in enumerate(raw or [])
    ]


@dataclass
class PropertyGroupDefinition:
    """One property group (``name``, ``label``, ``displayOrder``)."""

    name: str
    label: str
    display_order: int = -1
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "name": self.name,
            "label": self.label,
            "displayOrder": self.display_order,
            "archived": self.archived,
        }


def load_default_schema() -> dict[str, dict[str, Any]]:
    """The raw default groups and properties per object type, from the package data."""
    text = resources.files("closedloop.emulators.hubspot").joinpath("data/default_properties.json")
    document: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    objects: dict[str, dict[str, Any]] = document["objects"]
    return objects


def load_default_pipelines() -> dict[str, list[dict[str, Any]]]:
    """The raw default pipelines per object type, from the package data."""
    text = resources.files("closedloop.emulators.hubspot").joinpath("data/default_pipelines.json")
    document: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return {key: value for key, value in document.items() if not key.startswith("_")}
