"""The gather phase of a run: read changed records a chunk at a time, resolve people, touches.

See :mod:`closedloop.sync.engine` for where it fits, :mod:`closedloop.sync.completion` for how
a chunk's people get their other records, and :mod:`closedloop.sync.views` for the matching
rules. A run reads pages of records and, every :data:`CHUNK_PEOPLE` people, hands a completed
chunk to the engine, so memory stays flat however many records a full reconciliation reads.
Touches go into the ledger as they are read: HubSpot's from property history, Salesforce's
campaign responses for every Lead and Contact of the chunk, and a record's ``LeadSource`` when
the person has no other touch (:mod:`closedloop.sync.salesforce_touches`). A person is planned
once per run: a record of someone already planned in an earlier chunk only adds touches.

Reads are kept to what changed. A full run reads HubSpot's pages with their property history
(50 a page) and first ties every CRM record to its person (:meth:`Gatherer._resolve_crm`), so
no marketing person needs a CRM look-up by email. An incremental run recognises the echoes of
closedloop's own writes (:mod:`closedloop.sync.echoes`): they get no history read and no plan.
A Lead found converted while completing a chunk brings its Contact and Opportunity along in the
same run (:meth:`~closedloop.sync.completion.ChunkCompletion._note_conversion`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from closedloop.connectors.contract import Page, Record, Watermark
from closedloop.connectors.salesforce.reads import parse_datetime
from closedloop.sync.completion import EXTERNAL_ID, ChunkCompletion
from closedloop.sync.model import RecordRef
from closedloop.sync.runs import RunCounts
from closedloop.sync.salesforce_touches import (
    MEMBER_KEYS,
    campaign_member_touches,
    lead_source_touch,
)
from closedloop.sync.touch_sources import hubspot_touches
from closedloop.sync.touchpoints import Touchpoint
from closedloop.sync.views import (
    EMAIL_FIELD,
    LEAD_CONVERSION_FIELDS,
    PERSON_OBJECTS,
    PersonRecords,
    history_fields,
    read_fields,
)

__all__ = ["CHUNK_PEOPLE", "EXTERNAL_ID", "Gatherer", "Progress", "Targets"]

CHUNK_PEOPLE = 500
"""People per chunk: planned, guarded and staged together."""
MEMBERS = ("salesforce", "CampaignMember")
Progress = Callable[[str, int], None]
Targets = Mapping[tuple[str, str], Sequence[str]]


class Gatherer(ChunkCompletion):
    """Reads one run's worth of records and yields its people a chunk at a time.

    After :meth:`chunks` is exhausted, :attr:`marks` holds the watermark each (system, object)
    reached; the engine advances them only once the whole run has completed.
    """

    chunk_people = CHUNK_PEOPLE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marks: dict[tuple[str, str], Watermark] = {}
        self.planned: set[str] = set()

    def chunks(
        self,
        *,
        full: bool,
        counts: RunCounts,
        progress: Progress | None = None,
        targets: Targets | None = None,
    ) -> Iterator[list[PersonRecords]]:
        """Read every changed (or, for ``full``, every) person record of both systems.

        Yields completed chunks of people (their records in both systems, shadows loaded, so
        :meth:`views_of` works until the next chunk is requested). With ``targets``
        (``{(system, object type): record ids}``, from webhooks), read exactly those records.
        """
        self.marks, self.planned = {}, set()
        self._incremental = not full and targets is None
        self._echoes = {}
        self.crm_resolved = full and targets is None and self.crm != self.marketing
        if self.crm_resolved:
            self._resolve_crm(progress)
        for system in dict.fromkeys([self.marketing, self.crm]):
            for object_type in PERSON_OBJECTS[system]:
                for page in self._pages(system, object_type, full, targets):
                    self._take(system, self._fresh(system, object_type, page, full, targets))
                    counts.read += len(page.records)
                    if progress:
                        progress(f"read {system} {object_type}", len(page.records))
                    self._mark((system, object_type), page.watermark)
                    if len(self.people) >= self.chunk_people:
                        yield self._finish_chunk()
        if "salesforce" in (self.marketing, self.crm) and not full and targets is None:
            yield from self._new_campaign_members(counts, progress)
        if self.people:
            yield self._finish_chunk()

    def gather(
        self,
        *,
        full: bool,
        counts: RunCounts,
        progress: Progress | None = None,
        targets: Targets | None = None,
    ) -> tuple[list[PersonRecords], dict[tuple[str, str], Watermark]]:
        """The whole run as one chunk (small runs; :meth:`chunks` streams large ones)."""
        self.chunk_people = 2**62
        people = [
            p
            for chunk in self.chunks(full=full, counts=counts, progress=progress, targets=targets)
            for p in chunk
        ]
        return people, self.marks

    def _pages(
        self, system: str, object_type: str, full: bool, targets: Targets | None
    ) -> Iterable[Page]:
        connector = self.connectors[system]
        fields = read_fields(self.mappings, system, object_type)
        if targets is not None:
            ids = list(dict.fromkeys(targets.get((system, object_type), ())))
            if not ids:
                return []
            return [Page(connector.read_records(object_type, ids, fields), Watermark())]
        if full:  # every record, with its history where the system keeps one
            history = history_fields(self.mappings, system, object_type)
            return connector.read_all(object_type, fields, history)
        since = self.state.watermarks.get(system, object_type)
        return connector.read_changes(object_type, since, fields)

    def _resolve_crm(self, progress: Progress | None) -> None:
        """A full run first ties every CRM person record to its person, by id or email.

        Then the marketing side's people find their CRM records through identity, and none
        needs looking for by email: a full run has seen every CRM record with that email.
        Only ids, emails and conversion links are read (2,000 records a query on Salesforce).
        """
        connector = self.connectors[self.crm]
        for object_type in PERSON_OBJECTS[self.crm]:
            fields = [EMAIL_FIELD[self.crm]]
            if object_type == "Lead":
                fields += LEAD_CONVERSION_FIELDS
            for page in connector.read_all(object_type, sorted(set(fields))):
                for record in page.records:
                    if record.archived:
                        continue
                    if record.object_type == "Lead" and record.fields.get("IsConverted"):
                        self._note_conversion(record)
                        continue
                    email = record.fields.get(EMAIL_FIELD[self.crm])
                    ref = RecordRef(self.crm, record.object_type, record.id)
                    self.state.identity.resolve(ref, str(email) if email else None)
                if progress:
                    progress(f"resolved {self.crm} {object_type}", len(page.records))

    def _fresh(
        self, system: str, object_type: str, page: Page, full: bool, targets: Targets | None
    ) -> list[Record]:
        """The page's live records, with history for those that really changed.

        A full run's pages carry their history already. Otherwise echoes of closedloop's own
        writes (:mod:`closedloop.sync.echoes`) need no history; an incremental run leaves them
        out altogether (kept aside to complete their people, should another record of theirs
        change), while a targeted run plans them as asked.
        """
        records = [r for r in page.records if not r.archived]
        if full or not records:
            return records
        changed, echoes = self._split_echoes(system, object_type, records)
        changed = self._with_history(system, object_type, changed)
        if targets is not None:
            return changed + echoes
        self._keep_echoes(system, echoes)
        return changed

    def _mark(self, key: tuple[str, str], watermark: Watermark) -> None:
        mark = self.marks.get(key)
        if watermark.modified_at and (mark is None or watermark > mark):
            self.marks[key] = watermark

    def _new_campaign_members(
        self, counts: RunCounts, progress: Progress | None
    ) -> Iterator[list[PersonRecords]]:
        """Incremental runs: people with a new or changed campaign membership join the run.

        Adding a member does not change its Lead or Contact, so memberships have their own
        watermark; the members' records are read and taken like any changed record.
        """
        connector = self.connectors["salesforce"]
        since = self.state.watermarks.get(*MEMBERS)
        for page in connector.read_changes(MEMBERS[1], since, list(MEMBER_KEYS.values())):
            for object_type, key in MEMBER_KEYS.items():
                ids = {str(r.fields[key]) for r in page.records if r.fields.get(key)}
                fields = read_fields(self.mappings, "salesforce", object_type)
                records = connector.read_records(object_type, sorted(ids), fields) if ids else []
                self._take("salesforce", [r for r in records if not r.archived])
                counts.read += len(records)
            if progress:
                progress("read salesforce CampaignMember", len(page.records))
            self._mark(MEMBERS, page.watermark)
            if len(self.people) >= self.chunk_people:
                yield self._finish_chunk()

    def _finish_chunk(self) -> list[PersonRecords]:
        """Complete the chunk, add its Salesforce touches, load shadows; start the next one."""
        self._complete()
        self._salesforce_touches()
        people = list(self.people.values())
        self.planned.update(self.people)
        refs = [ref for p in people for s in p.records if (ref := p.ref(s)) is not None]
        self._shadows = self.state.shadow.get_many(refs)
        self.people = {}
        return people

    def _salesforce_touches(self) -> None:
        """Campaign responses of the chunk's Leads and Contacts; lead source as a fallback."""
        if "salesforce" not in self.connectors:
            return
        owners: dict[tuple[str, str], str] = {}
        for person in self.people.values():
            record = person.records.get("salesforce")
            if record is not None and record.object_type in MEMBER_KEYS:
                owners[(record.object_type, record.id)] = person.person_id
        touches: list[tuple[str, Touchpoint]] = []
        for object_type in MEMBER_KEYS:
            ids = [i for (o, i) in owners if o == object_type]
            found = campaign_member_touches(self.connectors["salesforce"], object_type, ids)
            touches += [(owners[(object_type, i)], t) for i, ts in found.items() for t in ts]
        if touches:
            self.state.ledger.add_many(touches)
        known = self.state.ledger.touches_by_person(owners.values())
        fallback = []
        for person in self.people.values():
            record = person.records.get("salesforce")
            if record is None or known.get(person.person_id):
                continue
            touch = lead_source_touch(record)
            if touch is not None:
                fallback.append((person.person_id, touch))
        if fallback:
            self.state.ledger.add_many(fallback)

    def _take(self, system: str, records: list[Record]) -> None:
        touches = []
        leads: list[tuple[str, datetime]] = []
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
                    leads.append((person_id, at))
            elif system == self.marketing and record.object_type == "Lead":
                created = parse_datetime(record.fields.get("CreatedDate"))
                if created:  # Salesforce as the marketing system: a Lead is a lead from birth
                    leads.append((person_id, created))
        self.state.identity.mark_leads(leads)
        if touches:
            self.state.ledger.add_many(touches)

    def _converted(self, lead: Record) -> None:
        if self._incremental and self._conversion_known(lead):
            return  # its people were planned when the conversion was first seen
        noted = self._note_conversion(lead)
        if noted is not None and noted[0] not in self.planned:
            self.people.setdefault(noted[0], PersonRecords(noted[0]))

    def _keep(self, person_id: str, system: str, record: Record) -> None:
        if person_id not in self.planned:
            super()._keep(person_id, system, record)
