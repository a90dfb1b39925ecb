"""Field mappings as data: load, merge and validate ``field_mappings.yaml``.

The shipped default is ``closedloop/mappings/data/field_mappings.yaml``; its header documents
the format and the rules. An admin's ``field_mappings.yaml`` in the config folder changes it by
mapping name (``extends: default``) or replaces it. Every problem raises
:class:`FieldMappingError`, a ``MappingError`` naming the file, the mapping (``name`` or
``name/system``) and the reason. ``write_once`` and ``latest_wins`` are accepted only on stamps
(:data:`~closedloop.sync.model.STAMP_FIELDS`, or ``from:`` one), the ownership rules only on
data fields; ``rule: none`` mappings are dropped.

This module reads and merges the files. The data types live in
:mod:`closedloop.mappings.field_types` (import them from there) and the checks in
:mod:`closedloop.mappings.field_validation`.

Typical use::

    mappings = load_field_mappings(override_dir=Path("/etc/closedloop"))
    for mapping in mappings.for_system("salesforce", "Lead"): ...
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from closedloop.mappings.field_types import (
    DEFAULT_FILE,
    OVERRIDE_FILE,
    FieldMappingError,
    FieldMappings,
)
from closedloop.mappings.field_validation import (
    ENTRY_KEYS,
    Raw,
    build_mappings,
    need,
    parse_document,
)

__all__ = ["default_field_mappings", "load_field_mappings"]


class _Layers:
    """Raw entities and entries merged across files, remembering which file set each."""

    def __init__(self) -> None:
        self.entities: dict[str, Raw] = {}
        self.fields: dict[str, tuple[str, Raw]] = {}
        self.last_file = DEFAULT_FILE

    def apply(self, file: str, doc: Raw) -> None:
        self.last_file, extends = file, "extends" in doc
        if not extends:
            self.entities.clear()
            self.fields.clear()
        for name, raw in (doc.get("entities") or {}).items():
            objects_ok = isinstance(raw, dict) and isinstance(raw.get("objects") or {}, dict)
            need([(objects_ok, "objects: system -> [object types]")], file, f"entities.{name}")
            old = self.entities.get(name, {})
            objects = {**(old.get("objects") or {}), **(raw.get("objects") or {})}
            self.entities[name] = {**old, **raw, "objects": objects}
        for name, raw in (doc.get("fields") or {}).items():
            need([(isinstance(raw, dict), "must be a mapping (rule, systems)")], file, str(name))
            if extends and raw.get("rule") == "none":
                need([(name in self.fields, "rule none, but no mapping to remove")], file, name)
                del self.fields[name]
            else:
                old = self.fields.get(name, (file, {}))[1]
                self.fields[name] = (file, _merge(old, raw) if extends else raw)


def _merge(old: Raw, change: Raw) -> Raw:
    """An entry changed by an override: long-form systems (and picklists) merge key by key."""
    merged = dict(old)
    for key, value in change.items():
        before = merged.get(key)
        if key in ENTRY_KEYS or not isinstance(value, dict) or before is None:
            merged[key] = value
            continue
        before = {"field": before} if isinstance(before, str) else dict(before)
        merged[key] = {**before, **value}
        if isinstance(before.get("picklist"), dict) and isinstance(value.get("picklist"), dict):
            merged[key]["picklist"] = {**before["picklist"], **value["picklist"]}
    return merged


def _read(path: Path) -> tuple[str, Raw]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FieldMappingError(str(path), "(file)", f"cannot read it: {exc}") from exc
    return str(path), parse_document(text, str(path))


@cache
def _default_doc() -> Raw:
    """The shipped file, parsed once (merging never mutates the parsed documents)."""
    text = files("closedloop.mappings").joinpath("data/field_mappings.yaml").read_text("utf-8")
    return parse_document(text, DEFAULT_FILE)


def load_field_mappings(
    path: Path | None = None, *, override_dir: Path | None = None
) -> FieldMappings:
    """Load the field mappings: the shipped default, changed by an admin's files.

    Args:
        path: a mappings file used instead of the default (with ``extends: default`` it changes
            the default by mapping name instead).
        override_dir: the admin's config folder; its ``field_mappings.yaml``, when there, is
            applied last in the same way.

    Returns:
        The validated mappings, without the ``rule: none`` ones.

    Raises:
        FieldMappingError: a file is unreadable or invalid (a ``MappingError`` whose message and
            attributes name the file, the mapping and the reason).
    """
    layers = _Layers()
    layers.apply(DEFAULT_FILE, _default_doc())
    if path is not None:
        layers.apply(*_read(Path(path)))
    if override_dir is not None and (Path(override_dir) / OVERRIDE_FILE).is_file():
        layers.apply(*_read(Path(override_dir) / OVERRIDE_FILE))
    return build_mappings(layers.entities, layers.fields, layers.last_file)


@cache
def default_field_mappings() -> FieldMappings:
    """The shipped default mappings, loaded once per process."""
    return load_field_mappings()
