"""CRM records of one object type: ids, values, property history and the search view.

Callers hold the portal lock; nothing here is thread-safe on its own.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise

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
        self._in_order: tuple[list[Record], list[int]] | None = None

    def new_id(self) -> str:
        """The next free record id."""
        value = str(self._next_id)
        self._next_id += 1
        return value

    def add(self, record: Record) -> None:
        """Store a new record."""
        self.records[record.id] = record
        self._in_order = None

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

    def from_id(self, start: int, *, archived: bool) -> Iterator[Record]:
        """:meth:`live` (or :meth:`archived`) records whose id is ``start`` or more.

        A list page's ``after``: when the records are held in ascending id order (ids are
        handed out in order) the start is found by bisection instead of walking past every
        earlier record, so paging through a large portal does not grow quadratically.
        """
        if self._in_order is None:
            records = list(self.records.values())
            ids = [int(r.id) if r.id.isdigit() else -1 for r in records]
            ascending = all(a < b for a, b in pairwise(ids)) and -1 not in ids
            self._in_order = (records, ids) if ascending else ([], [])
        records, ids = self._in_order
        if not records and self.records:  # not in id order: filter them all
            pool = self.archived() if archived else self.live()
            return (r for r in pool if int(r.id) >= start)
        return (r for r in records[bisect_left(ids, start) :] if r.archived == archived)

    def remove(self, record: Record) -> None:
        """Delete a record for good (merge, GDPR delete)."""
        self.drop_unique(record)
        self.records.pop(record.id, None)
        self._in_order = None
