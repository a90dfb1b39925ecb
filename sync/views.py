"""What each system says about a person, read in bulk and turned into planner views.

A run collects, per person it touches, one :class:`~closedloop.sync.planner.SystemView` per
system. The marketing side (HubSpot contacts) is read with property history, which also gives
the touches and per-field change times. On the CRM side (Salesforce) a person is a Contact once
converted, a Lead before; when closedloop knows no CRM record for a person it looks for one by
email before planning to create a Lead: **a Contact wins over a Lead, then the most recently
modified, then the lowest Id** (email is not unique in Salesforce, so the choice must be
deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from closedloop.connectors.contract import Record
from closedloop.mappings.field_types import FieldMappings
from closedloop.sync.model import RecordRef
from closedloop.sync.planner import SystemView
from closedloop.sync.salesforce_touches import LEAD_SOURCE_FIELDS
from closedloop.sync.touch_sources import HUBSPOT_TOUCH_FIELDS, HUBSPOT_TOUCH_HISTORY

LEAD_CONVERSION_FIELDS = (
    "Email",
    "IsConverted",
    "ConvertedContactId",
    "ConvertedOpportunityId",
    "ConvertedAccountId",
    "ConvertedDate",
)
EMAIL_FIELD = {"hubspot": "email", "salesforce": "Email"}
PERSON_OBJECTS = {"hubspot": ("contacts",), "salesforce": ("Lead", "Contact")}
HUBSPOT_VISIT_TIMES = ("hs_analytics_last_timestamp", "hs_latest_source_timestamp")
"""Moved by every new visit: read with the touch sources so a visit is never taken for an echo."""


def mapped_fields(mappings: FieldMappings, system: str, object_type: str) -> list[str]:
    """The system fields the person mappings read and write on ``object_type``."""
    return sorted(
        {
            m.targets[system].field
            for m in mappings.for_system(system, object_type)
            if m.entity == "person"
        }
    )


def read_fields(mappings: FieldMappings, system: str, object_type: str) -> list[str]:
    """Everything a run reads of a person record: mapped fields plus identity and touches.

    HubSpot's touch sources are read as current values too (their history comes separately),
    so that :mod:`closedloop.sync.echoes` can tell a new visit from closedloop's own write.
    """
    extra: tuple[str, ...] = (EMAIL_FIELD[system],)
    if system == "hubspot":
        extra += HUBSPOT_TOUCH_FIELDS + HUBSPOT_TOUCH_HISTORY + HUBSPOT_VISIT_TIMES
    if system == "salesforce" and object_type in ("Lead", "Contact"):
        extra += LEAD_SOURCE_FIELDS
    if object_type == "Lead":
        extra += LEAD_CONVERSION_FIELDS
    return sorted({*mapped_fields(mappings, system, object_type), *extra})


def history_fields(mappings: FieldMappings, system: str, object_type: str) -> list[str]:
    """Fields whose change history is read (touches, and change times for two-way rules)."""
    if system != "hubspot":
        return []
    return sorted({*HUBSPOT_TOUCH_HISTORY, *mapped_fields(mappings, system, object_type)})


@dataclass
class PersonRecords:
    """The records of one person seen (or found) in this run, by system."""

    person_id: str
    records: dict[str, Record] = field(default_factory=dict)

    def ref(self, system: str) -> RecordRef | None:
        """The reference of this person's record in ``system``, if known."""
        record = self.records.get(system)
        return RecordRef(system, record.object_type, record.id) if record else None


def view_of(system: str, record: Record, shadow: dict[str, object] | None) -> SystemView:
    """The planner's view of one read record."""
    changed_at: dict[str, datetime] = {}
    for name, changes in record.history.items():
        if changes:
            changed_at[name] = max(change.at for change in changes)
    return SystemView(
        system=system,
        object_type=record.object_type,
        record_id=record.id,
        fields=dict(record.fields),
        modified_at=record.modified_at,
        changed_at=changed_at,
        shadow=dict(shadow or {}),  # type: ignore[arg-type]
    )


def pick_crm_match(candidates: Iterable[Record]) -> Record | None:
    """The CRM record an email matches: Contact over Lead, newest, then lowest Id."""
    usable = [r for r in candidates if not r.archived and not r.fields.get("IsConverted")]
    if not usable:
        return None
    return sorted(
        usable,
        key=lambda r: (r.object_type != "Contact", -r.modified_at.timestamp(), r.id),
    )[0]


def emails_of(people: Sequence[PersonRecords], system: str) -> dict[str, str]:
    """Person id -> lower-cased email, from whatever record of theirs was read."""
    found: dict[str, str] = {}
    for person in people:
        for record in person.records.values():
            value = record.fields.get(EMAIL_FIELD.get(record_system(record), ""))
            if value:
                found[person.person_id] = str(value).strip().lower()
                break
    return found


def record_system(record: Record) -> str:
    """Which system a record came from, by its object type."""
    return "hubspot" if record.object_type in PERSON_OBJECTS["hubspot"] else "salesforce"
