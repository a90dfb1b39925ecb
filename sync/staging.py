"""Held work of a run in progress: planned writes wait here until the blast guard has spoken.

Table ``sync_staging`` (:mod:`closedloop.store.schema`, migration 0006). A streaming run plans
a few thousand people at a time, but the blast-radius guard must see the whole run's totals
before anything reaches a vendor. So each chunk's outcome is staged, keyed by run id, in three
kinds of rows:

* ``write``: one outbox item (push key, destination, fields, match, person);
* ``decision``: one provenance row (a field written or refused);
* ``read``: shadow values read from a record and found unchanged.

:meth:`StagingArea.release` moves them where they belong (outbox, provenance log, shadow
store), a chunk at a time, once the guard has passed; :meth:`StagingArea.discard` drops them
when the run is aborted, refused or failed. Nothing here is visible to the outbox relay, so a
staged write can never be sent early.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, delete, func, insert, select

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import sync_staging
from closedloop.sync.model import RecordRef
from closedloop.sync.outbox import OutboxItem
from closedloop.sync.provenance import FieldDecisionRow
from closedloop.sync.sql import begin_write, chunked

__all__ = ["StagedBatch", "StagingArea"]

StageKind = Literal["write", "decision", "read"]
RELEASE_CHUNK = 2_000
"""Staged rows moved per step of :meth:`StagingArea.release`."""


@dataclass
class StagedBatch:
    """What one chunk of a run would do: outbox items, field decisions, unchanged reads."""

    writes: list[OutboxItem] = field(default_factory=list)
    decisions: list[FieldDecisionRow] = field(default_factory=list)
    reads: list[tuple[RecordRef, dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.writes or self.decisions or self.reads)


class StagingArea:
    """Stage, release and discard the held work of runs.

    Args:
        engine: the state store.
        clock: the source of ``created_at``.
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def stage(self, run_id: int, batch: StagedBatch) -> int:
        """Hold ``batch`` for ``run_id`` (one transaction); returns how many rows were staged."""
        now = self._clock.now()
        rows = [
            *({"kind": "write", "payload": _write_payload(item)} for item in batch.writes),
            *({"kind": "decision", "payload": _decision_payload(d)} for d in batch.decisions),
            *({"kind": "read", "payload": _read_payload(ref, f)} for ref, f in batch.reads),
        ]
        if not rows:
            return 0
        with begin_write(self._engine) as conn:
            for chunk in chunked(rows):
                conn.execute(
                    insert(sync_staging),
                    [{**row, "run_id": run_id, "created_at": now} for row in chunk],
                )
        return len(rows)

    def count(self, run_id: int | None = None) -> int:
        """Staged rows (of one run, or of all)."""
        query = select(func.count()).select_from(sync_staging)
        if run_id is not None:
            query = query.where(sync_staging.c.run_id == run_id)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def batches(self, run_id: int, size: int = RELEASE_CHUNK) -> Iterator[StagedBatch]:
        """The staged work of ``run_id`` in staging order, ``size`` rows per batch."""
        last = 0
        while True:
            query = (
                select(sync_staging.c.id, sync_staging.c.kind, sync_staging.c.payload)
                .where(sync_staging.c.run_id == run_id, sync_staging.c.id > last)
                .order_by(sync_staging.c.id)
                .limit(size)
            )
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            last = rows[-1].id
            batch = StagedBatch()
            for row in rows:
                _unpack(batch, row.kind, row.payload)
            yield batch

    def release(self, run_id: int, apply: Callable[[StagedBatch], None]) -> int:
        """Hand the run's staged work to ``apply`` batch by batch, then drop it; returns rows.

        ``apply`` must be idempotent (outbox push keys are): a release interrupted half way
        leaves the remaining rows staged, and :meth:`discard` or a later release settles them.
        """
        moved = 0
        for batch in self.batches(run_id):
            apply(batch)
            moved += len(batch.writes) + len(batch.decisions) + len(batch.reads)
        self.discard(run_id)
        return moved

    def discard(self, run_id: int) -> int:
        """Drop everything staged for ``run_id`` (an aborted or failed run); returns rows."""
        with begin_write(self._engine) as conn:
            result = conn.execute(delete(sync_staging).where(sync_staging.c.run_id == run_id))
            return int(result.rowcount)

    def discard_older_than(self, moment: datetime) -> int:
        """Drop rows staged before ``moment`` (left by a process that died mid-run)."""
        with begin_write(self._engine) as conn:
            result = conn.execute(delete(sync_staging).where(sync_staging.c.created_at < moment))
            return int(result.rowcount)


def _write_payload(item: OutboxItem) -> dict[str, Any]:
    return {
        "push_key": item.push_key,
        "system": item.system,
        "object_type": item.object_type,
        "fields": dict(item.fields),
        "record_id": item.record_id,
        "match": list(item.match) if item.match else None,
        "person_id": item.person_id,
        "run_id": item.run_id,
    }


def _decision_payload(decision: FieldDecisionRow) -> dict[str, Any]:
    payload = asdict(decision)
    payload.pop("id", None)
    decided: datetime | None = payload.pop("decided_at", None)
    payload["decided_at"] = decided.isoformat() if decided else None
    return payload


def _read_payload(ref: RecordRef, fields: dict[str, Any]) -> dict[str, Any]:
    return {"ref": [ref.system, ref.object_type, ref.record_id], "fields": fields}


def _unpack(batch: StagedBatch, kind: StageKind, payload: dict[str, Any]) -> None:
    if kind == "write":
        match: Sequence[str] | None = payload.pop("match")
        batch.writes.append(OutboxItem(**payload, match=(match[0], match[1]) if match else None))
    elif kind == "decision":
        decided = payload.pop("decided_at")
        batch.decisions.append(
            FieldDecisionRow(
                **payload, decided_at=datetime.fromisoformat(decided) if decided else None
            )
        )
    else:
        system, object_type, record_id = payload["ref"]
        batch.reads.append((RecordRef(system, object_type, record_id), payload["fields"]))
