"""Admin shortcuts for permission sets: grant fields, assign to and unassign from the API user.

These write the same ``PermissionSet``, ``FieldPermissions`` and ``PermissionSetAssignment``
records a connector would create over REST, so field-level security behaves identically.
"""

from __future__ import annotations

from typing import Any

from closedloop.emulators.salesforce.org import Org


def _permission_set(org: Org, name_or_id: str) -> dict[str, Any]:
    for row in org.store.rows("PermissionSet"):
        if name_or_id in (row["Id"], row["Name"]):
            return row
    raise ValueError(f"no permission set {name_or_id!r}")


def grant_fields(
    org: Org, name: str, fields: list[str], *, edit: bool, assign_now: bool
) -> dict[str, Any]:
    """Create (or extend) a permission set granting read (and edit) on ``Object.Field`` names.

    Raises:
        ValueError: for a field that is not an existing custom field (via the record rules).
    """
    writer, objects = org.writer, org.schema.objects
    with org.store.transaction():
        try:
            permission_set_id = str(_permission_set(org, name)["Id"])
        except ValueError:
            permission_set_id = writer.create(
                objects["permissionset"], {"Name": name, "Label": name.replace("_", " ")}
            )
        for field_path in fields:
            writer.create(
                objects["fieldpermissions"],
                {
                    "ParentId": permission_set_id,
                    "SobjectType": field_path.split(".")[0],
                    "Field": field_path,
                    "PermissionsRead": True,
                    "PermissionsEdit": edit,
                },
            )
        if assign_now:
            assign(org, permission_set_id)
    return {
        "id": permission_set_id,
        "name": name,
        "fields": fields,
        "assigned": _assigned(org, permission_set_id),
    }


def _assignment(org: Org, permission_set_id: str) -> str | None:
    for row in org.store.rows("PermissionSetAssignment"):
        if row["PermissionSetId"] == permission_set_id and row["AssigneeId"] == org.api_user_id:
            return str(row["Id"])
    return None


def _assigned(org: Org, permission_set_id: str) -> bool:
    return _assignment(org, permission_set_id) is not None


def assign(org: Org, name_or_id: str) -> dict[str, Any]:
    """Assign a permission set to the API user (no-op when already assigned).

    Raises:
        ValueError: for an unknown permission set.
    """
    permission_set_id = str(_permission_set(org, name_or_id)["Id"])
    if not _assigned(org, permission_set_id):
        org.writer.create(
            org.schema.objects["permissionsetassignment"],
            {"AssigneeId": org.api_user_id, "PermissionSetId": permission_set_id},
        )
    return {"id": permission_set_id, "assigned": True}


def unassign(org: Org, name_or_id: str) -> dict[str, Any]:
    """Remove the API user's assignment of a permission set.

    Raises:
        ValueError: for an unknown permission set.
    """
    permission_set_id = str(_permission_set(org, name_or_id)["Id"])
    assignment = _assignment(org, permission_set_id)
    if assignment is not None:
        org.writer.delete(org.schema.objects["permissionsetassignment"], assignment, system=True)
    return {"id": permission_set_id, "assigned": False}
