"""closedloop's custom fields in a Salesforce org: what they are, what is missing, creating them.

The wanted fields are data (``mappings/data/salesforce_fields.yaml``). Provisioning works as
an admin would in a real org, over the API only:

1. each missing field is created through the Tooling API (``tooling/sobjects/CustomField``
   with ``FullName`` ``Lead.CL_First_Touch_Source__c`` and its ``Metadata``);
2. the permission set ``closedloop_integration`` is created if missing;
3. ``FieldPermissions`` rows grant it read and edit on every closedloop field (sObject
   Collections, 200 per call), because a new field is invisible to the API until granted;
4. the permission set is assigned to the integration user, whose id comes from the token's
   identity URL (or ``SELECT Id FROM User WHERE Username = …`` for the JWT user).

A dry run reports the same steps with their ``exists`` flags and writes nothing; a second run
finds everything and creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import yaml
from simple_salesforce.format import format_soql

from closedloop.connectors.contract import ProvisionStep
from closedloop.connectors.salesforce.api import SalesforceApi
from closedloop.connectors.salesforce.reads import SalesforceReader, soql, soql_ids
from closedloop.runtime.errors import ConnectorError, FatalSyncError

COLLECTION_MAX = 200
DESCRIPTION = "Maintained by closedloop; do not edit by hand."


@dataclass(frozen=True)
class FieldSpec:
    """One custom field closedloop needs on one object."""

    object_type: str
    name: str
    label: str
    metadata: dict[str, Any]

    @property
    def full_name(self) -> str:
        """``Object.Field__c``, as Tooling and FieldPermissions name it."""
        return f"{self.object_type}.{self.name}"

    def tooling_body(self) -> dict[str, Any]:
        """The ``tooling/sobjects/CustomField`` request body."""
        metadata = {**self.metadata, "label": self.label, "description": DESCRIPTION}
        metadata.setdefault("required", False)
        return {"FullName": self.full_name, "Metadata": metadata}


@dataclass(frozen=True)
class FieldPlan:
    """The fields and the permission set closedloop needs in an org."""

    permission_set: str
    permission_label: str
    permission_description: str
    fields: tuple[FieldSpec, ...]

    def objects(self) -> list[str]:
        """The objects that get fields, in plan order."""
        return list(dict.fromkeys(f.object_type for f in self.fields))

    def on(self, object_type: str) -> list[FieldSpec]:
        """The fields planned on ``object_type``."""
        return [f for f in self.fields if f.object_type == object_type]


def load_field_plan() -> FieldPlan:
    """Read and expand the shipped ``salesforce_fields.yaml``."""
    text = files("closedloop.mappings").joinpath("data/salesforce_fields.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    specs: list[FieldSpec] = []
    for object_type, spec in data["objects"].items():
        if spec.get("touch_fields"):
            for kind, kind_label in data["touch_kinds"].items():
                for suffix, meta in data["touch_fields"].items():
                    metadata = {k: v for k, v in meta.items() if k != "label"}
                    label = f"{kind_label} {meta['label']}"
                    specs.append(FieldSpec(object_type, f"CL_{kind}_{suffix}__c", label, metadata))
        for set_name in spec.get("field_sets", []):
            for entry in data["field_sets"][set_name]:
                metadata = {k: v for k, v in entry.items() if k not in ("name", "label")}
                specs.append(FieldSpec(object_type, entry["name"], entry["label"], metadata))
    permission = data["permission_set"]
    return FieldPlan(
        permission["name"], permission["label"], permission["description"], tuple(specs)
    )


@dataclass
class OrgState:
    """What exists in the org for closedloop (names are lower-cased ``Object.Field__c``)."""

    fields: set[str] = field(default_factory=set)
    permission_set_id: str | None = None
    grants: dict[str, tuple[str, bool, bool]] = field(default_factory=dict)
    user_id: str | None = None
    assigned: bool = False


class SalesforceProvisioner:
    """Checks and creates closedloop's fields and field access in one org."""

    def __init__(
        self, api: SalesforceApi, reader: SalesforceReader, plan: FieldPlan | None = None
    ) -> None:
        self._api = api
        self._reader = reader
        self.plan = plan or load_field_plan()

    def state(self) -> OrgState:
        """Read the fields, the permission set, its grants and its assignment."""
        state = OrgState(user_id=self.integration_user_id())
        query = soql(
            "Id, DeveloperName, TableEnumOrId, NamespacePrefix",
            "CustomField",
            where=f"TableEnumOrId IN {soql_ids(self.plan.objects())}",
        )
        for row in self._tooling_rows(query):
            if not row.get("NamespacePrefix"):
                state.fields.add(f"{row['TableEnumOrId']}.{row['DeveloperName']}__c".lower())
        found = self._rows(
            format_soql("SELECT Id FROM PermissionSet WHERE Name = {}", self.plan.permission_set)
        )
        if not found:
            return state
        state.permission_set_id = str(found[0]["Id"])
        grants = self._rows(
            format_soql(
                "SELECT Id, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions "
                "WHERE ParentId = {}",
                state.permission_set_id,
            )
        )
        for row in grants:
            key = str(row["Field"]).lower()
            state.grants[key] = (
                str(row["Id"]),
                bool(row["PermissionsRead"]),
                bool(row["PermissionsEdit"]),
            )
        if state.user_id:
            state.assigned = bool(
                self._rows(
                    format_soql(
                        "SELECT Id FROM PermissionSetAssignment "
                        "WHERE PermissionSetId = {} AND AssigneeId = {}",
                        state.permission_set_id,
                        state.user_id,
                    )
                )
            )
        return state

    def steps(self, state: OrgState | None = None) -> list[ProvisionStep]:
        """What provisioning does, with ``exists`` true where nothing is needed."""
        state = state or self.state()
        name = self.plan.permission_set
        steps = [
            ProvisionStep(
                "custom field",
                spec.full_name,
                f"{spec.label} ({spec.metadata['type']})",
                spec.full_name.lower() in state.fields,
            )
            for spec in self.plan.fields
        ]
        steps.append(
            ProvisionStep(
                "permission set", name, self.plan.permission_label, bool(state.permission_set_id)
            )
        )
        for spec in self.plan.fields:
            grant = state.grants.get(spec.full_name.lower())
            steps.append(
                ProvisionStep(
                    "field permission",
                    spec.full_name,
                    f"read and edit through {name}",
                    bool(grant and grant[1] and grant[2]),
                )
            )
        user = state.user_id or "the integration user"
        steps.append(
            ProvisionStep(
                "permission set assignment",
                f"{name} -> {user}",
                "assigned to the integration user",
                state.assigned,
            )
        )
        return steps

    def apply(self, *, dry_run: bool) -> list[ProvisionStep]:
        """Create what is missing (nothing when ``dry_run``); return the plan as found.

        Raises:
            FatalSyncError: when Salesforce refused some of it (the reasons are listed).
        """
        state = self.state()
        steps = self.steps(state)
        if dry_run:
            return steps
        refused: list[str] = []
        for spec in self.plan.fields:
            if spec.full_name.lower() not in state.fields:
                try:
                    self._api.restful(
                        "tooling/sobjects/CustomField", method="POST", json=spec.tooling_body()
                    )
                except ConnectorError as exc:
                    refused.append(f"{spec.full_name}: {exc}")
        if refused:
            raise FatalSyncError(
                f"Salesforce refused {len(refused)} closedloop field(s): " + "; ".join(refused[:5]),
                hint="the integration user needs Customize Application to create fields",
            )
        self._grant(state)
        self._api.forget_describes()
        return steps

    def integration_user_id(self) -> str | None:
        """The integration user: from the identity URL, else looked up by username."""
        user_id = self._api.session.user_id
        if user_id or not self._api.settings.username:
            return user_id
        rows = self._rows(
            format_soql("SELECT Id FROM User WHERE Username = {}", self._api.settings.username)
        )
        return str(rows[0]["Id"]) if rows else None

    def _grant(self, state: OrgState) -> None:
        permission_set_id = state.permission_set_id
        if permission_set_id is None:
            created = self._api.restful(
                "sobjects/PermissionSet",
                method="POST",
                json={
                    "Name": self.plan.permission_set,
                    "Label": self.plan.permission_label,
                    "Description": self.plan.permission_description,
                },
            )
            permission_set_id = str(created["id"])
        creates, updates = [], []
        for spec in self.plan.fields:
            grant = state.grants.get(spec.full_name.lower())
            access = {"PermissionsRead": True, "PermissionsEdit": True}
            if grant is None:
                creates.append(
                    {
                        "attributes": {"type": "FieldPermissions"},
                        "ParentId": permission_set_id,
                        "SobjectType": spec.object_type,
                        "Field": spec.full_name,
                        **access,
                    }
                )
            elif not (grant[1] and grant[2]):
                updates.append(
                    {"attributes": {"type": "FieldPermissions"}, "Id": grant[0], **access}
                )
        for method, records in (("POST", creates), ("PATCH", updates)):
            for start in range(0, len(records), COLLECTION_MAX):
                chunk = records[start : start + COLLECTION_MAX]
                answers = self._api.restful(
                    "composite/sobjects", method=method, json={"allOrNone": False, "records": chunk}
                )
                failed = [a for a in answers or [] if not a.get("success")]
                if failed:
                    errors = failed[0].get("errors")
                    raise FatalSyncError(
                        f"Salesforce refused {len(failed)} field permission(s): {errors}",
                        hint="the integration user needs Manage Profiles and Permission Sets",
                    )
        if not state.assigned and state.user_id:
            self._api.restful(
                "sobjects/PermissionSetAssignment",
                method="POST",
                json={"AssigneeId": state.user_id, "PermissionSetId": permission_set_id},
            )

    def _rows(self, soql: str) -> list[dict[str, Any]]:
        return [row for page in self._reader.pages(soql) for row in page]

    def _tooling_rows(self, soql: str) -> list[dict[str, Any]]:
        page = self._api.restful("tooling/query", params={"q": soql}, kind="query")
        rows = list(page.get("records") or [])
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self._api.query_more(str(page["nextRecordsUrl"]))
            rows.extend(page.get("records") or [])
        return rows
