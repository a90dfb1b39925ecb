"""Shadow state: what closedloop last wrote to, or read from, each vendor record.

Table ``shadow_records`` (:mod:`closedloop.store.schema`), one row per record: the fields as
they went over the wire (vendor field name -> wire value), a hash of them, whether they were
last ``written`` by closedloop or ``read`` from the vendor, and when. The sync engine diffs
intended values against it (zero writes when nothing changed) and recognises echoes: a change
notification whose fields hash like the stored ones is closedloop's own write coming back.

:meth:`ShadowStore.remember` merges fields into the stored ones (a partial write leaves the
other fields alone). The read-modify-write runs in one transaction: ``BEGIN IMMEDIATE`` on
SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL, and a first insert that loses a race with
another worker is retried as an update, so concurrent writers never lose each other's fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import partial
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import Update

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import shadow_records
from closedloop.sync.model import RecordRef
from closedloop.sync.sql import (
    Conflict,
    begin_write,
    chunked,
    insert_ignoring,
    retry_on_conflict,
)

__all__ = ["ShadowSource", "ShadowStore"]

ShadowSource = Literal["written", "read"]
_KEY = ("system", "object_type", "record_id")


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not a wire value: {value!r}")


def _canonical(fields: Mapping[str, Any]) -> str:
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


_PLAIN = (str, int, float, bool, type(None))


def _as_stored(fields: dict[str, Any], canonical: str) -> dict[str, Any]:
    """The fields as JSON gives them back (datetimes as text), keys sorted.

    Plain values already are what JSON gives back; only others (datetimes) go through the
    canonical text, which is the slow way round.
    """
    if all(type(value) in _PLAIN for value in fields.values()):
        return dict(sorted(fields.items()))
    loaded: dict[str, Any] = json.loads(canonical)
    return loaded


def _ref(row: Any) -> RecordRef:
    return RecordRef(row.system, row.object_type, row.record_id)


class ShadowStore:
    """Per-record shadow state.

    Args:
        engine: the state store.
        clock: the source of ``updated_at``.
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    @staticmethod
    def hash_of(fields: Mapping[str, Any]) -> str:
        """sha256 (hex) of the fields as canonical JSON: sorted keys, no spaces, UTF-8.

        Key order never changes the hash; datetimes hash as ISO 8601 text.

        Raises:
            TypeError: a value is not JSON-serialisable.
        """
        return hashlib.sha256(_canonical(fields).encode("utf-8")).hexdigest()

    def get(self, ref: RecordRef) -> dict[str, Any] | None:
        """The record's stored fields, or None when closedloop has no shadow of it."""
        return self.get_many([ref]).get(ref)

    def get_many(self, refs: Iterable[RecordRef]) -> dict[RecordRef, dict[str, Any]]:
        """Stored fields of every ref that has a shadow (one query per 500 refs)."""
        found: dict[RecordRef, dict[str, Any]] = {}
        with self._engine.connect() as conn:
            for chunk in chunked(dict.fromkeys(refs)):
                for row in conn.execute(self._select(chunk)):
                    found[_ref(row)] = dict(row.fields)
        return found

    def hashes_of(self, refs: Iterable[RecordRef]) -> dict[RecordRef, str]:
        """Stored hashes of every ref that has a shadow (for echo checks without the fields)."""
        found: dict[RecordRef, str] = {}
        with self._engine.connect() as conn:
            for chunk in chunked(dict.fromkeys(refs)):
                for row in conn.execute(self._select(chunk)):
                    found[_ref(row)] = row.fields_hash
        return found

    def remember(self, ref: RecordRef, fields: Mapping[str, Any], source: ShadowSource) -> str:
        """Merge ``fields`` into the record's shadow; returns the new hash of all its fields."""
        return self.remember_many([(ref, fields)], source)[ref]

    def remember_many(
        self, items: Iterable[tuple[RecordRef, Mapping[str, Any]]], source: ShadowSource
    ) -> dict[RecordRef, str]:
        """:meth:`remember` for many records, one transaction per 500; returns the new hashes."""
        hashes: dict[RecordRef, str] = {}
        for chunk in chunked(items):
            merged_input: dict[RecordRef, dict[str, Any]] = {}
            for ref, fields in chunk:  # a ref given twice: later fields win
                merged_input.setdefault(ref, {}).update(fields)
            hashes.update(retry_on_conflict(partial(self._remember, merged_input, source)))
        return hashes

    def forget(self, ref: RecordRef) -> bool:
        """Drop the record's shadow (the record was deleted); whether there was one."""
        with begin_write(self._engine) as conn:
            result = conn.execute(
                delete(shadow_records).where(
                    shadow_records.c.system == ref.system,
                    shadow_records.c.object_type == ref.object_type,
                    shadow_records.c.record_id == ref.record_id,
                )
            )
            return result.rowcount > 0

    def _remember(
        self, items: dict[RecordRef, dict[str, Any]], source: ShadowSource
    ) -> dict[RecordRef, str]:
        now = self._clock.now()
        with begin_write(self._engine) as conn:
            stored = {
                _ref(row): dict(row.fields)
                for row in conn.execute(self._select(list(items)).with_for_update())
            }
            updates: list[dict[str, Any]] = []
            inserts: list[dict[str, Any]] = []
            hashes: dict[RecordRef, str] = {}
            for ref, fields in items.items():
                merged = {**stored.get(ref, {}), **fields}
                text = _canonical(merged)
                hashes[ref] = hashlib.sha256(text.encode("utf-8")).hexdigest()
                row = {
                    "fields": _as_stored(merged, text),
                    "fields_hash": hashes[ref],
                    "source": source,
                    "updated_at": now,
                }
                key = {"system": ref.system, "object_type": ref.object_type, "rid": ref.record_id}
                if ref in stored:
                    updates.append({**row, **{f"b_{k}": v for k, v in key.items()}})
                else:
                    inserts.append({**row, **dict(zip(_KEY, key.values(), strict=True))})
            if updates:
                conn.execute(self._update(), updates)
            if inserts:
                self._insert_new(conn, inserts)
            return hashes

    @staticmethod
    def _select(refs: list[RecordRef]) -> Select[Any]:
        """The shadows of ``refs``: ``record_id IN (...)`` per system and object type.

        Not a row-value ``(system, object_type, record_id) IN (...)``: SQLite answers that
        by scanning the whole table, which grows with every record ever synced.
        """
        columns = shadow_records.c
        by_object: dict[tuple[str, str], list[str]] = {}
        for ref in refs:
            by_object.setdefault((ref.system, ref.object_type), []).append(ref.record_id)
        wanted = [
            and_(columns.system == system, columns.object_type == kind, columns.record_id.in_(ids))
            for (system, kind), ids in by_object.items()
        ]
        return select(shadow_records).where(or_(false(), *wanted))

    @staticmethod
    def _update() -> Update:
        return (
            update(shadow_records)
            .where(
                shadow_records.c.system == bindparam("b_system"),
                shadow_records.c.object_type == bindparam("b_object_type"),
                shadow_records.c.record_id == bindparam("b_rid"),
            )
            .values(
                fields=bindparam("fields"),
                fields_hash=bindparam("fields_hash"),
                source=bindparam("source"),
                updated_at=bindparam("updated_at"),
            )
        )

    @staticmethod
    def _insert_new(conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert shadows that did not exist.

        Raises:
            Conflict: another worker created one meanwhile; the transaction must run again so
                that its fields are merged, not overwritten.
        """
        statement = insert_ignoring(shadow_records, conn, _KEY).returning(
            shadow_records.c.record_id
        )
        if len(conn.execute(statement, rows).all()) != len(rows):
            raise Conflict("a shadow record was created concurrently")
