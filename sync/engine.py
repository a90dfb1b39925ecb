"""One sync run: read what changed, decide every mapped field, write only the differences.

1. **Gather**: stream the marketing system's changed contacts (with property history) and the
   CRM's changed Leads and Contacts; resolve each record to a person (conversions join the
   lead's person), add the touches to the ledger, and keep each person's current records.
2. **Complete**: for every person touched, fetch the records of the other system that this run
   did not read (by known id, else matched by email), or plan to create a Lead.
3. **Plan**: compute the stamps from the ledger and run every person mapping through the
   ownership rules (:mod:`closedloop.sync.planner`); only changed fields survive.
4. **Guard**: refuse to write when more than ``sync.blast_radius`` of the existing records read
   would change (unless allowed), and write nothing in a dry run or in read-only mode.
5. **Write**: enqueue the plans in the outbox with their push keys, then flush it
   (:mod:`closedloop.sync.flush`); advance the watermarks only once the run has completed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from closedloop.config.schema import Settings
from closedloop.connectors.contract import Connector, Watermark
from closedloop.mappings.field_types import FieldMappings
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.sync.flush import flush_outbox
from closedloop.sync.gather import Gatherer, Targets
from closedloop.sync.model import compute_stamps
from closedloop.sync.outbox import OutboxItem
from closedloop.sync.planner import RecordPlan, plan_record_set
from closedloop.sync.provenance import FieldDecisionRow
from closedloop.sync.runs import RunCounts
from closedloop.sync.state import SyncState

Progress = Callable[[str, int], None]
HEARTBEAT_SECONDS = 15.0


class BlastRadiusError(Exception):
    """The run would change more of the existing records than allowed."""


@dataclass
class RunReport:
    """What a run did (or, in a dry run, would do)."""

    run_id: int
    dry_run: bool
    counts: RunCounts
    plans: list[RecordPlan] = field(default_factory=list)
    aborted: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object (``closedloop sync --format json``)."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "counts": vars(self.counts),
            "records": [plan_json(p) for p in self.plans if p.changes],
        }


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
        progress = self._with_heartbeat(run_id, progress)
        try:
            gatherer = Gatherer(
                self.state, self.connectors, self.mappings, self.roles, self.settings
            )
            people, marks = gatherer.gather(
                full=full, counts=counts, progress=progress, targets=targets
            )
            plans = self._plan(people, gatherer)
            changed = [p for p in plans if p.writes]
            counts.changed = len(changed)
            report = RunReport(run_id, dry_run, counts, plans)
            # A targeted run answers real changes, a batch at a time: the guard is for sweeps.
            self._guard(plans, allow_blast or targets is not None)
            if dry_run:
                self.state.runs.finish(run_id, "ok", counts)
                return report
            self._remember_reads(plans)
            self.state.outbox.enqueue(self._outbox_items(changed, run_id))
            self.state.provenance.record(self._provenance(plans, run_id))
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
            for (system, object_type), mark in marks.items():
                self.state.watermarks.advance(system, object_type, mark)
            self.state.runs.finish(run_id, "ok", counts)
            return report
        except BlastRadiusError as exc:
            self.state.runs.finish(run_id, "aborted", counts, str(exc))
            raise
        except Exception as exc:
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

    def _plan(self, people: list[Any], gatherer: Gatherer) -> list[RecordPlan]:
        person_mappings = self.mappings.for_entity("person")
        deal_mappings = self.mappings.for_entity("deal")
        touches = self.state.ledger.touches_by_person([p.person_id for p in people])
        deals = gatherer.deal_views(people)
        plans: list[RecordPlan] = []
        for person in people:
            info = self.state.identity.person(person.person_id)
            stamps = compute_stamps(
                touches.get(person.person_id, []),
                became_lead_at=info.became_lead_at,
                converted_at=info.converted_at,
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

    def _guard(self, plans: list[RecordPlan], allow_blast: bool) -> None:
        existing = [p for p in plans if p.view.record_id is not None]
        updates = [p for p in existing if p.writes]
        limit = self.settings.sync.blast_radius
        if allow_blast or len(existing) < 20 or len(updates) <= limit * len(existing):
            return
        share = len(updates) / len(existing)
        raise BlastRadiusError(
            f"{len(updates)} of {len(existing)} existing records ({share:.0%}) would change, "
            f"over the blast radius of {limit:.0%}; nothing was written "
            "(re-run with --allow-blast-radius if this is intended)"
        )

    def _remember_reads(self, plans: list[RecordPlan]) -> None:
        for plan in plans:
            view = plan.view
            if view.record_id is None or not plan.shadows:
                continue
            unchanged = {k: v for k, v in plan.shadows.items() if k not in plan.writes}
            if unchanged:
                self.state.shadow.remember(view.ref(), unchanged, "read")

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
