"""The gather phase of a run: read changed records a chunk at a time, resolve people, touches.

See :mod:`closedloop.sync.engine` for where it fits, :mod:`closedloop.sync.completion` for how
a chunk's people get their other records, and :mod:`closedloop.sync.views` for the matching
rules. A run reads pages of records and, every :data:`CHUNK_PEOPLE` people, hands a completed
chunk to the engine, so memory stays flat however many records a full reconciliation reads.
Each page's records are resolved to people in bulk and their touches go into the ledger as they
are read (:mod:`closedloop.sync.intake`). A person is planned once per run: a record of someone
already planned in an earlier chunk only adds touches.

Reads are kept to what changed. A full run reads HubSpot's pages with their property history
(50 a page) and first ties every CRM record to its person (:meth:`Gatherer._resolve_crm`), so
no marketing person needs a CRM look-up by email. An incremental run recognises the echoes of
closedloop's own writes (:mod:`closedloop.sync.echoes`): they get no history read and no plan.
A Lead found converted while completing a chunk brings its Contact and Opportunity along in the
same run (:meth:`~closedloop.sync.completion.ChunkCompletion._note_conversion`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from closedloop.connectors.contract import Page, Record, Watermark
from closedloop.sync.completion import EXTERNAL_ID
from closedloop.sync.intake import PersonSet, RecordIntake
from closedloop.sync.runs import RunCounts
from closedloop.sync.salesforce_touches import MEMBER_KEYS
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


class Gatherer(RecordIntake):
    """Reads one run's worth of records and yields its people a chunk at a time.

    After :meth:`chunks` is exhausted, :attr:`marks` holds the watermark each (system, object)
    reached; the engine advances them only once the whole run has completed.
    """

    chunk_people = CHUNK_PEOPLE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.marks: dict[tuple[str, str], Watermark] = {}

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
        self.marks, self.planned = {}, PersonSet()
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
                live = [r for r in page.records if not r.archived]
                for record, person_id in self._resolved(self.crm, live):
                    if person_id is None:
                        self._note_conversion(record)
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
