"""Complete one chunk of a run: each person's records in the other system, and the views.

Part of :class:`~closedloop.sync.gather.Gatherer` (its base class). For every person of a chunk
it fetches the records the run did not read (by known id, else matched by email, see
:mod:`closedloop.sync.views`), decides which people get a new Lead, and turns each person's
records into the planner's :class:`~closedloop.sync.planner.SystemView` (with the shadow copy),
plus the Opportunities of converted leads as deal views.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from typing import Any

from closedloop.config.schema import Settings
from closedloop.connectors.contract import Connector, Record
from closedloop.mappings.field_types import FieldMappings
from closedloop.sync.echoes import ECHO_CACHE_MAX, EchoCheck
from closedloop.sync.model import RecordRef
from closedloop.sync.planner import RecordPlan, SystemView
from closedloop.sync.state import SyncState
from closedloop.sync.views import (
    EMAIL_FIELD,
    PERSON_OBJECTS,
    PersonRecords,
    history_fields,
    pick_crm_match,
    read_fields,
    view_of,
)

EXTERNAL_ID = "closedloop_id__c"


class ChunkCompletion:
    """Fetch what a chunk's people lack, and build their views (see the module docstring)."""

    def __init__(
        self,
        state: SyncState,
        connectors: dict[str, Connector],
        mappings: FieldMappings,
        roles: dict[str, str],
        settings: Settings,
    ) -> None:
        self.state, self.connectors, self.mappings = state, connectors, mappings
        self.marketing, self.crm = roles["marketing"], roles["crm"]
        self.settings = settings
        self.people: dict[str, PersonRecords] = {}
        self.to_create: set[str] = set()
        self._shadows: dict[RecordRef, dict[str, Any]] = {}
        self._echoes: dict[RecordRef, Record] = {}
        self._incremental = False
        self.crm_resolved = False
        """Set when this run tied every CRM record to its person first (a full run)."""
        self._checks: dict[tuple[str, str], EchoCheck] = {}
        self._owners = itertools.cycle(settings.sync.create.round_robin_owner_ids or [None])

    def _keep(self, person_id: str, system: str, record: Record) -> None:
        person = self.people.setdefault(person_id, PersonRecords(person_id))
        held = person.records.get(system)
        if held is None or not (held.object_type == "Contact" and record.object_type == "Lead"):
            person.records[system] = record

    def _complete(self) -> None:
        """Fetch each person's missing records: by known id, else by email, else create.

        :attr:`to_create` then names this chunk's people only (earlier chunks are planned).
        """
        self.to_create = set()
        for system in dict.fromkeys([self.marketing, self.crm]):
            lacking = [p for p in self.people.values() if system not in p.records]
            self._by_known_ids(system, lacking)
            lacking = [p for p in lacking if system not in p.records]
            if not (system == self.crm and self.crm_resolved):
                self._by_email(system, lacking)
            if system == self.crm and system != self.marketing:
                self.to_create |= {
                    p.person_id for p in lacking if system not in p.records and self._creates(p)
                }

    def _by_known_ids(self, system: str, people: list[PersonRecords]) -> None:
        wanted: dict[str, dict[str, str]] = {}
        known = self.state.identity.records_of_many(p.person_id for p in people)
        for person in people:
            refs = [r for r in known.get(person.person_id, []) if r.system == system]
            for ref in refs:
                if ref.object_type in PERSON_OBJECTS[system]:
                    wanted.setdefault(ref.object_type, {})[ref.record_id] = person.person_id
        converted: dict[str, str] = {}
        for object_type in sorted(wanted, key=lambda o: o != "Contact"):
            ids = wanted[object_type]
            for record in self._records_by_id(system, object_type, list(ids)):
                if record.fields.get("IsConverted"):
                    noted = self._note_conversion(record)
                    if noted is not None and noted[1] not in wanted.get("Contact", {}):
                        converted[noted[1]] = noted[0]
                else:
                    self._keep(ids[record.id], system, record)
        if converted:  # a lead converted since closedloop last looked: its Contact stands in
            fields = read_fields(self.mappings, system, "Contact")
            for record in self.connectors[system].read_records("Contact", list(converted), fields):
                self._keep(converted[record.id], system, record)

    def _records_by_id(self, system: str, object_type: str, ids: list[str]) -> list[Record]:
        """Records by id: echoes this run already read, else read (history where changed)."""
        found = [
            held
            for i in ids
            if (held := self._echoes.get(RecordRef(system, object_type, i))) is not None
        ]
        rest = [i for i in ids if RecordRef(system, object_type, i) not in self._echoes]
        if not rest:
            return found
        fields = read_fields(self.mappings, system, object_type)
        records = self.connectors[system].read_records(object_type, rest, fields)
        changed, echoes = self._split_echoes(system, object_type, records)
        return found + echoes + self._with_history(system, object_type, changed)

    def _echo_check(self, system: str, object_type: str) -> EchoCheck:
        key = (system, object_type)
        if key not in self._checks:
            self._checks[key] = EchoCheck(self.mappings, system, object_type)
        return self._checks[key]

    def _split_echoes(
        self, system: str, object_type: str, records: list[Record]
    ) -> tuple[list[Record], list[Record]]:
        """``records`` split into real changes and echoes of what closedloop already knew."""
        if not records:
            return [], []
        refs = [RecordRef(system, r.object_type, r.id) for r in records]
        shadows = self.state.shadow.get_many(refs)
        check = self._echo_check(system, object_type)
        changed: list[Record] = []
        echoes: list[Record] = []
        for record, ref in zip(records, refs, strict=True):
            (echoes if check.is_echo(record, shadows.get(ref)) else changed).append(record)
        return changed, echoes

    def _with_history(self, system: str, object_type: str, records: list[Record]) -> list[Record]:
        """``records`` read again with their property history, where the system keeps one."""
        history = history_fields(self.mappings, system, object_type)
        if not history or not records:
            return records
        fields = read_fields(self.mappings, system, object_type)
        ids = [r.id for r in records]
        return self.connectors[system].read_records(object_type, ids, fields, history)

    def _keep_echoes(self, system: str, echoes: list[Record]) -> None:
        """Hold echoes aside (up to :data:`ECHO_CACHE_MAX`) to complete people later."""
        for record in echoes:
            if len(self._echoes) >= ECHO_CACHE_MAX:
                return
            self._echoes[RecordRef(system, record.object_type, record.id)] = record

    def snapshot_of(self, view: SystemView) -> dict[str, Any]:
        """The unmapped fields of a person record as read, to remember next to its shadow."""
        if view.record_id is None or view.object_type not in PERSON_OBJECTS.get(view.system, ()):
            return {}
        return self._echo_check(view.system, view.object_type).snapshot(view.fields)

    def _conversion_known(self, lead: Record) -> bool:
        """Whether identity already ties this converted Lead and its Contact to one person."""
        contact_id = lead.fields.get("ConvertedContactId")
        if not contact_id:
            return False
        person = self.state.identity.person_of(RecordRef("salesforce", "Lead", lead.id))
        contact = RecordRef("salesforce", "Contact", str(contact_id))
        return person is not None and self.state.identity.person_of(contact) == person

    def _note_conversion(self, lead: Record) -> tuple[str, str] | None:
        """Record a converted Lead's Contact and Opportunity as its person's.

        Returns the person id and the Contact id (None when the lead names no Contact).
        """
        contact_id = lead.fields.get("ConvertedContactId")
        if not contact_id:
            return None
        opportunity = lead.fields.get("ConvertedOpportunityId")
        converted = lead.fields.get("ConvertedDate")
        person_id = self.state.identity.convert(
            RecordRef("salesforce", "Lead", lead.id),
            RecordRef("salesforce", "Contact", str(contact_id)),
            RecordRef("salesforce", "Opportunity", str(opportunity)) if opportunity else None,
            at=datetime.fromisoformat(f"{converted}T00:00:00+00:00") if converted else None,
        )
        return person_id, str(contact_id)

    def _by_email(self, system: str, people: list[PersonRecords]) -> None:
        emails: dict[str, str] = {}
        for person in people:
            for record in person.records.values():
                value = next(
                    (record.fields.get(f) for f in EMAIL_FIELD.values() if record.fields.get(f)),
                    None,
                )
                if value:
                    emails[str(value).strip().lower()] = person.person_id
        if not emails:
            return
        found: list[Record] = []
        for object_type in PERSON_OBJECTS[system]:
            fields = read_fields(self.mappings, system, object_type)
            found += self.connectors[system].find(
                object_type, EMAIL_FIELD[system], list(emails), fields
            )
        by_email: dict[str, list[Record]] = {}
        for record in found:
            key = str(record.fields.get(EMAIL_FIELD[system]) or "").strip().lower()
            by_email.setdefault(key, []).append(record)
        for email, candidates in by_email.items():
            person_id = emails.get(email)
            match = pick_crm_match(candidates) if system == "salesforce" else candidates[0]
            if person_id is None or match is None:
                continue
            ref = RecordRef(system, match.object_type, match.id)
            owner = self.state.identity.person_of(ref)
            if owner is None:
                self.state.identity.link(ref, person_id)
            if owner in (None, person_id):
                self._keep(person_id, system, match)

    def _creates(self, person: PersonRecords) -> bool:
        rules = self.settings.sync.create
        source = person.records.get(self.marketing)
        if source is None or not source.fields.get(EMAIL_FIELD[self.marketing]):
            return False
        if rules.inclusion_property:
            return str(source.fields.get(rules.inclusion_property, "")).lower() == "true"
        stage = str(source.fields.get("lifecyclestage") or "")
        return not rules.lifecycle_stages or stage in rules.lifecycle_stages

    def deal_views(self, people: list[PersonRecords]) -> dict[str, list[SystemView]]:
        """Each person's Salesforce opportunities (from lead conversion), to stamp as deals."""
        if "salesforce" not in self.connectors:
            return {}
        owners: dict[str, str] = {}
        known = self.state.identity.records_of_many(p.person_id for p in people)
        for person in people:
            for ref in known.get(person.person_id, []):
                if ref.system == "salesforce" and ref.object_type == "Opportunity":
                    owners[ref.record_id] = person.person_id
        if not owners:
            return {}
        fields = sorted(
            {
                m.targets["salesforce"].field
                for m in self.mappings.for_system("salesforce", "Opportunity")
                if m.entity == "deal"
            }
        )
        records = self.connectors["salesforce"].read_records("Opportunity", list(owners), fields)
        refs = [RecordRef("salesforce", "Opportunity", r.id) for r in records]
        shadows = self.state.shadow.get_many(refs)
        views: dict[str, list[SystemView]] = {}
        for record, ref in zip(records, refs, strict=True):
            view = dataclasses.replace(
                view_of("salesforce", record, shadows.get(ref)), person_id=owners[record.id]
            )
            views.setdefault(owners[record.id], []).append(view)
        return views

    def views_of(self, person: PersonRecords) -> dict[str, SystemView]:
        """The planner's view of each of the person's records (or of the Lead to create)."""
        views = {}
        for system, record in person.records.items():
            ref = RecordRef(system, record.object_type, record.id)
            view = view_of(system, record, self._shadows.get(ref))
            views[system] = dataclasses.replace(view, person_id=person.person_id)
        if person.person_id in self.to_create:
            views[self.crm] = SystemView(
                self.crm,
                "Lead",
                None,
                {},
                person_id=person.person_id,
                match=(EXTERNAL_ID, person.person_id),
            )
        return views

    def with_creation_defaults(self, plan: RecordPlan, person: PersonRecords) -> SystemView:
        """A new Lead gets the required fields' defaults and an owner, when the plan has none."""
        view = plan.view
        if view.record_id is not None:
            return view
        rules = self.settings.sync.create
        writes = plan.writes
        defaults: dict[str, Any] = {}
        if not writes.get("LastName"):
            defaults["LastName"] = rules.default_last_name
        if not writes.get("Company"):
            defaults["Company"] = rules.default_company
        owner = rules.default_owner_id or next(self._owners)
        if owner:
            defaults["OwnerId"] = owner
        return dataclasses.replace(view, create_fields=defaults)
