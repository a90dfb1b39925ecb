"""Watermarks (how far each system has been read) and the run log (what each job did).

Tables ``watermarks`` and ``runs`` (:mod:`closedloop.store.schema`).

A watermark is a (modified time, last id) pair per (system, object type);
:meth:`Watermarks.advance` never moves it backwards, so a late or repeated page cannot make the
next incremental read skip records. Call it only once a page is processed (packaging.md §2.10).

A run row is written when a job starts, touched by heartbeats while it works and closed with
its status and counts; ``closedloop status`` shows the last run of each job, and a run that
stopped heart-beating can be marked ``aborted`` (:meth:`RunLog.abort_stale`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Engine, Row, func, insert, select, update

from closedloop.connectors.contract import Watermark
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import runs, watermarks
from closedloop.sync.sql import Conflict, begin_write, insert_ignoring, retry_on_conflict

__all__ = ["RUN_STATUSES", "RunCounts", "RunLog", "RunRow", "RunStatus", "Watermarks"]

RunStatus = Literal["running", "ok", "failed", "aborted"]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)


def _order(mark: Watermark) -> tuple[bool, datetime | None, str]:
    """Sort key: no time before any time, then time, then id."""
    return (mark.modified_at is not None, mark.modified_at, mark.last_id)


class Watermarks:
    """Per (system, object type) read positions.

    Args:
        engine: the state store.
        clock: the source of ``updated_at``.
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def get(self, system: str, object_type: str) -> Watermark:
        """The stored watermark; the empty one (read everything) when there is none."""
        query = select(watermarks.c.modified_at, watermarks.c.last_id).where(
            watermarks.c.system == system, watermarks.c.object_type == object_type
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return Watermark() if row is None else Watermark(row.modified_at, row.last_id)

    def advance(self, system: str, object_type: str, mark: Watermark) -> bool:
        """Store ``mark`` if it is past the stored one; returns whether it moved."""
        key = (watermarks.c.system == system, watermarks.c.object_type == object_type)
        values = {
            "modified_at": mark.modified_at,
            "last_id": mark.last_id,
            "updated_at": self._clock.now(),
        }

        def attempt() -> bool:
            with begin_write(self._engine) as conn:
                current = conn.execute(
                    select(watermarks.c.modified_at, watermarks.c.last_id)
                    .where(*key)
                    .with_for_update()
                ).first()
                if current is None:
                    statement = insert_ignoring(watermarks, conn, ["system", "object_type"])
                    row = {"system": system, "object_type": object_type, **values}
                    created = statement.values(**row).returning(watermarks.c.system)
                    if conn.execute(created).first() is None:
                        raise Conflict("the watermark was created concurrently")
                    return True
                if _order(mark) <= _order(Watermark(current.modified_at, current.last_id)):
                    return False
                conn.execute(update(watermarks).where(*key).values(**values))
                return True

        return retry_on_conflict(attempt)


@dataclass
class RunCounts:
    """What a run did: records read, changed, written, skipped (by reason) and failed."""

    read: int = 0
    changed: int = 0
    written: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: int = 0

    def skip(self, reason: str, count: int = 1) -> None:
        """Count ``count`` records skipped for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    @property
    def skipped_total(self) -> int:
        """Records skipped for any reason."""
        return sum(self.skipped.values())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunCounts:
        """Counts from their stored JSON (unknown keys are ignored)."""
        return cls(
            read=int(data.get("read", 0)),
            changed=int(data.get("changed", 0)),
            written=int(data.get("written", 0)),
            skipped={str(k): int(v) for k, v in dict(data.get("skipped") or {}).items()},
            failed=int(data.get("failed", 0)),
        )


@dataclass(frozen=True)
class RunRow:
    """One run of one job."""

    id: int
    job: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime
    dry_run: bool
    counts: RunCounts
    error: str | None


def _run(row: Row[Any]) -> RunRow:
    return RunRow(
        id=row.id,
        job=row.job,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        dry_run=bool(row.dry_run),
        counts=RunCounts.from_dict(row.counts or {}),
        error=row.error,
    )


class RunLog:
    """Job runs: start, heartbeat, finish, and the latest of each job.

    Args:
        engine: the state store.
        clock: the source of every timestamp.
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def start(self, job: str, dry_run: bool = False) -> int:
        """Open a run of ``job`` (``incremental``, ``full``, ``outbox``...); returns its id."""
        now = self._clock.now()
        row = {"job": job, "started_at": now, "heartbeat_at": now, "status": "running"}
        with begin_write(self._engine) as conn:
            result = conn.execute(
                insert(runs)
                .values(**row, counts=asdict(RunCounts()), dry_run=dry_run)
                .returning(runs.c.id)
            )
            return int(result.scalar_one())

    def heartbeat(self, run_id: int) -> None:
        """Show the run is alive."""
        with begin_write(self._engine) as conn:
            conn.execute(
                update(runs).where(runs.c.id == run_id).values(heartbeat_at=self._clock.now())
            )

    def finish(
        self,
        run_id: int,
        status: RunStatus,
        counts: RunCounts | Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        """Close the run with its status, counts and (for failures) the error.

        Raises:
            ValueError: ``status`` is not a closing status.
        """
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"a run finishes as ok, failed or aborted, not {status!r}")
        if not isinstance(counts, RunCounts):
            counts = RunCounts.from_dict(counts)
        now = self._clock.now()
        with begin_write(self._engine) as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    status=status,
                    counts=asdict(counts),
                    error=error,
                    finished_at=now,
                    heartbeat_at=now,
                )
            )

    def get(self, run_id: int) -> RunRow | None:
        """One run, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        return None if row is None else _run(row)

    def last_runs(self) -> dict[str, RunRow]:
        """The latest run of every job that ever ran, by job name."""
        latest = select(func.max(runs.c.id)).group_by(runs.c.job)
        query = select(runs).where(runs.c.id.in_(latest)).order_by(runs.c.job)
        with self._engine.connect() as conn:
            return {row.job: _run(row) for row in conn.execute(query)}

    def abort_stale(self, silent_since: datetime) -> int:
        """Mark running runs with no heartbeat since ``silent_since`` as aborted."""
        with begin_write(self._engine) as conn:
            result = conn.execute(
                update(runs)
                .where(runs.c.status == "running", runs.c.heartbeat_at < silent_since)
                .values(status="aborted", error="no heartbeat", finished_at=self._clock.now())
            )
            return result.rowcount
