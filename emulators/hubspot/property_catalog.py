"""The portal's property schema: groups and properties per object type, with HubSpot's rules.

Callers hold the portal lock; the catalog itself is not thread-safe.
"""

from __future__ import annotations

import re
from typing import Any

from closedloop.emulators.hubspot.errors import (
    HubSpotApiError,
    conflict,
    not_found,
    validation_error,
)
from closedloop.emulators.hubspot.object_types import OBJECT_TYPES
from closedloop.emulators.hubspot.property_model import (
    ALLOWED_FIELD_TYPES,
    PropertyDefinition,
    PropertyGroupDefinition,
    load_default_schema,
    parse_options,
)

PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
MAX_UNIQUE_PROPERTIES = 10
UPDATABLE_KEYS = {
    "label": "label",
    "description": "description",
    "groupName": "group_name",
    "displayOrder": "display_order",
    "hidden": "hidden",
    "formField": "form_field",
    "calculationFormula": "calculation_formula",
}


class PropertyCatalog:
    """Property groups and properties of every object type in one portal."""

    def __init__(self, now_ms: int) -> None:
        self.groups: dict[str, dict[str, PropertyGroupDefinition]] = {}
        self.properties: dict[str, dict[str, PropertyDefinition]] = {}
        self.default_groups: dict[str, set[str]] = {}
        schema = load_default_schema()
        for object_type in OBJECT_TYPES:
            raw = schema[object_type.name]
            self.groups[object_type.name] = {
                group["name"]: PropertyGroupDefinition(
                    group["name"], group["label"], group["displayOrder"]
                )
                for group in raw["groups"]
            }
            self.default_groups[object_type.name] = set(self.groups[object_type.name])
            properties: dict[str, PropertyDefinition] = {}
            for entry in raw["properties"]:
                definition = PropertyDefinition.from_json(entry, hubspot_defined=True)
                definition.created_ms = definition.updated_ms = now_ms
                properties[definition.name] = definition
            self.properties[object_type.name] = properties

    def get(self, object_type: str, name: str) -> PropertyDefinition | None:
        """The live (not archived) property called ``name``, if any."""
        found = self.properties[object_type].get(name)
        return found if found is not None and found.archived_ms is None else None

    def require(self, object_type: str, name: str) -> PropertyDefinition:
        """The live property called ``name``.

        Raises:
            HubSpotApiError: 404 when there is none.
        """
        found = self.get(object_type, name)
        if found is None:
            raise not_found(f"Unable to find property {name} for object type {object_type}")
        return found

    def listing(self, object_type: str, *, archived: bool) -> list[PropertyDefinition]:
        """Live properties, or with ``archived`` only the archived ones."""
        return [
            definition
            for definition in self.properties[object_type].values()
            if (definition.archived_ms is not None) == archived
        ]

    def unique_names(self, object_type: str) -> set[str]:
        """Names of the live properties that hold unique values (upsert keys)."""
        return {d.name for d in self.listing(object_type, archived=False) if d.has_unique_value}

    def create(self, object_type: str, body: dict[str, Any], now_ms: int) -> PropertyDefinition:
        """Create a custom property from a ``PropertyCreate`` body.

        Raises:
            HubSpotApiError: 400 on an invalid body, 409 when the name is taken.
        """
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)
        ]
        if missing:
            raise validation_error(f"Missing required fields: {', '.join(missing)}")
        name = str(body["name"])
        if not PROPERTY_NAME.match(name):
            raise validation_error(
                f"Property name '{name}' is invalid: use lowercase letters, digits and "
                "underscores, starting with a letter."
            )
        self._check_types(str(body["type"]), str(body["fieldType"]), body)
        self._require_group(object_type, str(body["groupName"]))
        if name in self.properties[object_type]:
            raise conflict(f"A property named '{name}' already exists.")
        definition = PropertyDefinition.from_json(body, hubspot_defined=False)
        too_many = len(self.unique_names(object_type)) >= MAX_UNIQUE_PROPERTIES
        if definition.has_unique_value and too_many:
            raise validation_error(
                f"Only {MAX_UNIQUE_PROPERTIES} unique-value properties are allowed per object type."
            )
        definition.created_ms = definition.updated_ms = now_ms
        self.properties[object_type][name] = definition
        return definition

    def update(
        self, object_type: str, name: str, body: dict[str, Any], now_ms: int
    ) -> PropertyDefinition:
        """Apply a ``PropertyUpdate`` body to a custom property.

        Raises:
            HubSpotApiError: 404 when absent, 400 for HubSpot-defined definitions or bad types.
        """
        definition = self.require(object_type, name)
        if definition.hubspot_defined:
            raise validation_error(
                f"The property {name} is HubSpot-defined; its definition is read-only."
            )
        new_type = str(body.get("type", definition.type))
        new_field_type = str(body.get("fieldType", definition.field_type))
        merged = {
            "options": body.get("options", definition.options),
            "externalOptions": body.get("externalOptions", definition.external_options),
        }
        self._check_types(new_type, new_field_type, merged)
        if "groupName" in body:
            self._require_group(object_type, str(body["groupName"]))
        definition.type, definition.field_type = new_type, new_field_type
        for key, attribute in UPDATABLE_KEYS.items():
            if key in body:
                setattr(definition, attribute, body[key])
        if "options" in body:
            definition.options = parse_options(body["options"])
        definition.updated_ms = now_ms
        return definition

    def archive(self, object_type: str, name: str, now_ms: int) -> None:
        """Archive a custom property.

        Raises:
            HubSpotApiError: 404 when absent, 400 for HubSpot-defined properties.
        """
        definition = self.require(object_type, name)
        if definition.hubspot_defined:
            raise validation_error(f"The property {name} is HubSpot-defined and not archivable.")
        definition.archived_ms = now_ms

    def create_group(self, object_type: str, body: dict[str, Any]) -> PropertyGroupDefinition:
        """Create a property group.

        Raises:
            HubSpotApiError: 400 on a missing name or label, 409 when the name is taken.
        """
        name, label = body.get("name"), body.get("label")
        if not name or not label:
            raise validation_error("Property groups need a name and a label.")
        if not PROPERTY_NAME.match(str(name)):
            raise validation_error(f"Property group name '{name}' is invalid.")
        existing = self.groups[object_type].get(str(name))
        if existing is not None and not existing.archived:
            raise conflict(f"A property group named '{name}' already exists.")
        group = PropertyGroupDefinition(str(name), str(label), int(body.get("displayOrder", -1)))
        self.groups[object_type][group.name] = group
        return group

    def require_group(self, object_type: str, name: str) -> PropertyGroupDefinition:
        """The live group called ``name``.

        Raises:
            HubSpotApiError: 404 when there is none.
        """
        group = self.groups[object_type].get(name)
        if group is None or group.archived:
            raise not_found(f"Unable to find property group {name} for {object_type}")
        return group

    def archive_group(self, object_type: str, name: str) -> None:
        """Archive a custom, empty property group.

        Raises:
            HubSpotApiError: 404 when absent, 400 for default or non-empty groups.
        """
        group = self.require_group(object_type, name)
        if name in self.default_groups[object_type]:
            raise validation_error(f"The property group {name} is HubSpot-defined.")
        if any(d.group_name == name for d in self.listing(object_type, archived=False)):
            raise validation_error(f"The property group {name} still holds properties.")
        group.archived = True

    def _require_group(self, object_type: str, name: str) -> None:
        group = self.groups[object_type].get(name)
        if group is None or group.archived:
            raise validation_error(f"Property group {name} does not exist.")

    @staticmethod
    def _check_types(kind: str, field_type: str, body: dict[str, Any]) -> None:
        allowed = ALLOWED_FIELD_TYPES.get(kind)
        if allowed is None:
            raise validation_error(f"Invalid property type: {kind}")
        if field_type not in allowed:
            raise validation_error(
                f"fieldType {field_type} is not allowed for type {kind}; "
                f"use one of {sorted(allowed)}."
            )
        if kind == "enumeration" and not body.get("options") and not body.get("externalOptions"):
            raise HubSpotApiError(
                400, "VALIDATION_ERROR", "Enumeration properties need at least one option."
            )
