"""Field-level security as Salesforce applies it to the API user.

Standard fields are always visible. A custom field is invisible to the API user (describe,
SOQL and writes answer as if it did not exist) until a permission set whose
``FieldPermissions`` grant ``PermissionsRead`` on it is assigned to that user through
``PermissionSetAssignment``. ``PermissionsEdit`` is needed to write it.
"""

from __future__ import annotations

from closedloop.emulators.salesforce.schema import FieldDef, ObjectDef
from closedloop.emulators.salesforce.store import RecordStore

_TABLES = ("PermissionSet", "FieldPermissions", "PermissionSetAssignment")


class FieldSecurity:
    """Answers "may the API user read / edit this field?" from the permission-set records.

    Args:
        store: the org's records (the three permission tables are read from it).
        api_user_id: the integration user every token authenticates as.
    """

    def __init__(self, store: RecordStore, api_user_id: str) -> None:
        self._store = store
        self._api_user_id = api_user_id
        self._cache_key: tuple[int, ...] = ()
        self._grants: dict[str, tuple[bool, bool]] = {}

    def _current(self) -> dict[str, tuple[bool, bool]]:
        key = tuple(self._store.versions[table] for table in _TABLES)
        if key != self._cache_key:
            self._grants = self._compute()
            self._cache_key = key
        return self._grants

    def _compute(self) -> dict[str, tuple[bool, bool]]:
        assigned = {
            str(row["PermissionSetId"])
            for row in self._store.rows("PermissionSetAssignment")
            if row.get("AssigneeId") == self._api_user_id
        }
        live_sets = {rid for rid in assigned if self._store.get("PermissionSet", rid) is not None}
        grants: dict[str, tuple[bool, bool]] = {}
        for row in self._store.rows("FieldPermissions"):
            if row.get("ParentId") not in live_sets:
                continue
            key = str(row.get("Field") or "").lower()
            read, edit = grants.get(key, (False, False))
            grants[key] = (
                read or bool(row.get("PermissionsRead")),
                edit or bool(row.get("PermissionsEdit")),
            )
        return grants

    def visible(self, obj: ObjectDef, definition: FieldDef) -> bool:
        """Whether the API user can see the field at all."""
        if not definition.custom:
            return True
        return self._current().get(f"{obj.name}.{definition.name}".lower(), (False, False))[0]

    def editable(self, obj: ObjectDef, definition: FieldDef) -> bool:
        """Whether the API user may write the field (read and edit granted)."""
        if not definition.custom:
            return True
        read, edit = self._current().get(f"{obj.name}.{definition.name}".lower(), (False, False))
        return read and edit

    def visible_fields(self, obj: ObjectDef) -> list[FieldDef]:
        """The object's fields the API user can see, in describe order."""
        return [f for f in obj.fields.values() if self.visible(obj, f)]
