"""Field and object definitions: the shape describe shows for every field and sObject type.

:class:`FieldDef` and :class:`ObjectDef` are plain data; the audit fields every object carries
come from :func:`system_fields`. Which objects exist in an org, standard and custom, is kept by
:class:`~closedloop.emulators.salesforce.schema.Schema`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FIELD_TYPES = frozenset(
    {
        "id",
        "string",
        "picklist",
        "boolean",
        "double",
        "int",
        "currency",
        "percent",
        "date",
        "datetime",
        "reference",
        "email",
        "phone",
        "url",
        "textarea",
    }
)
OWNED_SYSTEM_FIELDS = ("OwnerId",)
SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


@dataclass
class FieldDef:
    """One field as describe shows it."""

    name: str
    type: str
    length: int = 0
    label: str = ""
    required: bool = False
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    external_id: bool = False
    unique: bool = False
    name_field: bool = False
    defaulted: bool = False
    restricted: bool = False
    picklist: tuple[str, ...] = ()
    picklist_default: str | None = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship: str | None = None
    precision: int = 0
    scale: int = 0
    metadata_id: str | None = None
    created_at: str | None = None

    @property
    def nillable(self) -> bool:
        """Whether the field may hold null (booleans and required fields may not)."""
        return not (self.required or self.type in ("boolean", "id"))

    @property
    def is_text(self) -> bool:
        """Whether values are strings subject to a maximum length."""
        return self.type in ("string", "picklist", "email", "phone", "url", "textarea")


@dataclass
class ObjectDef:
    """One sObject type: its fields in describe order and what the API may do with it."""

    name: str
    label: str
    plural: str
    prefix: str
    custom: bool = False
    writable: bool = True
    owned: bool = False
    currency_only: bool = False
    fields: dict[str, FieldDef] = field(default_factory=dict)
    modified_at: float = 0.0
    metadata_id: str | None = None
    created_at: str | None = None

    def get(self, name: str) -> FieldDef | None:
        """The field called ``name`` (case-insensitive), visible or not."""
        return self.fields.get(name.lower())

    def add(self, definition: FieldDef) -> None:
        """Add (or replace) a field."""
        self.fields[definition.name.lower()] = definition


def label_for(name: str) -> str:
    """A readable label from an API name (``LastName`` → ``Last Name``)."""
    base = name[:-3] if name.endswith("__c") else name
    base = base.removesuffix("Id") if base.endswith("Id") and len(base) > 2 else base
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base.replace("_", " "))
    return spaced.strip() or name


def system_fields(owned: bool) -> list[FieldDef]:
    """The audit fields every object carries (plus OwnerId on owned objects)."""
    user_ref = ("User",)
    built = [
        FieldDef("Id", "id", 18, "Record ID", createable=False, updateable=False),
        FieldDef("IsDeleted", "boolean", 0, "Deleted", createable=False, updateable=False),
        FieldDef("CreatedDate", "datetime", 0, "Created Date", createable=False, updateable=False),
        FieldDef(
            "CreatedById",
            "reference",
            18,
            "Created By ID",
            createable=False,
            updateable=False,
            reference_to=user_ref,
            relationship_name="CreatedBy",
        ),
        FieldDef(
            "LastModifiedDate",
            "datetime",
            0,
            "Last Modified Date",
            createable=False,
            updateable=False,
        ),
        FieldDef(
            "LastModifiedById",
            "reference",
            18,
            "Last Modified By ID",
            createable=False,
            updateable=False,
            reference_to=user_ref,
            relationship_name="LastModifiedBy",
        ),
        FieldDef(
            "SystemModstamp", "datetime", 0, "System Modstamp", createable=False, updateable=False
        ),
    ]
    if owned:
        built.insert(
            1,
            FieldDef(
                "OwnerId",
                "reference",
                18,
                "Owner ID",
                defaulted=True,
                reference_to=user_ref,
                relationship_name="Owner",
            ),
        )
    return built
