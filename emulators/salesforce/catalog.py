"""The SOQL catalog over the org: what the API user can see, and the Tooling API's view.

:class:`OrgCatalog` implements :class:`~closedloop.emulators.salesforce.soql.SoqlCatalog` for
``query``/``queryAll`` and Bulk API query jobs, hiding custom fields the API user has no
permission to read. :class:`ToolingCatalog` exposes ``CustomField`` and ``CustomObject``
metadata rows for ``tooling/query``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from closedloop.emulators.salesforce.org import Org
from closedloop.emulators.salesforce.schema import FieldDef, ObjectDef
from closedloop.emulators.salesforce.soql import FieldInfo


def field_info(definition: FieldDef) -> FieldInfo:
    """The SOQL view of a field definition."""
    return FieldInfo(
        name=definition.name,
        type=definition.type,
        reference_to=definition.reference_to,
        relationship_name=definition.relationship_name,
    )


class OrgCatalog:
    """Schema and rows of the org as the API user sees them."""

    def __init__(self, org: Org) -> None:
        self._org = org

    def _object(self, sobject: str) -> ObjectDef | None:
        return self._org.schema.get(sobject)

    def sobject_name(self, name: str) -> str | None:
        """Canonical object name, or None."""
        obj = self._object(name)
        return obj.name if obj else None

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        """A visible field of ``sobject``, or None."""
        obj = self._object(sobject)
        definition = obj.get(name) if obj else None
        if obj is None or definition is None or not self._org.security.visible(obj, definition):
            return None
        return field_info(definition)

    def relationship(self, sobject: str, relationship_name: str) -> FieldInfo | None:
        """The visible reference field with this relationship name, or None."""
        obj = self._object(sobject)
        if obj is None:
            return None
        for definition in obj.fields.values():
            rel = definition.relationship_name
            if (
                rel
                and rel.lower() == relationship_name.lower()
                and self._org.security.visible(obj, definition)
            ):
                return field_info(definition)
        return None

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        """Rows of ``sobject`` (deleted ones too for queryAll)."""
        return list(self._org.store.rows(sobject, include_deleted=include_deleted))

    def records_with_ids(
        self, sobject: str, field_name: str, keys: Iterable[str], *, include_deleted: bool
    ) -> Iterable[Mapping[str, Any]]:
        """The rows whose id field holds one of ``keys``, as :meth:`records` orders them."""
        return self._org.store.rows_with_ids(
            sobject, field_name, keys, include_deleted=include_deleted
        )

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        """One row by id, deleted or not."""
        return self._org.store.get(sobject, record_id, include_deleted=True)


_TOOLING_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "CustomField": (
        ("Id", "id"),
        ("DeveloperName", "string"),
        ("FullName", "string"),
        ("TableEnumOrId", "string"),
        ("NamespacePrefix", "string"),
        ("Length", "int"),
        ("CreatedDate", "datetime"),
        ("LastModifiedDate", "datetime"),
    ),
    "CustomObject": (
        ("Id", "id"),
        ("DeveloperName", "string"),
        ("FullName", "string"),
        ("NamespacePrefix", "string"),
        ("CreatedDate", "datetime"),
        ("LastModifiedDate", "datetime"),
    ),
}


class ToolingCatalog:
    """``CustomField`` and ``CustomObject`` metadata rows for ``tooling/query``.

    Args:
        rows: tooling object name → rows keyed by canonical field names (see ``tooling``).
    """

    def __init__(self, rows: Mapping[str, list[dict[str, Any]]]) -> None:
        self._rows = rows

    def sobject_name(self, name: str) -> str | None:
        """``CustomField`` or ``CustomObject`` (case-insensitive), else None."""
        for known in _TOOLING_FIELDS:
            if known.lower() == name.lower():
                return known
        return None

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        """A tooling field, or None."""
        for field_name, field_type in _TOOLING_FIELDS.get(sobject, ()):
            if field_name.lower() == name.lower():
                return FieldInfo(field_name, field_type)
        return None

    def relationship(self, sobject: str, relationship_name: str) -> FieldInfo | None:
        """Tooling rows have no relationships here."""
        return None

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        """The metadata rows of one tooling object."""
        return list(self._rows.get(sobject, []))

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        """One metadata row by id."""
        return next((row for row in self._rows.get(sobject, []) if row["Id"] == record_id), None)
