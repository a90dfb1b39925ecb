"""The sync's scheduled jobs on APScheduler 3, for ``closedloop serve``.

* ``incremental``, every ``sync.incremental_minutes``: read what changed, write the differences;
* ``revenue``, right after each incremental run (when a revenue loop is given): version won
  revenue and push it back to the marketing system (:mod:`closedloop.revenue.loop`);
* ``full``, daily at ``sync.full_reconciliation_hour`` (UTC): read everything, repair drift;
* ``outbox``, every minute: send rows still pending (retries that came due);
* ``dead_letters``, hourly: try dead-lettered rows again (an admin may have fixed the cause).

Every job records a run with heartbeats in the run log, so ``closedloop status`` shows what ran
and whether it is alive; jobs never overlap (one lock, ``max_instances=1``, missed runs
coalesced) and a failing job is logged and reported, never fatal to the scheduler. Nothing
starts at import or construction: :meth:`SyncScheduler.start` does (``serve`` only).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from closedloop.config.schema import Settings
from closedloop.revenue.loop import RevenueLoop
from closedloop.sync.engine import BlastRadiusError, SyncEngine
from closedloop.sync.flush import flush_outbox
from closedloop.sync.runs import RunCounts

log = logging.getLogger("closedloop.sync.schedule")
JOB_NAMES = ("incremental", "full", "outbox", "dead_letters")
REVENUE_JOB = "revenue"  # scheduled only when the scheduler is given a revenue loop


class SyncScheduler:
    """Owns the scheduler and the sync jobs it runs.

    Args:
        engine: the sync engine the jobs drive.
        settings: schedule settings (``sync.*``).
        revenue: the revenue loop to run after each incremental sync (none: no revenue job).
    """

    def __init__(
        self, engine: SyncEngine, settings: Settings, revenue: RevenueLoop | None = None
    ) -> None:
        self.engine = engine
        self.revenue = revenue
        self.settings = settings
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(timezone="UTC")
        defaults: dict[str, Any] = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 300}
        sync = settings.sync
        self._add("incremental", IntervalTrigger(minutes=sync.incremental_minutes), defaults)
        if revenue is not None:
            self._add(REVENUE_JOB, IntervalTrigger(minutes=sync.incremental_minutes), defaults)
        self._add("full", CronTrigger(hour=sync.full_reconciliation_hour, minute=0), defaults)
        self._add("outbox", IntervalTrigger(minutes=1), defaults)
        self._add("dead_letters", IntervalTrigger(hours=1), defaults)

    def _add(self, name: str, trigger: Any, defaults: dict[str, Any]) -> None:
        self.scheduler.add_job(self.job(name), trigger, id=name, name=name, **defaults)

    def job(self, name: str) -> Callable[[], None]:
        """The callable the scheduler runs for ``name`` (tests call it directly)."""
        actions: dict[str, Callable[[], None]] = {
            "incremental": lambda: self._sync(full=False),
            "revenue": self._revenue,
            "full": lambda: self._sync(full=True),
            "outbox": lambda: self._flush("outbox"),
            "dead_letters": self._retry_dead_letters,
        }
        action = actions[name]

        def run() -> None:
            with self._lock:
                try:
                    action()
                except BlastRadiusError as exc:
                    log.error("%s sync refused: %s", name, exc)
                except Exception:  # a job must never take the scheduler down
                    log.exception("%s job failed", name)

        run.__name__ = f"closedloop_{name}"
        return run

    def _sync(self, *, full: bool) -> None:
        report = self.engine.run(full=full)
        log.info("%s sync: %s", "full" if full else "incremental", vars(report.counts))

    def _revenue(self) -> None:
        if self.revenue is not None:
            report = self.revenue.run()
            log.info("revenue: %d new versions", len(report.versions))

    def _flush(self, job: str) -> None:
        state = self.engine.state
        run_id = state.runs.start(job)
        try:
            flushed = flush_outbox(
                state.outbox,
                self.engine.connectors,
                state.shadow,
                state.identity,
                clock=self.engine.clock,
            )
        except Exception as exc:
            state.runs.finish(run_id, "failed", RunCounts(), f"{type(exc).__name__}: {exc}")
            raise
        counts = RunCounts(written=flushed.written, failed=flushed.failed)
        for reason, n in flushed.reasons.items():
            counts.skip(reason, n)
        state.runs.finish(run_id, "ok", counts)

    def _retry_dead_letters(self) -> None:
        replayed = self.engine.state.outbox.replay()
        if replayed:
            log.info("retrying %d dead-lettered rows", replayed)
        self._flush("dead_letters")

    def every(self, name: str, action: Callable[[], object], *, hours: float) -> None:
        """Add a housekeeping job (e.g. purging expired collector payloads) run every ``hours``."""

        def run() -> None:
            try:
                action()
            except Exception:  # a job must never take the scheduler down
                log.exception("%s job failed", name)

        self.scheduler.add_job(
            run, IntervalTrigger(hours=hours), id=name, name=name, max_instances=1, coalesce=True
        )

    def start(self) -> None:
        """Start the background scheduler (``closedloop serve``)."""
        self.scheduler.start()

    def shutdown(self) -> None:
        """Stop the scheduler, waiting for a running job to end."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
