"""CRM records of one object type: ids, values, property history and the search view.

Callers hold the portal lock; nothing here is thread-safe on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from closedloop.emulators.hubspot.object_types import ObjectType


@dataclass(frozen=True)
class WriteSource:
    """Who wrote a value: recorded in property history and in webhook ``changeSource``.

    Writes through a private-app or OAuth token are ``INTEGRATION`` with the app id as
    ``source_id``, which lets a connector recognise its own writes.
    """

    source_type: str
    source_id: str | None = None
    source_label: str | None = None
    change_source: str = "INTEGRATION"


@dataclass
class HistoryEntry:
    """One past value of a property (``propertiesWithHistory``)."""

    value: str
    timestamp_ms: int
    source: WriteSource


@dataclass
class Record:
    """One CRM record. ``properties`` holds only non-empty values, as strings."""

    id: str
    object_type: str
    created_ms: int
    updated_ms: int
    properties: dict[str, str] = field(default_factory=dict)
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)
    archived_ms: int | None = None
    merged_ids: list[str] = field(default_factory=list)
    search_visible: dict[str, str] | None = None
    search_pending: list[tuple[int, dict[str, str] | None]] = field(default_factory=list)

    @property
    def archived(self) -> bool:
        """Whether the record is in the recycle bin."""
        return self.archived_ms is not None

    def search_view(self, now_ms: int) -> dict[str, str] | None:
        """The values search sees now (``None`` while not indexed or after archiving)."""
        while self.search_pending and self.search_pending[0][0] <= now_ms:
            self.search_visible = self.search_pending.pop(0)[1]
        return self.search_visible

    def reindex(self, now_ms: int, lag_ms: int) -> None:
        """Make the current state searchable, at once or after ``lag_ms``."""
        snapshot = None if self.archived else dict(self.properties)
        if lag_ms <= 0:
            self.search_pending.clear()
            self.search_visible = snapshot
        else:
            self.search_pending.append((now_ms + lag_ms, snapshot))


class ObjectStore:
    """All records of one object type, in id order, with unique-value lookups.

    Args:
        object_type: the type stored here.
        first_id: the id the first record receives.
    """

    def __init__(self, object_type: ObjectType, first_id: int) -> None:
        self.object_type = object_type
        self.records: dict[str, Record] = {}
        self.merged_into: dict[str, str] = {}
        self.unique_index: dict[tuple[str, str], str] = {}
        self._next_id = first_id

    def new_id(self) -> str:
        """The next free record id."""
        value = str(self._next_id)
        self._next_id += 1
        return value

    def add(self, record: Record) -> None:
        """Store a new record."""
        self.records[record.id] = record

    def find(self, record_id: str, *, archived: bool = False) -> Record | None:
        """The record with this id (following merges); archived ones only if asked."""
        primary = self.merged_into.get(record_id, record_id)
        record = self.records.get(primary)
        if record is None or record.archived != archived:
            return None
        return record

    def find_unique(self, property_name: str, value: str) -> Record | None:
        """The live record whose unique property ``property_name`` equals ``value``."""
        record_id = self.unique_index.get((property_name, value.lower()))
        return self.find(record_id) if record_id is not None else None

    def index_unique(self, record: Record, property_name: str, old: str, new: str) -> None:
        """Keep the unique-value index in step with a write."""
        if old and self.unique_index.get((property_name, old.lower())) == record.id:
            del self.unique_index[(property_name, old.lower())]
        if new and not record.archived:
            self.unique_index[(property_name, new.lower())] = record.id

    def drop_unique(self, record: Record) -> None:
        """Forget every unique value of a record (archive, merge, purge)."""
        for key in [k for k, v in self.unique_index.items() if v == record.id]:
            del self.unique_index[key]

    def live(self) -> Iterator[Record]:
        """Records not archived, in id order."""
        return (r for r in self.records.values() if not r.archived)

    def archived(self) -> Iterator[Record]:
        """Archived records, in id order."""
        return (r for r in self.records.values() if r.archived)

    def remove(self, record: Record) -> None:
        """Delete a record for good (merge, GDPR delete)."""
        self.drop_unique(record)
        self.records.pop(record.id, None)
