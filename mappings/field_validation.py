"""Field-mapping validation: check parsed ``field_mappings.yaml`` data and build the mappings.

:mod:`closedloop.mappings.fields` parses and merges the files; this module checks each document
(:func:`parse_document`) and turns the merged entities and entries into
:class:`~closedloop.mappings.field_types.FieldMappings` (:func:`build_mappings`). Every problem
raises :class:`~closedloop.mappings.field_types.FieldMappingError` naming the file, the mapping
(``name`` or ``name/system``) and the reason. ``write_once`` and ``latest_wins`` are accepted
only on stamps (:data:`~closedloop.sync.model.STAMP_FIELDS`, or ``from:`` one), the ownership
rules only on data fields; ``rule: none`` mappings are dropped.

Typical use::

    doc = parse_document(text, "field_mappings.yaml")
    mappings = build_mappings(entities, fields, last_file="field_mappings.yaml")
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard, cast

import yaml

from closedloop.mappings.field_types import (
    ENTITIES,
    RULES,
    STAMP_RULES,
    TRANSFORMS,
    VALUE_TYPES,
    Entity,
    FieldMapping,
    FieldMappingError,
    FieldMappings,
    Origin,
    Rule,
    SystemField,
)
from closedloop.sync.model import STAMP_FIELDS

__all__ = ["ENTRY_KEYS", "Raw", "build_mappings", "need", "parse_document"]

Raw = dict[str, Any]
ENTRY_KEYS = frozenset({"rule", "entities", "from", "restore"})
_TOP_KEYS = frozenset({"version", "extends", "entities", "fields"})
_TARGET_KEYS = frozenset({"field", "objects", "type", "max_length", "transforms", "required"})
_TARGET_KEYS |= {"picklist", "picklist_default"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_STAMP_ONLY = "{stamp} is a stamp closedloop computes: use write_once, latest_wins or none"
_NOT_A_STAMP = (
    "unknown canonical field {name!r} for {rule}, which is for stamps closedloop computes "
    "(first_touch_source...); to fill a data field where the CRM is blank use "
    "prefer_crm_unless_blank"
)
_Entity = tuple[dict[str, tuple[str, ...]], str | None]  # objects per system, match key


def need(checks: list[tuple[object, str]], file: str, where: str) -> None:
    """Raise for the first check whose condition is false.

    Args:
        checks: ``(condition, reason)`` pairs, checked in order.
        file: the file being checked, for the error.
        where: the mapping (``name`` or ``name/system``) or section being checked.

    Raises:
        FieldMappingError: a condition is false; its reason is the error's.
    """
    for condition, reason in checks:
        if not condition:
            raise FieldMappingError(file, where, reason)


def _names(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def _text(value: object) -> str | None:
    """A scalar from YAML as text for membership checks (None stays None)."""
    return value if value is None or isinstance(value, str) else repr(value)


def _odd(raw: Raw, known: set[str] | frozenset[str]) -> str:
    return f"{sorted(map(str, set(raw) - known))} (known: {', '.join(sorted(known))})"


def _entities(raw_entities: dict[str, Raw], file: str) -> dict[str, _Entity]:
    out: dict[str, _Entity] = {}
    for name, raw in raw_entities.items():
        objects, key = raw.get("objects") or {}, raw.get("match_key")
        need(
            [
                (name in ENTITIES, f"unknown entity (known: {list(ENTITIES)})"),
                (set(raw) <= {"objects", "match_key"}, "entity keys are objects and match_key"),
                (all(_names(t) and t for t in objects.values()), "objects: system -> [types]"),
                (objects, "'objects' must name each system's object types"),
                (key or name != "person", "missing match key (e.g. match_key: email)"),
            ],
            file,
            f"entities.{name}",
        )
        out[name] = ({system: tuple(types) for system, types in objects.items()}, key)
    return out


def _target(
    file: str, where: str, system: str, spec: object, objects: tuple[str, ...]
) -> SystemField:
    raw = cast("Raw", {"field": spec} if isinstance(spec, str) else spec)
    need([(isinstance(raw, dict), "a field name or a mapping with 'field'")], file, where)
    name, kind, limit = raw.get("field"), raw.get("type", "string"), raw.get("max_length")
    transforms, narrow = raw.get("transforms") or [], raw.get("objects")
    subset = set(narrow) <= set(objects) if _names(narrow) else True
    names = transforms if isinstance(transforms, list) else []
    picklist, default = raw.get("picklist"), raw.get("picklist_default")
    texts = [*picklist, *picklist.values()] if isinstance(picklist, dict) else []
    need(
        [
            (set(raw) <= _TARGET_KEYS, f"unknown keys {_odd(raw, _TARGET_KEYS)}"),
            (isinstance(name, str) and name.strip(), "'field' needs the field's API name"),
            (kind in VALUE_TYPES, f"unknown type {kind!r} (known: {list(VALUE_TYPES)})"),
            (limit is None or (type(limit) is int and limit > 0), "max_length: a positive int"),
            (_names(transforms), "transforms: a list of names"),
            *((t in TRANSFORMS, f"unknown transform {t!r} (known: {TRANSFORMS})") for t in names),
            (picklist is None or (texts and kind == "string"), "bad picklist map: not a map"),
            (all(isinstance(t, str) and t for t in texts), "bad picklist map: text to text"),
            (default is None or (isinstance(default, str) and picklist), "bad picklist_default"),
            (narrow is None or _names(narrow), "objects: a list of object types"),
            (subset, f"objects: only some of {list(objects)}"),
            (isinstance(raw.get("required", False), bool), "required: true or false"),
        ],
        file,
        where,
    )
    types, table = tuple(narrow or objects), dict(picklist) if picklist else None
    required, field = bool(raw.get("required")), str(name).strip()
    return SystemField(system, types, field, tuple(names), table, default, limit, kind, required)


def _mapping(file: str, name: str, raw: Raw, entities: dict[str, _Entity]) -> list[FieldMapping]:
    rule, source = _text(raw.get("rule")), _text(raw.get("from"))
    restore = raw.get("restore", False)
    stamp = source or (name if name in STAMP_FIELDS else None)
    wanted = raw.get("entities", ["person"])
    wanted = wanted if _names(wanted) and wanted else [f"{wanted!r} (a list such as [person])"]
    systems = {system for objects, _ in entities.values() for system in objects}
    need(
        [
            (_NAME.match(str(name)), "mapping names are lower_snake_case"),
            (set(raw) <= ENTRY_KEYS | systems, f"unknown keys {_odd(raw, ENTRY_KEYS | systems)}"),
            (rule in RULES, f"unknown rule {rule!r} (known: {', '.join(RULES)})"),
            (
                source is None or source in STAMP_FIELDS,
                f"unknown canonical field {source!r} in from",
            ),
            (not stamp or rule in {*STAMP_RULES, "none"}, _STAMP_ONLY.format(stamp=stamp)),
            (stamp or rule not in STAMP_RULES, _NOT_A_STAMP.format(name=name, rule=rule)),
            (isinstance(restore, bool), "restore: true or false"),
            (not restore or rule == "marketing_owns", "restore applies to marketing_owns only"),
            *((e in entities, f"unknown entity {e} (see 'entities')") for e in wanted),
        ],
        file,
        name,
    )
    out = []
    for entity in wanted:
        objects, targets = entities[entity][0], {}
        for system, spec in raw.items():
            if system not in ENTRY_KEYS and spec is not None:
                where = f"{name}/{system}"
                need([(system in objects, f"no {system} objects for {entity}")], file, where)
                targets[system] = _target(file, where, system, spec, objects[system])
        need([(targets or rule == "none", "maps no system field")], file, name)
        if rule != "none":
            origin: Origin = "closedloop" if stamp else "system"
            kind = (cast("Rule", rule), cast("Entity", entity))
            args = (name, *kind, targets, origin, bool(restore), stamp, file)
            out.append(FieldMapping(*args))
    return out


def build_mappings(
    entities: dict[str, Raw], fields: dict[str, tuple[str, Raw]], last_file: str
) -> FieldMappings:
    """Validate merged entities and entries and build the mappings from them.

    Args:
        entities: the merged ``entities`` section, by entity name.
        fields: the merged entries by mapping name, each with the file that last set it.
        last_file: the last file applied, named in errors about entities and match keys.

    Returns:
        The validated mappings in file order, without the ``rule: none`` ones.

    Raises:
        FieldMappingError: an entity or entry is invalid, two mappings share a target field or
            an entity's match key is not mapped on all of its objects.
    """
    known = _entities(entities, last_file)
    mappings = [m for n, (f, raw) in fields.items() for m in _mapping(f, n, raw, known)]
    seen: dict[tuple[str, str, str], str] = {}
    for mapping in mappings:
        for system, target in mapping.targets.items():
            for obj in target.object_types:
                slot = (system, obj.casefold(), target.field.casefold())
                other = seen.setdefault(slot, mapping.canonical)
                reason = f"duplicate target field {obj}.{target.field} (also in {other!r})"
                where = f"{mapping.canonical}/{system}"
                need([(other == mapping.canonical, reason)], mapping.file, where)
    keys = {}
    for entity, (objects, key) in known.items():
        if key is not None:
            found = next((m for m in mappings if (m.canonical, m.entity) == (key, entity)), None)
            have = {s: set(t.object_types) for s, t in (found.targets if found else {}).items()}
            missing = [s for s, types in objects.items() if have.get(s) != set(types)]
            reason = f"missing match key: {key!r} is not mapped on every object of {missing}"
            need([(not missing, reason)], last_file, f"entities.{entity}")
            keys[entity] = key
    return FieldMappings(mappings, keys)


def parse_document(text: str, file: str) -> Raw:
    """Parse one mappings file and check its top level.

    Args:
        text: the file's YAML text.
        file: the file's name, for errors.

    Returns:
        The parsed document (entries are checked later, by :func:`build_mappings`).

    Raises:
        FieldMappingError: the text is not valid YAML or its top level is invalid.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FieldMappingError(file, "(file)", f"not valid YAML: {exc}") from exc
    ok = isinstance(doc, dict)
    doc = doc if ok else {}
    complete = "extends" in doc or (doc.get("entities") and doc.get("fields"))
    need(
        [
            (ok, "must be a mapping with 'entities' and 'fields'"),
            (set(doc) <= _TOP_KEYS, f"unknown top-level keys {_odd(doc, _TOP_KEYS)}"),
            (doc.get("version", 1) == 1, f"unsupported version {doc.get('version')!r}"),
            (doc.get("extends", "default") == "default", "'extends' can only be 'default'"),
            (complete, "'entities' and 'fields' are required (or 'extends: default')"),
            (isinstance(doc.get("entities") or {}, dict), "'entities' must be a mapping"),
            (isinstance(doc.get("fields") or {}, dict), "'fields' must be a mapping by name"),
        ],
        file,
        "(file)",
    )
    return cast("Raw", doc)
