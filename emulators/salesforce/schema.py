"""The org's object and field definitions: the standard objects of a fresh org plus custom ones.

Standard objects come from ``data/standard_objects.json``. Custom fields and objects are added
by the Tooling API or the admin routes; multi-currency adds ``CurrencyIsoCode`` fields. Whether
the API user may *see* a custom field is decided by
:mod:`~closedloop.emulators.salesforce.permissions`. The definitions themselves
(:class:`FieldDef`, :class:`ObjectDef`) live in :mod:`~closedloop.emulators.salesforce.schema_defs`
and are re-exported here.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from closedloop.emulators.salesforce.ids import KEY_PREFIXES
from closedloop.emulators.salesforce.schema_defs import (
    FIELD_TYPES,
    OWNED_SYSTEM_FIELDS,
    SYSTEM_FIELDS,
    FieldDef,
    ObjectDef,
    label_for,
    system_fields,
)

__all__ = [
    "CUSTOM_NAME",
    "DATA_OBJECTS",
    "FIELD_TYPES",
    "OWNED_SYSTEM_FIELDS",
    "SYSTEM_FIELDS",
    "FieldDef",
    "ObjectDef",
    "Schema",
    "label_for",
    "system_fields",
]

DATA_OBJECTS = (
    "Lead",
    "Account",
    "Contact",
    "Opportunity",
    "OpportunityContactRole",
    "Campaign",
    "CampaignMember",
)
CUSTOM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*__c$")


def _load_standard() -> dict[str, Any]:
    text = resources.files("closedloop.emulators.salesforce").joinpath("data/standard_objects.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


def _field_from_spec(spec: list[Any], picklists: dict[str, list[str]]) -> FieldDef:
    name, ftype, length = spec[0], spec[1], int(spec[2])
    flags = set(spec[3].split()) if len(spec) > 3 else set()
    extra = spec[4] if len(spec) > 4 else ""
    definition = FieldDef(name=name, type=ftype, length=length, label=label_for(name))
    definition.required = "req" in flags
    definition.createable = "ro" not in flags
    definition.updateable = not ({"ro", "co"} & flags)
    definition.external_id = "ext" in flags
    definition.unique = "ext" in flags or "uniq" in flags
    definition.name_field = "name" in flags
    definition.restricted = "restricted" in flags
    definition.defaulted = "default" in flags or ftype == "boolean"
    if ftype == "picklist":
        definition.picklist = tuple(picklists[extra])
        if "default" in flags:
            definition.picklist_default = definition.picklist[0]
    elif ftype == "reference":
        parts = extra.split(">")
        definition.reference_to = tuple(parts[0].split(","))
        definition.relationship_name = parts[1] if len(parts) > 1 else None
        definition.child_relationship = parts[2] if len(parts) > 2 else None
    if ftype in ("currency", "double", "percent"):
        definition.precision, definition.scale = 18, 2
    elif ftype == "int":
        definition.precision = 9
    return definition


class Schema:
    """Every sObject type of the org, standard and custom."""

    def __init__(self) -> None:
        raw = _load_standard()
        picklists: dict[str, list[str]] = dict(raw["picklists"])
        picklists["Stage"] = [stage[0] for stage in raw["stages"]]
        self.stages: list[list[Any]] = raw["stages"]
        self.picklists = picklists
        self.objects: dict[str, ObjectDef] = {}
        self.multicurrency = False
        self.currency_codes: tuple[str, ...] = ("USD",)
        self._custom_serial = 0
        for name, spec in raw["objects"].items():
            obj = ObjectDef(
                name=name,
                label=label_for(name),
                plural=spec["plural"],
                prefix=KEY_PREFIXES[name],
                writable=spec.get("access", "crud") != "r",
                owned=bool(spec.get("owned")),
                currency_only=bool(spec.get("currency")),
            )
            for definition in system_fields(obj.owned):
                obj.add(definition)
            for field_spec in spec["fields"]:
                obj.add(_field_from_spec(field_spec, picklists))
            self.objects[name.lower()] = obj

    def get(self, name: str) -> ObjectDef | None:
        """The object called ``name`` (case-insensitive) if it exists in this org."""
        obj = self.objects.get(name.lower())
        if obj is None or (obj.currency_only and not self.multicurrency):
            return None
        return obj

    def all(self) -> list[ObjectDef]:
        """Every existing object, sorted by name."""
        return sorted(
            (o for o in self.objects.values() if self.get(o.name) is not None),
            key=lambda o: o.name,
        )

    def by_prefix(self, prefix: str) -> ObjectDef | None:
        """The object whose ids start with ``prefix``."""
        for obj in self.objects.values():
            if obj.prefix == prefix and obj.name not in ("LeadStatus",):
                return obj
        return None

    def add_custom_object(self, name: str, label: str, plural: str, now: float) -> ObjectDef:
        """Create a custom object with its standard Name field.

        Raises:
            ValueError: when the name is not a custom API name or already exists.
        """
        if not CUSTOM_NAME.match(name) or name.lower() in self.objects:
            raise ValueError(f"invalid or duplicate custom object name: {name}")
        prefix = f"a{self._custom_serial:02d}"
        self._custom_serial += 1
        obj = ObjectDef(name, label, plural, prefix, custom=True, owned=True, modified_at=now)
        for definition in system_fields(owned=True):
            obj.add(definition)
        obj.add(FieldDef("Name", "string", 80, f"{label} Name", name_field=True, defaulted=False))
        self.objects[name.lower()] = obj
        return obj

    def add_custom_field(self, obj: ObjectDef, definition: FieldDef, now: float) -> None:
        """Add a custom field to ``obj``.

        Raises:
            ValueError: when the name is not ``X__c``, is taken, or the type is unknown.
        """
        if not CUSTOM_NAME.match(definition.name):
            raise ValueError(f"custom field names end in __c: {definition.name}")
        if obj.get(definition.name) is not None:
            raise ValueError(f"duplicate developer name: {obj.name}.{definition.name}")
        if definition.type not in FIELD_TYPES:
            raise ValueError(f"unsupported field type: {definition.type}")
        definition.custom = True
        obj.add(definition)
        obj.modified_at = now

    def enable_multicurrency(self, codes: tuple[str, ...], corporate: str, now: float) -> None:
        """Turn multi-currency on: ``CurrencyIsoCode`` appears on every data object."""
        self.multicurrency = True
        self.currency_codes = codes
        for obj in self.objects.values():
            if obj.name in DATA_OBJECTS or obj.custom:
                obj.add(
                    FieldDef(
                        "CurrencyIsoCode",
                        "picklist",
                        3,
                        "Currency ISO Code",
                        defaulted=True,
                        restricted=True,
                        picklist=codes,
                        picklist_default=corporate,
                    )
                )
                obj.modified_at = now
