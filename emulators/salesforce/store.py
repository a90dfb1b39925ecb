"""The org's records: one table per sObject, transactions with rollback, and change events.

Every write goes through :meth:`RecordStore.put`, which keeps an undo log while a
transaction is open (so ``allOrNone`` requests can roll back), maintains the external-id
indexes, and queues a :class:`Change` that listeners (Outbound Messages) receive on commit.
Deleted rows stay in their table with ``IsDeleted`` true until the recycle bin is purged.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from closedloop.emulators.salesforce.soql_values import id_key

ChangeKind = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Change:
    """One committed write: which record, what kind, which fields changed, and the old row.

    ``written`` names the fields the caller sent (changed or not), when the write came from a
    caller; None for the emulator's own reference-data rows.
    """

    sobject: str
    record_id: str
    kind: ChangeKind
    changed: frozenset[str]
    before: dict[str, Any] | None = None
    written: frozenset[str] | None = None


@dataclass
class _Undo:
    sobject: str
    record_id: str
    previous: dict[str, Any] | None
    previous_deleted_at: str | None


@dataclass
class Transaction:
    """An open unit of work; call :meth:`rollback` to undo it when the block ends."""

    undo: list[_Undo] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    rolled_back: bool = False

    def rollback(self) -> None:
        """Undo every write of this transaction when its ``with`` block exits."""
        self.rolled_back = True


class RecordStore:
    """In-memory tables keyed by object name, then by 18-character id."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.deleted_at: dict[str, str] = {}
        self.versions: dict[str, int] = defaultdict(int)
        self.listeners: list[Callable[[list[Change]], None]] = []
        self._indexes: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._id_indexes: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._positions: dict[str, tuple[int, dict[str, int]]] = {}
        self._tx: Transaction | None = None

    # ----------------------------------------------------------------- reading
    def get(
        self, sobject: str, record_id: str, *, include_deleted: bool = False
    ) -> dict[str, Any] | None:
        """The row, or None when missing (or deleted, unless ``include_deleted``)."""
        row = self.tables[sobject].get(record_id)
        if row is None or (row.get("IsDeleted") and not include_deleted):
            return None
        return row

    def rows(self, sobject: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every row of a table, in insertion order."""
        for row in self.tables[sobject].values():
            if include_deleted or not row.get("IsDeleted"):
                yield row

    def find(self, sobject: str, field_name: str, value: Any) -> list[str]:
        """Ids of live rows whose ``field_name`` equals ``value`` (case-insensitive for text)."""
        index = self._index(sobject, field_name)
        return sorted(
            rid
            for rid in index.get(_key(value), set())
            if not self.tables[sobject][rid].get("IsDeleted")
        )

    def rows_with_ids(
        self, sobject: str, field_name: str, keys: Iterable[str], *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Rows whose id field ``field_name`` holds one of ``keys``, in insertion order.

        ``keys`` are ids in the form SOQL compares them (:func:`id_key`: 18 characters, lower
        case). The same rows, in the same order, as filtering :meth:`rows` by them, without
        reading the whole table (a query by ``Id IN (...)`` of a chunk of a large org).
        """
        index = self._id_index(sobject, field_name)
        found: set[str] = set()
        for key in keys:
            found |= index.get(key, set())
        order = self._order(sobject)
        table = self.tables[sobject]
        return [
            table[rid]
            for rid in sorted(found, key=order.__getitem__)
            if include_deleted or not table[rid].get("IsDeleted")
        ]

    def _id_index(self, sobject: str, field_name: str) -> dict[str, set[str]]:
        key = (sobject, field_name)
        if key not in self._id_indexes:
            built: dict[str, set[str]] = defaultdict(set)
            for rid, row in self.tables[sobject].items():
                if (value := id_key(row.get(field_name))) is not None:
                    built[value].add(rid)
            self._id_indexes[key] = built
        return self._id_indexes[key]

    def _order(self, sobject: str) -> dict[str, int]:
        """Each row's place in its table, rebuilt after the table changed."""
        version, order = self._positions.get(sobject, (-1, {}))
        if version != self.versions[sobject]:
            order = {rid: place for place, rid in enumerate(self.tables[sobject])}
            self._positions[sobject] = (self.versions[sobject], order)
        return order

    def _index(self, sobject: str, field_name: str) -> dict[str, set[str]]:
        key = (sobject, field_name)
        if key not in self._indexes:
            built: dict[str, set[str]] = defaultdict(set)
            for rid, row in self.tables[sobject].items():
                if row.get(field_name) is not None:
                    built[_key(row[field_name])].add(rid)
            self._indexes[key] = built
        return self._indexes[key]

    # ----------------------------------------------------------------- writing
    def put(
        self,
        sobject: str,
        row: dict[str, Any],
        kind: ChangeKind,
        changed: frozenset[str],
        written: frozenset[str] | None = None,
    ) -> None:
        """Insert or replace a row (by its ``Id``) and record the change (``written``: sent)."""
        record_id = str(row["Id"])
        previous = self.tables[sobject].get(record_id)
        self._log(sobject, record_id, previous)
        self._reindex(sobject, record_id, previous, row)
        self.tables[sobject][record_id] = row
        if kind == "delete":
            self.deleted_at[record_id] = str(row["SystemModstamp"])
        else:
            self.deleted_at.pop(record_id, None)
        self.versions[sobject] += 1
        before = dict(previous) if previous else None
        change = Change(sobject, record_id, kind, changed, before, written)
        if self._tx is not None:
            self._tx.changes.append(change)
        else:
            self._publish([change])

    def purge(self, sobject: str, record_id: str) -> None:
        """Remove a row for good (hard delete or emptied recycle bin)."""
        previous = self.tables[sobject].get(record_id)
        if previous is None:
            return
        self._log(sobject, record_id, previous)
        self._reindex(sobject, record_id, previous, None)
        del self.tables[sobject][record_id]
        self.deleted_at.pop(record_id, None)
        self.versions[sobject] += 1

    def add_column(self, sobject: str, field_name: str, default: Any = None) -> None:
        """Give every existing row of a table a new (empty) field."""
        for row in self.tables[sobject].values():
            row.setdefault(field_name, default)
        self.versions[sobject] += 1

    def _log(self, sobject: str, record_id: str, previous: dict[str, Any] | None) -> None:
        if self._tx is not None:
            self._tx.undo.append(
                _Undo(sobject, record_id, previous, self.deleted_at.get(record_id))
            )

    def _reindex(
        self, sobject: str, record_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None
    ) -> None:
        for (table, field_name), index in self._indexes.items():
            if table != sobject:
                continue
            if old is not None and old.get(field_name) is not None:
                index[_key(old[field_name])].discard(record_id)
            if new is not None and new.get(field_name) is not None:
                index[_key(new[field_name])].add(record_id)
        for (table, field_name), ids in self._id_indexes.items():
            if table != sobject:
                continue
            if old is not None and (before := id_key(old.get(field_name))) is not None:
                ids[before].discard(record_id)
            if new is not None and (after := id_key(new.get(field_name))) is not None:
                ids[after].add(record_id)

    # ------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Group writes; roll them all back on an exception or :meth:`Transaction.rollback`.

        Nested calls join the outer transaction. Changes reach listeners after the outermost
        block commits.
        """
        if self._tx is not None:
            yield self._tx
            return
        tx = self._tx = Transaction()
        try:
            yield tx
        except BaseException:
            self._undo(tx, 0)
            raise
        finally:
            self._tx = None
        if tx.rolled_back:
            self._undo(tx, 0)
            return
        self._publish(tx.changes)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo only the writes made inside this block when it raises."""
        tx = self._tx
        if tx is None:
            with self.transaction():
                yield
            return
        mark, change_mark = len(tx.undo), len(tx.changes)
        try:
            yield
        except BaseException:
            self._undo(tx, mark)
            del tx.changes[change_mark:]
            raise

    def _undo(self, tx: Transaction, mark: int) -> None:
        for entry in reversed(tx.undo[mark:]):
            current = self.tables[entry.sobject].get(entry.record_id)
            self._reindex(entry.sobject, entry.record_id, current, entry.previous)
            if entry.previous is None:
                self.tables[entry.sobject].pop(entry.record_id, None)
            else:
                self.tables[entry.sobject][entry.record_id] = entry.previous
            if entry.previous_deleted_at is None:
                self.deleted_at.pop(entry.record_id, None)
            else:
                self.deleted_at[entry.record_id] = entry.previous_deleted_at
            self.versions[entry.sobject] += 1
        del tx.undo[mark:]

    def _publish(self, changes: list[Change]) -> None:
        if changes:
            for listener in self.listeners:
                listener(changes)


def _key(value: Any) -> str:
    return str(value).lower() if isinstance(value, str) else repr(value)
