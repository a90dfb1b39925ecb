"""One sync run: read what changed, decide every mapped field, write only the differences.

A run streams: it works through its people a chunk (:data:`~closedloop.sync.gather.CHUNK_PEOPLE`)
at a time, so a full reconciliation of hundreds of thousands of records holds one chunk in
memory, never the whole run.

1. **Gather** a chunk: stream the marketing system's changed contacts (with property history)
   and the CRM's changed Leads and Contacts; resolve each record to a person (conversions join
   the lead's person) and add the touches to the ledger (:mod:`closedloop.sync.gather`).
2. **Complete**: for every person of the chunk, fetch the records of the other system that the
   run did not read (by known id, else matched by email), or plan to create a Lead.
3. **Plan**: compute the stamps from the ledger and run every person mapping through the
   ownership rules (:mod:`closedloop.sync.planner`); only changed fields survive. The chunk's
   plans go to the report's spool, and its outbox items, field decisions and unchanged reads
   are **staged** under the run id (:mod:`closedloop.sync.staging`).
4. **Guard**: once every chunk is planned, refuse to write when more than
   ``sync.blast_radius`` of the existing records read would change (unless allowed): the staged
   rows are discarded and nothing was written. A dry run or read-only mode stops here too.
5. **Write**: release the staged rows into the outbox, provenance log and shadow store, flush
   the outbox (:mod:`closedloop.sync.flush`), and advance the watermarks only now that the run
   has completed. A run the guard cannot stop (``--allow-blast-radius``, targeted runs) skips
   staging and applies each chunk as soon as it is planned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from closedloop.config.schema import Settings
from closedloop.connectors.contract import Connector, Watermark
from closedloop.mappings.field_types import FieldMappings
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.memory import release_free_memory
from closedloop.sync.flush import flush_outbox
from closedloop.sync.gather import Gatherer, Targets
from closedloop.sync.model import compute_stamps
from closedloop.sync.outbox import OutboxItem
from closedloop.sync.planner import RecordPlan, plan_record_set
from closedloop.sync.provenance import FieldDecisionRow
from closedloop.sync.report import RunReport, plan_json
from closedloop.sync.runs import RunCounts
from closedloop.sync.staging import StagedBatch
from closedloop.sync.state import SyncState
from closedloop.sync.views import PersonRecords

__all__ = ["BlastRadiusError", "RunReport", "SyncEngine", "plan_json"]

Progress = Callable[[str, int], None]
HEARTBEAT_SECONDS = 15.0
GUARD_MINIMUM = 20
"""Runs touching fewer existing records than this are never refused."""


class BlastRadiusError(Exception):
    """The run would change more of the existing records than allowed."""


@dataclass
class GuardTally:
    """The blast guard's totals over a whole run: existing records planned, and updated."""

    existing: int = 0
    updates: int = 0

    def add(self, plans: list[RecordPlan]) -> None:
        """Count one chunk's plans."""
        existing = [p for p in plans if p.view.record_id is not None]
        self.existing += len(existing)
        self.updates += sum(1 for p in existing if p.writes)


class SyncEngine:
    """Runs incremental and full syncs between the configured marketing system and CRM."""

    def __init__(
        self,
        settings: Settings,
        state: SyncState,
        connectors: dict[str, Connector],
        mappings: FieldMappings,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.state = state
        self.connectors = connectors
        self.mappings = mappings
        self.clock = clock
        self.roles: dict[str, str] = {
            "marketing": settings.roles.marketing,
            "crm": settings.roles.crm,
        }

    def run(
        self,
        *,
        full: bool = False,
        dry_run: bool = False,
        allow_blast: bool = False,
        progress: Progress | None = None,
        targets: Targets | None = None,
    ) -> RunReport:
        """One run; raises :class:`BlastRadiusError` before writing anything too broad.

        ``targets`` (``{(system, object type): record ids}``) re-reads just those records, as
        webhooks ask: the run is logged as job ``targeted`` and moves no watermark.
        """
        dry_run = dry_run or self.settings.sync.read_only
        job = "targeted" if targets is not None else "full" if full else "incremental"
        run_id = self.state.runs.start(job, dry_run)
        counts = RunCounts()
        report = RunReport(run_id, dry_run, counts)
        # A targeted run answers real changes, a batch at a time: the guard is for sweeps.
        unguarded = allow_blast or targets is not None
        progress = self._with_heartbeat(run_id, progress)
        try:
            gatherer = Gatherer(
                self.state, self.connectors, self.mappings, self.roles, self.settings
            )
            tally = GuardTally()
            for people in gatherer.chunks(
                full=full, counts=counts, progress=progress, targets=targets
            ):
                plans = self._plan(people, gatherer)
                tally.add(plans)
                counts.changed += sum(1 for p in plans if p.writes)
                report.spool.add(plans)
                if not dry_run:
                    batch = self._batch(plans, run_id, gatherer)
                    if unguarded:
                        self._apply(batch)
                    else:
                        self.state.staging.stage(run_id, batch)
                    del batch
                del plans, people
                release_free_memory()  # the chunk is gone: keep the resident size flat
            self._guard(tally, unguarded)
            if dry_run:
                self.state.runs.finish(run_id, "ok", counts)
                return report
            self.state.staging.release(run_id, self._apply)
            flushed = flush_outbox(
                self.state.outbox,
                self.connectors,
                self.state.shadow,
                self.state.identity,
                clock=self.clock,
            )
            counts.written, counts.failed = flushed.written, flushed.failed
            for reason, n in flushed.reasons.items():
                counts.skip(reason, n)
            for (system, object_type), mark in gatherer.marks.items():
                self.state.watermarks.advance(system, object_type, mark)
            self.state.runs.finish(run_id, "ok", counts)
            return report
        except BlastRadiusError as exc:
            self.state.staging.discard(run_id)
            self.state.runs.finish(run_id, "aborted", counts, str(exc))
            raise
        except Exception as exc:
            self.state.staging.discard(run_id)
            self.state.runs.finish(run_id, "failed", counts, f"{type(exc).__name__}: {exc}")
            raise

    def _with_heartbeat(self, run_id: int, progress: Progress | None) -> Progress:
        """Report progress and, at most every 15 s, show the run is alive in the run log."""
        last = [self.clock.monotonic()]

        def report(stage: str, n: int) -> None:
            if progress is not None:
                progress(stage, n)
            if self.clock.monotonic() - last[0] >= HEARTBEAT_SECONDS:
                last[0] = self.clock.monotonic()
                self.state.runs.heartbeat(run_id)

        return report

    def _plan(self, people: list[PersonRecords], gatherer: Gatherer) -> list[RecordPlan]:
        person_mappings = self.mappings.for_entity("person")
        deal_mappings = self.mappings.for_entity("deal")
        touches = self.state.ledger.touches_by_person([p.person_id for p in people])
        deals = gatherer.deal_views(people)
        moments = self.state.identity.lead_moments(p.person_id for p in people)
        plans: list[RecordPlan] = []
        for person in people:
            became_lead_at, converted_at = moments.get(person.person_id, (None, None))
            stamps = compute_stamps(
                touches.get(person.person_id, []),
                became_lead_at=became_lead_at,
                converted_at=converted_at,
            )
            views = gatherer.views_of(person)
            planned = plan_record_set(person_mappings, stamps.values(), views, self.roles)
            for plan in planned.values():
                plan.view = gatherer.with_creation_defaults(plan, person)
                plans.append(plan)
            for deal in deals.get(person.person_id, []):
                stamped = plan_record_set(
                    deal_mappings, stamps.values(), {deal.system: deal}, self.roles
                )
                plans.extend(stamped.values())
        return plans

    def _guard(self, tally: GuardTally, allow_blast: bool) -> None:
        limit = self.settings.sync.blast_radius
        existing, updates = tally.existing, tally.updates
        if allow_blast or existing < GUARD_MINIMUM or updates <= limit * existing:
            return
        share = updates / existing
        raise BlastRadiusError(
            f"{updates} of {existing} existing records ({share:.0%}) would change, "
            f"over the blast radius of {limit:.0%}; nothing was written "
            "(re-run with --allow-blast-radius if this is intended)"
        )

    def _batch(self, plans: list[RecordPlan], run_id: int, gatherer: Gatherer) -> StagedBatch:
        """One chunk's outbox items, field decisions and unchanged reads.

        The reads include the unmapped fields of each person record as read, so the next run
        can tell closedloop's own writes coming back from real changes
        (:mod:`closedloop.sync.echoes`).
        """
        reads = []
        for plan in plans:
            view = plan.view
            if view.record_id is None:
                continue
            writes = plan.writes
            unchanged = {k: v for k, v in plan.shadows.items() if k not in writes}
            unchanged.update(gatherer.snapshot_of(view))
            if unchanged:
                reads.append((view.ref(), unchanged))
        return StagedBatch(
            writes=self._outbox_items([p for p in plans if p.writes], run_id),
            decisions=self._provenance(plans, run_id),
            reads=reads,
        )

    def _apply(self, batch: StagedBatch) -> None:
        """Make a chunk's (or a released batch's) work durable: shadows, outbox, provenance."""
        if batch.reads:
            self.state.shadow.remember_many(batch.reads, "read")
        self.state.outbox.enqueue(batch.writes)
        self.state.provenance.record(batch.decisions)

    def _outbox_items(self, plans: list[RecordPlan], run_id: int) -> list[OutboxItem]:
        items = []
        for plan in plans:
            view = plan.view
            fields = {**plan.writes, **view.create_fields}
            target = view.record_id or json.dumps(view.match)
            body = json.dumps(fields, sort_keys=True, default=str)
            digest = hashlib.sha256(
                f"{view.system}|{view.object_type}|{target}|{body}".encode()
            ).hexdigest()
            items.append(
                OutboxItem(
                    push_key=f"{view.system}:{view.object_type}:{digest[:40]}",
                    system=view.system,
                    object_type=view.object_type,
                    fields=fields,
                    record_id=view.record_id,
                    match=view.match,
                    person_id=view.person_id,
                    run_id=run_id,
                )
            )
        return items

    def _provenance(self, plans: list[RecordPlan], run_id: int) -> list[FieldDecisionRow]:
        rows = []
        for plan in plans:
            view = plan.view
            for change in plan.changes:
                rows.append(
                    FieldDecisionRow(
                        system=view.system,
                        object_type=view.object_type,
                        record_id=view.record_id,
                        field=change.field,
                        outcome="written" if change.outcome == "write" else "refused",
                        person_id=view.person_id,
                        canonical=change.canonical,
                        value=change.value,
                        previous=change.previous,
                        rule=change.rule,
                        source="closedloop",
                        reason=change.reason,
                        run_id=run_id,
                    )
                )
        return rows


def first_watermark() -> Watermark:
    """The watermark of a system never read."""
    return Watermark()
