"""What a sync run did, with its per-record, per-field plan spooled to disk as it is made.

A streaming run plans a few thousand people at a time and must not keep every plan in memory,
yet ``closedloop sync --dry-run`` prints the whole plan and tests compare it with what was then
written. So each chunk's changed plans are appended, as JSON lines, to a temporary file owned by
the :class:`RunReport`; :meth:`RunReport.records` streams them back and :meth:`RunReport.as_json`
builds the one JSON object the CLI prints. The file is removed when the report is garbage
collected (or at interpreter exit).
"""

from __future__ import annotations

import json
import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from closedloop.sync.planner import RecordPlan
from closedloop.sync.runs import RunCounts

__all__ = ["PlanSpool", "RunReport", "plan_json"]


def plan_json(plan: RecordPlan) -> dict[str, Any]:
    """One record's plan, field by field."""
    view = plan.view
    return {
        "system": view.system,
        "object": view.object_type,
        "record_id": view.record_id,
        "fields": {
            c.field: {
                "from": c.previous,
                "to": c.value,
                "rule": c.rule,
                "outcome": c.outcome,
                "reason": c.reason,
            }
            for c in plan.changes
        },
    }


class PlanSpool:
    """An append-only file of record plans (JSON lines), deleted with its owner."""

    def __init__(self) -> None:
        handle, name = tempfile.mkstemp(prefix="closedloop-plan-", suffix=".jsonl")
        os.close(handle)
        self.path = Path(name)
        self.count = 0
        self._cleanup = weakref.finalize(self, _remove, self.path)

    def add(self, plans: Iterable[RecordPlan]) -> None:
        """Append the plans that change or refuse something."""
        lines = [json.dumps(plan_json(p), default=str) + "\n" for p in plans if p.changes]
        if not lines:
            return
        with self.path.open("a", encoding="utf-8") as out:
            out.writelines(lines)
        self.count += len(lines)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)

    def close(self) -> None:
        """Delete the file now."""
        self._cleanup()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


@dataclass
class RunReport:
    """What a run did (or, in a dry run, would do).

    Attributes:
        run_id: the run's id in the run log.
        dry_run: whether the run only planned.
        counts: read, changed, written, skipped and failed records.
        spool: the per-record plans (only records with a planned change or refusal).
        aborted: why the run stopped before writing, if it did.
    """

    run_id: int
    dry_run: bool
    counts: RunCounts
    spool: PlanSpool = field(default_factory=PlanSpool)
    aborted: str | None = None

    def records(self) -> Iterator[dict[str, Any]]:
        """The planned records, one JSON object each, in planning order (streamed from disk)."""
        return iter(self.spool)

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object (``closedloop sync --format json``)."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "counts": vars(self.counts),
            "records": list(self.records()),
        }
