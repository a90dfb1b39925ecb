"""Field-mapping data types: the rules, the validated mappings and their error.

These are the values :mod:`closedloop.mappings.fields` builds from ``field_mappings.yaml`` and
that sync reads: a :class:`FieldMapping` per canonical field and entity, with a
:class:`SystemField` per system it lives in, gathered in :class:`FieldMappings`. The closed
vocabularies (:data:`Rule`, :data:`Entity`, :data:`ValueType`, :data:`Transform`) are
``Literal`` types, listed at runtime in :data:`RULES`, :data:`ENTITIES`, :data:`VALUE_TYPES`
and :data:`TRANSFORMS`. Every problem with a mappings file raises :class:`FieldMappingError`.

Typical use::

    mapping = mappings.get("email")
    target = mapping.targets["salesforce"]          # a SystemField
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Literal, get_args

from closedloop.runtime.errors import MappingError

__all__ = [
    "DEFAULT_FILE",
    "ENTITIES",
    "OVERRIDE_FILE",
    "RULES",
    "STAMP_RULES",
    "TRANSFORMS",
    "VALUE_TYPES",
    "Entity",
    "FieldMapping",
    "FieldMappingError",
    "FieldMappings",
    "Origin",
    "Rule",
    "SystemField",
    "Transform",
    "ValueType",
]

Rule = Literal[
    "write_once",
    "latest_wins",
    "crm_owns",
    "marketing_owns",
    "prefer_crm_unless_blank",
    "two_way",
    "none",
]
RULES: tuple[Rule, ...] = get_args(Rule)
STAMP_RULES = frozenset({"write_once", "latest_wins"})
Entity = Literal["person", "deal"]
ENTITIES: tuple[Entity, ...] = get_args(Entity)
ValueType = Literal["string", "number", "datetime", "date", "bool"]
VALUE_TYPES: tuple[ValueType, ...] = get_args(ValueType)
Origin = Literal["closedloop", "system"]
Transform = Literal["trim", "lower", "upper"]
TRANSFORMS: tuple[Transform, ...] = get_args(Transform)

OVERRIDE_FILE = "field_mappings.yaml"
DEFAULT_FILE = "closedloop.mappings/data/field_mappings.yaml"


class FieldMappingError(MappingError):
    """A field-mapping file is invalid: ``file``, ``mapping`` and ``reason`` say where and why."""

    def __init__(self, file: str, mapping: str, reason: str) -> None:
        super().__init__(f"{file}: {mapping}: {reason}")
        self.file = file
        self.mapping = mapping
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class SystemField:
    """Where one mapping lives in one system, and how values are shaped on the way there."""

    system: str
    object_types: tuple[str, ...]
    field: str
    transforms: tuple[str, ...] = ()
    picklist: dict[str, str] | None = dataclasses.field(default=None, hash=False)
    picklist_default: str | None = None
    max_length: int | None = None
    value_type: ValueType = "string"
    required: bool = False


@dataclasses.dataclass(frozen=True)
class FieldMapping:
    """One field of one entity: its rule and its field in each system.

    Attributes:
        canonical: the mapping's name, a canonical field name (or a new data-field name).
        origin: ``closedloop`` for stamps closedloop computes, ``system`` for data that lives in
            the systems.
        restore: ``marketing_owns`` only: put a CRM-side edit back instead of refusing.
        computed_from: the stamp whose computed value it writes (None for data fields).
        file: the file that last defined or changed it.
    """

    canonical: str
    rule: Rule
    entity: Entity
    targets: dict[str, SystemField] = dataclasses.field(hash=False)
    origin: Origin
    restore: bool = False
    computed_from: str | None = None
    file: str = DEFAULT_FILE


class FieldMappings:
    """Validated mappings in file order.

    Build them with :func:`~closedloop.mappings.fields.load_field_mappings`.
    """

    def __init__(self, mappings: list[FieldMapping], match_keys: dict[str, str]) -> None:
        self.mappings = tuple(mappings)
        self.match_keys = dict(match_keys)

    def __iter__(self) -> Iterator[FieldMapping]:
        return iter(self.mappings)

    def __len__(self) -> int:
        return len(self.mappings)

    def for_entity(self, entity: str) -> tuple[FieldMapping, ...]:
        """The mappings of ``person`` or ``deal``."""
        return tuple(m for m in self.mappings if m.entity == entity)

    def for_system(self, system: str, object_type: str) -> tuple[FieldMapping, ...]:
        """The mappings with a field on ``object_type`` records of ``system``."""
        wanted = object_type.casefold()
        return tuple(
            m
            for m in self.mappings
            if (t := m.targets.get(system)) and wanted in (o.casefold() for o in t.object_types)
        )

    def get(self, canonical: str, entity: str | None = None) -> FieldMapping | None:
        """The mapping named ``canonical`` (of ``entity``, else the first: person's), or None."""
        found = (
            m for m in self.mappings if m.canonical == canonical and entity in (None, m.entity)
        )
        return next(found, None)

    def match_key(self, system: str, entity: str = "person") -> SystemField | None:
        """The field that matches ``system``'s records of ``entity`` (None without a key)."""
        name = self.match_keys.get(entity)
        mapping = self.get(name, entity) if name else None
        return mapping.targets.get(system) if mapping else None
