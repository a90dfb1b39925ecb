"""Creating, updating and deleting records with Salesforce's validation.

Every entry point (REST, collections, Bulk API, conversion, admin writes, seeding) writes
through :class:`RecordWriter`. API-user writes obey field-level security and the
createable/updateable flags; system writes (admin drift, seed data) skip them and may set the
audit fields. Timestamps come from the emulator clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from closedloop.emulators.salesforce import rules
from closedloop.emulators.salesforce.errors import RecordError
from closedloop.emulators.salesforce.schema import FieldDef, ObjectDef
from closedloop.emulators.salesforce.values import coerce, format_datetime

if TYPE_CHECKING:
    from closedloop.emulators.salesforce.org import Org

AUDIT_FIELDS = (
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
    "CreatedById",
    "LastModifiedById",
)
_FLS_HINT = (
    "Please check the security settings of this field and verify that it is read/write for "
    "your profile or permission set."
)


class RecordWriter:
    """Validates and applies writes to the org's store."""

    def __init__(self, org: Org) -> None:
        self.org = org

    # ------------------------------------------------------------------ public
    def create(
        self,
        obj: ObjectDef,
        values: Mapping[str, Any],
        *,
        system: bool = False,
        from_csv: bool = False,
    ) -> str:
        """Insert a record and return its id.

        Raises:
            RecordError: on an unknown or read-only field, a bad value, a missing required
                field, a duplicate unique value or a bad reference.
        """
        self._check_writable_object(obj, "create")
        if not system and any(k.lower() == "id" for k in values):
            raise RecordError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        parsed = self._parse(obj, values, creating=True, system=system, from_csv=from_csv)
        org = self.org
        row: dict[str, Any] = {name.name: self._default(obj, name) for name in obj.fields.values()}
        row.update(parsed)
        now = format_datetime(org.clock.now())
        actor = org.admin_user_id if system else org.api_user_id
        record_id = org.ids.new(obj.prefix)
        row["Id"] = record_id
        row["IsDeleted"] = False
        for audit, value in (
            ("CreatedDate", now),
            ("LastModifiedDate", now),
            ("SystemModstamp", now),
        ):
            row[audit] = parsed.get(audit, value) if system else value
        row["CreatedById"] = row["LastModifiedById"] = actor
        if obj.owned and not row.get("OwnerId"):
            row["OwnerId"] = actor
        rules.apply(org, obj, row, None, set(parsed))
        self._check_required(obj, row)
        self._check_references(obj, row, set(parsed))
        self._check_unique(obj, row)
        org.store.put(obj.name, row, "create", frozenset(parsed), frozenset(parsed))
        rules.after_write(org, obj, row, None)
        return record_id

    def update(
        self,
        obj: ObjectDef,
        record_id: str,
        values: Mapping[str, Any],
        *,
        system: bool = False,
        from_csv: bool = False,
    ) -> None:
        """Change the given fields of a record (None clears a field).

        Raises:
            RecordError: as :meth:`create`, plus ``ENTITY_IS_DELETED``/``NOT_FOUND``.
        """
        self._check_writable_object(obj, "update")
        before = self.live(obj, record_id)
        if not system:
            rules.check_updatable(obj, before)
        body = {k: v for k, v in values.items() if k.lower() != "id"}
        parsed = self._parse(obj, body, creating=False, system=system, from_csv=from_csv)
        row = dict(before)
        row.update(parsed)
        now = format_datetime(self.org.clock.now())
        row["LastModifiedDate"] = parsed.get("LastModifiedDate", now) if system else now
        row["SystemModstamp"] = now
        row["LastModifiedById"] = self.org.admin_user_id if system else self.org.api_user_id
        rules.apply(self.org, obj, row, before, set(parsed))
        self._check_required(obj, row)
        self._check_references(obj, row, set(parsed))
        self._check_unique(obj, row)
        changed = frozenset(k for k in row if row.get(k) != before.get(k) and k not in AUDIT_FIELDS)
        self.org.store.put(obj.name, row, "update", changed, frozenset(parsed))
        rules.after_write(self.org, obj, row, before)

    def delete(self, obj: ObjectDef, record_id: str, *, system: bool = False) -> None:
        """Move a record (and the records that cascade from it) to the recycle bin.

        Raises:
            RecordError: ``ENTITY_IS_DELETED`` or ``NOT_FOUND``.
        """
        if not system and not obj.writable:
            raise RecordError(
                "INSUFFICIENT_ACCESS_OR_READONLY", f"cannot delete {obj.name} records"
            )
        row = dict(self.live(obj, record_id))
        now = format_datetime(self.org.clock.now())
        row["IsDeleted"] = True
        row["SystemModstamp"] = now
        self.org.store.put(obj.name, row, "delete", frozenset({"IsDeleted"}))
        if obj.name in rules.SECURITY_OBJECTS:
            self.org.schema_changed_at = self.org.clock.timestamp()
        for child_name, field_name in rules.CASCADES.get(obj.name, ()):
            child = self.org.schema.objects[child_name.lower()]
            for child_id in self.org.store.find(child_name, field_name, record_id):
                self.delete(child, child_id, system=True)

    def live(self, obj: ObjectDef, record_id: str) -> dict[str, Any]:
        """The live row with this id.

        Raises:
            RecordError: ``ENTITY_IS_DELETED`` or ``NOT_FOUND``.
        """
        row = self.org.store.get(obj.name, record_id, include_deleted=True)
        if row is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist")
        if row.get("IsDeleted"):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        return row

    # ----------------------------------------------------------------- helpers
    def _check_writable_object(self, obj: ObjectDef, verb: str) -> None:
        if not obj.writable:
            raise RecordError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support {verb}"
            )

    def _parse(
        self,
        obj: ObjectDef,
        values: Mapping[str, Any],
        *,
        creating: bool,
        system: bool,
        from_csv: bool,
    ) -> dict[str, Any]:
        security = self.org.security
        parsed: dict[str, Any] = {}
        locked: list[str] = []
        for key, value in values.items():
            if key == "attributes":
                continue
            definition = obj.get(key)
            if definition is None or (not system and not security.visible(obj, definition)):
                raise RecordError(
                    "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}"
                )
            if from_csv and value == "":
                continue
            if from_csv and value == "#N/A":
                value = None  # noqa: PLW2901  (Bulk API: "#N/A" clears the field)
            if not system:
                allowed = definition.createable if creating else definition.updateable
                if not allowed or not security.editable(obj, definition):
                    locked.append(definition.name)
                    continue
            elif definition.name == "Id":
                continue
            parsed[definition.name] = coerce(definition, value, from_csv=from_csv)
        if locked:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. {_FLS_HINT}",
                locked,
            )
        return parsed

    def _default(self, obj: ObjectDef, definition: FieldDef) -> Any:
        if definition.type == "boolean":
            return False
        if definition.name == "CurrencyIsoCode":
            return self.org.corporate_currency
        return definition.picklist_default

    def _check_required(self, obj: ObjectDef, row: Mapping[str, Any]) -> None:
        missing = [
            f.name for f in obj.fields.values() if f.required and row.get(f.name) in (None, "")
        ]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )

    def _check_references(self, obj: ObjectDef, row: Mapping[str, Any], touched: set[str]) -> None:
        schema, store = self.org.schema, self.org.store
        for definition in obj.fields.values():
            value = row.get(definition.name)
            if definition.type != "reference" or value is None or definition.name not in touched:
                continue
            target = schema.by_prefix(str(value)[:3])
            if target is None or target.name not in definition.reference_to:
                raise RecordError(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{definition.label}: id value of incorrect type: {value}",
                    [definition.name],
                )
            found = store.get(target.name, str(value), include_deleted=True)
            if found is None:
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"invalid cross reference id: {value}",
                    [definition.name],
                )
            if found.get("IsDeleted"):
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [definition.name])

    def _check_unique(self, obj: ObjectDef, row: Mapping[str, Any]) -> None:
        for definition in obj.fields.values():
            value = row.get(definition.name)
            if not definition.unique or value is None:
                continue
            others = [
                rid
                for rid in self.org.store.find(obj.name, definition.name, value)
                if rid != row["Id"]
            ]
            if others:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {definition.name} duplicates value on record with id: "
                    f"{others[0]}",
                    [definition.name],
                )
