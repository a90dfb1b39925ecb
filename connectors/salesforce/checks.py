"""``closedloop check`` for a Salesforce org: sign-in, API access, fields, access, conversion.

Each item says in plain words what was checked, what was found and what to do. Two things
cannot be read over the REST API and are reported as manual checks with the Setup path:

* the lead-conversion field mapping lives in the Metadata API (``LeadConvertSettings``).
  closedloop still looks for evidence: recently converted Leads whose closedloop values did
  not reach their Contact mean a missing mapping, and that is reported as a failure;
* Outbound Message definitions (Setup > Outbound Messages) and their endpoint URLs.
"""

from __future__ import annotations

from closedloop.connectors.contract import CheckItem
from closedloop.connectors.salesforce.api import SalesforceApi
from closedloop.connectors.salesforce.provisioning import FieldSpec, SalesforceProvisioner
from closedloop.connectors.salesforce.reads import soql
from closedloop.runtime.errors import ConnectorError

PROVISION = "run `closedloop provision` (or `closedloop provision --dry-run` to preview it)"
MAP_LEAD_FIELDS = (
    "in Setup > Object Manager > Lead > Fields & Relationships > Map Lead Fields, map each "
    "CL_ Lead field to the Contact field of the same name, and add the CL_ fields to the "
    "Contact and Opportunity page layouts so sales reps see them"
)
OUTBOUND = (
    "in Setup > Outbound Messages, check that closedloop's messages (Lead, Contact, "
    "Opportunity) point at your closedloop server's Salesforce webhook URL and that "
    "View Message Delivery Status shows no failures"
)
EVIDENCE_SAMPLE = 200


def _shown(names: list[str], limit: int = 5) -> str:
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


class SalesforceChecks:
    """Runs the checks of one org."""

    def __init__(self, api: SalesforceApi, provisioner: SalesforceProvisioner) -> None:
        self._api = api
        self._provisioner = provisioner

    def run(self) -> list[CheckItem]:
        """Every check, stopping early when sign-in or API access fails."""
        try:
            session = self._api.session
        except ConnectorError as exc:
            return [CheckItem("sign in", False, str(exc), exc.hint)]
        flow = self._api.settings.auth_flow.replace("_", " ")
        items = [
            CheckItem(
                "sign in",
                True,
                f"signed in to {session.instance_url} with {flow} as user {session.user_id}",
            )
        ]
        try:
            self._api.query("SELECT Id FROM Organization LIMIT 1")
        except ConnectorError as exc:
            items.append(CheckItem("API access", False, str(exc), exc.hint))
            return items
        items.append(CheckItem("API access", True, self._usage()))
        try:
            items.extend(self._fields())
        except ConnectorError as exc:
            items.append(CheckItem("closedloop fields", False, str(exc), exc.hint))
            return items
        detail = "closedloop cannot read Outbound Message settings over the API: confirm by hand"
        items.append(CheckItem("outbound messages (manual)", True, detail, OUTBOUND))
        return items

    def _usage(self) -> str:
        share = self._api.settings.daily_share
        if self._api.api_usage is None:
            return f"API enabled; closedloop may use {share:.0%} of the daily allocation"
        used, total = self._api.api_usage
        return (
            f"API enabled; {used:,} of {total:,} daily calls used org-wide, "
            f"closedloop may use {int(total * share):,} ({share:.0%})"
        )

    def _fields(self) -> list[CheckItem]:
        plan = self._provisioner.plan
        state = self._provisioner.state()
        missing = [s.full_name for s in plan.fields if s.full_name.lower() not in state.fields]
        visible: set[str] = set()
        for object_type in plan.objects():
            describe = self._api.describe(object_type, fresh=True)
            visible |= {f"{object_type}.{f['name']}".lower() for f in describe.get("fields", [])}
        hidden = [
            s.full_name
            for s in plan.fields
            if s.full_name.lower() in state.fields and s.full_name.lower() not in visible
        ]
        items = []
        if missing:
            detail = f"{len(missing)} of {len(plan.fields)} fields are missing: {_shown(missing)}"
            items.append(CheckItem("closedloop fields", False, detail, PROVISION))
        else:
            items.append(CheckItem("closedloop fields", True, f"all {len(plan.fields)} exist"))
        if hidden:
            detail = (
                f"{len(hidden)} fields exist but the integration user cannot see them: "
                f"{_shown(hidden)}"
            )
            fix = f"assign the {plan.permission_set} permission set: {PROVISION}"
            items.append(CheckItem("field visibility", False, detail, fix))
        elif not missing:
            items.append(CheckItem("field visibility", True, "every closedloop field is visible"))
        items.append(self._access(state.assigned, state.permission_set_id, state.grants))
        visible_specs = [s for s in plan.fields if s.full_name.lower() in visible]
        items.append(self._conversion(visible_specs))
        return items

    def _access(
        self,
        assigned: bool,
        permission_set_id: str | None,
        grants: dict[str, tuple[str, bool, bool]],
    ) -> CheckItem:
        plan = self._provisioner.plan
        name = plan.permission_set
        if permission_set_id is None:
            return CheckItem(
                "field access", False, f"the {name} permission set does not exist", PROVISION
            )
        lacking = [
            s.full_name
            for s in plan.fields
            if not all(grants.get(s.full_name.lower(), ("", False, False))[1:])
        ]
        if lacking:
            detail = f"{name} lacks read and edit on {len(lacking)} fields: {_shown(lacking)}"
            return CheckItem("field access", False, detail, PROVISION)
        if not assigned:
            detail = f"{name} is not assigned to the integration user"
            return CheckItem("field access", False, detail, PROVISION)
        return CheckItem("field access", True, f"{name} grants read and edit and is assigned")

    def _conversion(self, visible: list[FieldSpec]) -> CheckItem:
        topic = "lead conversion mapping"
        on_contact = {s.name.lower() for s in visible if s.object_type == "Contact"}
        pairs = [
            s.name
            for s in visible
            if s.object_type == "Lead"
            and s.name.lower() in on_contact
            and s.name != "closedloop_id__c"
        ]
        if not pairs:
            return CheckItem(
                topic, False, "closedloop fields are not visible on Lead and Contact yet", PROVISION
            )
        select = ", ".join([*pairs, *(f"ConvertedContact.{p}" for p in pairs)])
        query = soql(
            f"Id, {select}",
            "Lead",
            where="IsConverted = true AND ConvertedContactId != null",
            order="ConvertedDate DESC",
            limit=EVIDENCE_SAMPLE,
        )
        rows = self._api.query(query).get("records") or []
        lost: set[str] = set()
        for row in rows:
            contact = row.get("ConvertedContact") or {}
            lost |= {p for p in pairs if row.get(p) is not None and contact.get(p) is None}
        if lost:
            names = sorted(lost)
            detail = (
                f"recently converted Leads lost {len(names)} closedloop values on the way to "
                f"their Contact, so these Lead fields are not mapped: {_shown(names)}"
            )
            return CheckItem(topic, False, detail, MAP_LEAD_FIELDS)
        seen = f"{len(rows)} recent conversions kept every closedloop value; " if rows else ""
        detail = (
            f"{seen}Salesforce does not expose the lead-conversion mapping over the REST API, "
            "so confirm it by hand"
        )
        return CheckItem(f"{topic} (manual)", True, detail, MAP_LEAD_FIELDS)
