"""Taking read records into a run's chunk: people resolved in bulk, touches, lead moments.

Part of :class:`~closedloop.sync.gather.Gatherer` (its base class, between it and
:class:`~closedloop.sync.completion.ChunkCompletion`). Each page of records is resolved to
people a run of records at a time (:meth:`RecordIntake._resolved`, one transaction for a whole
page in the common case), HubSpot merges and Salesforce lead conversions are applied in the
order they were read, and the touches the records carry go into the ledger: HubSpot's from
property history, Salesforce's campaign responses for every Lead and Contact of a chunk, and a
record's ``LeadSource`` when the person has no other touch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from closedloop.connectors.contract import Record
from closedloop.connectors.salesforce.reads import parse_datetime
from closedloop.sync.completion import ChunkCompletion
from closedloop.sync.model import RecordRef
from closedloop.sync.salesforce_touches import (
    MEMBER_KEYS,
    campaign_member_touches,
    lead_source_touch,
)
from closedloop.sync.touch_sources import (
    LifecycleDates,
    hubspot_lifecycle_dates,
    hubspot_touches,
    mark_lifecycle,
)
from closedloop.sync.touchpoints import Touchpoint
from closedloop.sync.views import EMAIL_FIELD, PersonRecords

__all__ = ["RecordIntake"]


class PersonSet:
    """A set of person ids, compact: a run of 200,000 people keeps one entry per person.

    Ids made by closedloop (32 hex digits) are held as their 16 bytes; any other as is.
    """

    def __init__(self) -> None:
        self._held: set[bytes | str] = set()

    @staticmethod
    def _key(person_id: str) -> bytes | str:
        if len(person_id) == 32:
            try:
                return bytes.fromhex(person_id)
            except ValueError:
                pass
        return person_id

    def __contains__(self, person_id: object) -> bool:
        return isinstance(person_id, str) and self._key(person_id) in self._held

    def __len__(self) -> int:
        return len(self._held)

    def update(self, person_ids: Iterable[str]) -> None:
        """Add every id."""
        self._held.update(self._key(p) for p in person_ids)


class RecordIntake(ChunkCompletion):
    """Resolves read records to people and records their touches (see the module docstring).

    :attr:`planned` holds the people already planned in an earlier chunk of the run: a record
    of theirs only adds touches.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.planned = PersonSet()

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
        stages: list[LifecycleDates] = []
        for record, resolved in self._resolved(system, records):
            if resolved is None:
                self._converted(record)
                continue
            person_id, ref = resolved, RecordRef(system, record.object_type, record.id)
            merged = str(record.fields.get("hs_merged_object_ids") or "")
            if merged:  # HubSpot merged other contacts into this one: their people join it
                away = [RecordRef(system, record.object_type, i) for i in merged.split(";") if i]
                person_id = self.state.identity.merge(ref, away)
            self._keep(person_id, system, record)
            if system == "hubspot":
                touches += [(person_id, t) for t in hubspot_touches(record)]
                stages.append((person_id, *hubspot_lifecycle_dates(record)))
                lead_date = record.fields.get("hs_lifecyclestage_lead_date")
                if lead_date:
                    at = datetime.fromisoformat(str(lead_date).replace("Z", "+00:00"))
                    leads.append((person_id, at))
            elif system == self.marketing and record.object_type == "Lead":
                created = parse_datetime(record.fields.get("CreatedDate"))
                if created:  # Salesforce as the marketing system: a Lead is a lead from birth
                    leads.append((person_id, created))
        self.state.identity.mark_leads(leads)
        mark_lifecycle(self.state.runs._engine, stages)  # MQL / SQL dates
        if touches:
            self.state.ledger.add_many(touches)

    def _resolved(self, system: str, records: list[Record]) -> Iterator[tuple[Record, str | None]]:
        """Each record with its person, in order; None for a converted Lead (it is the caller's).

        Records are resolved in bulk, a run of them at a time: a run ends before a converted
        Lead and after a HubSpot merge, so what the caller does with those (a conversion, a
        merge) happens before the records that follow are resolved, as if one by one.
        """
        run: list[Record] = []
        for record in records:
            converted = record.object_type == "Lead" and bool(record.fields.get("IsConverted"))
            if not converted:
                run.append(record)
            if converted or record.fields.get("hs_merged_object_ids"):
                yield from self._resolve_run(system, run)
                run = []
            if converted:
                yield record, None
        yield from self._resolve_run(system, run)

    def _resolve_run(self, system: str, records: list[Record]) -> Iterator[tuple[Record, str]]:
        items = []
        for record in records:
            email = record.fields.get(EMAIL_FIELD[system])
            items.append(
                (RecordRef(system, record.object_type, record.id), str(email) if email else None)
            )
        yield from zip(records, self.state.identity.resolve_many(items), strict=True)

    def _converted(self, lead: Record) -> None:
        if self._incremental and self._conversion_known(lead):
            return  # its people were planned when the conversion was first seen
        noted = self._note_conversion(lead)
        if noted is not None and noted[0] not in self.planned:
            self.people.setdefault(noted[0], PersonRecords(noted[0]))

    def _keep(self, person_id: str, system: str, record: Record) -> None:
        if person_id not in self.planned:
            super()._keep(person_id, system, record)
