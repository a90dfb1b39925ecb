"""The gather phase of a run: read changed records, resolve people, collect their records.

See :mod:`closedloop.sync.engine` for where it fits, and :mod:`closedloop.sync.views` for the
matching rules. Touches found on the marketing side go into the ledger as they are read.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from closedloop.config.schema import Settings
from closedloop.connectors.contract import Connector, Page, Record, Watermark
from closedloop.mappings.field_types import FieldMappings
from closedloop.sync.model import RecordRef
from closedloop.sync.planner import RecordPlan, SystemView
from closedloop.sync.runs import RunCounts
from closedloop.sync.state import SyncState
from closedloop.sync.touch_sources import hubspot_touches
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
Progress = Callable[[str, int], None]
Targets = Mapping[tuple[str, str], Sequence[str]]


class Gatherer:
    """Reads one run's worth of records and keeps, per person, their current records."""

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
        self._owners = itertools.cycle(settings.sync.create.round_robin_owner_ids or [None])

    def gather(
        self,
        *,
        full: bool,
        counts: RunCounts,
        progress: Progress | None = None,
        targets: Targets | None = None,
    ) -> tuple[list[PersonRecords], dict[tuple[str, str], Watermark]]:
        """Read every changed (or, for ``full``, every) person record of both systems.

        With ``targets`` (``{(system, object type): record ids}``, from webhooks), read exactly
        those records instead; no watermark moves.
        """
        marks: dict[tuple[str, str], Watermark] = {}
        for system in dict.fromkeys([self.marketing, self.crm]):
            connector = self.connectors[system]
            for object_type in PERSON_OBJECTS[system]:
                fields = read_fields(self.mappings, system, object_type)
                since = self.state.watermarks.get(system, object_type)
                if targets is not None:
                    ids = list(dict.fromkeys(targets.get((system, object_type), ())))
                    pages: Iterable[Page] = (
                        [Page(connector.read_records(object_type, ids, fields), Watermark())]
                        if ids
                        else []
                    )
                elif full:
                    pages = connector.read_all(object_type, fields)
                else:
                    pages = connector.read_changes(object_type, since, fields)
                for page in pages:
                    records = [r for r in page.records if not r.archived]
                    if system == "hubspot" and records:
                        records = connector.read_records(
                            object_type,
                            [r.id for r in records],
                            fields,
                            history_fields(self.mappings, system, object_type),
                        )
                    self._take(system, records)
                    counts.read += len(page.records)
                    if progress:
                        progress(f"read {system} {object_type}", len(page.records))
                    mark = marks.get((system, object_type))
                    if page.watermark.modified_at and (mark is None or page.watermark > mark):
                        marks[(system, object_type)] = page.watermark
        self._complete()
        people = list(self.people.values())
        refs = [ref for p in people for s in p.records if (ref := p.ref(s)) is not None]
        self._shadows = self.state.shadow.get_many(refs)
        return people, marks

    def _take(self, system: str, records: list[Record]) -> None:
        touches = []
        for record in records:
            ref = RecordRef(system, record.object_type, record.id)
            email = record.fields.get(EMAIL_FIELD[system])
            if record.object_type == "Lead" and record.fields.get("IsConverted"):
                self._converted(record)
                continue
            person_id = self.state.identity.resolve(ref, str(email) if email else None)
            merged = str(record.fields.get("hs_merged_object_ids") or "")
            if merged:  # HubSpot merged other contacts into this one: their people join it
                away = [RecordRef(system, record.object_type, i) for i in merged.split(";") if i]
                person_id = self.state.identity.merge(ref, away)
            self._keep(person_id, system, record)
            if system == "hubspot":
                touches += [(person_id, t) for t in hubspot_touches(record)]
                lead_date = record.fields.get("hs_lifecyclestage_lead_date")
                if lead_date:
                    at = datetime.fromisoformat(str(lead_date).replace("Z", "+00:00"))
                    self.state.identity.mark_lead(person_id, at)
        if touches:
            self.state.ledger.add_many(touches)

    def _converted(self, lead: Record) -> None:
        contact_id = lead.fields.get("ConvertedContactId")
        if not contact_id:
            return
        opportunity = lead.fields.get("ConvertedOpportunityId")
        converted = lead.fields.get("ConvertedDate")
        person_id = self.state.identity.convert(
            RecordRef("salesforce", "Lead", lead.id),
            RecordRef("salesforce", "Contact", str(contact_id)),
            RecordRef("salesforce", "Opportunity", str(opportunity)) if opportunity else None,
            at=datetime.fromisoformat(f"{converted}T00:00:00+00:00") if converted else None,
        )
        self.people.setdefault(person_id, PersonRecords(person_id))

    def _keep(self, person_id: str, system: str, record: Record) -> None:
        person = self.people.setdefault(person_id, PersonRecords(person_id))
        held = person.records.get(system)
        if held is None or not (held.object_type == "Contact" and record.object_type == "Lead"):
            person.records[system] = record

    def _complete(self) -> None:
        """Fetch each person's missing records: by known id, else by email, else create."""
        for system in dict.fromkeys([self.marketing, self.crm]):
            lacking = [p for p in self.people.values() if system not in p.records]
            self._by_known_ids(system, lacking)
            lacking = [p for p in lacking if system not in p.records]
            self._by_email(system, lacking)
            if system == self.crm and system != self.marketing:
                self.to_create |= {
                    p.person_id for p in lacking if system not in p.records and self._creates(p)
                }

    def _by_known_ids(self, system: str, people: list[PersonRecords]) -> None:
        wanted: dict[str, dict[str, str]] = {}
        for person in people:
            refs = [
                r for r in self.state.identity.records_of(person.person_id) if r.system == system
            ]
            for ref in refs:
                if ref.object_type in PERSON_OBJECTS[system]:
                    wanted.setdefault(ref.object_type, {})[ref.record_id] = person.person_id
        for object_type in sorted(wanted, key=lambda o: o != "Contact"):
            ids = wanted[object_type]
            fields = read_fields(self.mappings, system, object_type)
            history = history_fields(self.mappings, system, object_type)
            for record in self.connectors[system].read_records(
                object_type, list(ids), fields, history
            ):
                if not record.fields.get("IsConverted"):
                    self._keep(ids[record.id], system, record)

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
        for person in people:
            for ref in self.state.identity.records_of(person.person_id):
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
