"""The revenue loop: CRM deals -> revenue versions -> credits -> the marketing system.

One run (``closedloop revenue``, the last step of ``closedloop sync``, the scheduled
``revenue`` job, or :meth:`RevenueLoop.handle_deals` for webhooks):

1. **Read** the CRM's deals closed or changed since the loop's watermark (``watermarks``:
   ``<crm>`` / ``revenue:deals``), and by id every won or open one not read, so a deal
   reopened, lost or deleted is noticed (:mod:`closedloop.revenue.pipeline_reads`; a
   targeted run reads only the ids it is given).
2. **Observe** each deal: won from stage metadata, amount converted as the CRM converts it,
   buyers resolved to people (:mod:`closedloop.revenue.observe`).
3. **Version**: record a new revenue version only where something relevant changed, with its
   delta and its credits under every model (:mod:`closedloop.revenue.events`).
4. **Pipeline**: every open deal read replaces its row in the open pipeline, every closed or
   deleted one leaves it (:mod:`closedloop.revenue.pipeline_refresh`).
5. **Push**: recompute the totals from the current versions, diff them against the shadow
   state, enqueue the changed fields with their push keys and flush the outbox; enqueue one
   event per changed campaign of each new version and send them
   (:mod:`closedloop.revenue.pushback`, :mod:`closedloop.revenue.event_push`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from closedloop.config.schema import Settings
from closedloop.connectors.contract import Connector, Watermark, WonDeal
from closedloop.revenue.event_push import DEFAULT_EVENT_NAME, event_items, flush_events
from closedloop.revenue.events import Observation, RevenueStore, RevenueVersion
from closedloop.revenue.observe import DealObserver
from closedloop.revenue.pipeline import PipelineStore
from closedloop.revenue.pipeline_reads import read_deals
from closedloop.revenue.pipeline_refresh import PipelineRefresh
from closedloop.revenue.pushback import plan_targets, to_outbox
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.sync.flush import flush_outbox
from closedloop.sync.model import RecordRef
from closedloop.sync.runs import RunCounts
from closedloop.sync.state import SyncState

__all__ = ["DEAL_OBJECTS", "WATERMARK_OBJECT", "RevenueLoop", "RevenueReport"]

WATERMARK_OBJECT = "revenue:deals"
DEAL_OBJECTS = {"hubspot": {"deals", "deal", "0-3"}, "salesforce": {"Opportunity"}}


@dataclass
class RevenueReport:
    """What one revenue run did (or, in a dry run, would do)."""

    run_id: int
    dry_run: bool
    deals_read: int = 0
    unchanged: int = 0
    versions: list[Observation] = field(default_factory=list)
    deltas: list[Decimal] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    written: int = 0
    failed: int = 0
    events_sent: int = 0
    events_failed: int = 0
    won_total: Decimal = Decimal("0.00")
    unattributed: Decimal = Decimal("0.00")
    pipeline_open: int = 0
    pipeline_removed: int = 0

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object (``closedloop revenue --format json``)."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "deals_read": self.deals_read,
            "unchanged": self.unchanged,
            "new_versions": [
                {
                    "system": v.system,
                    "deal_id": v.deal_id,
                    "version": getattr(v, "version", None),
                    "state": v.state,
                    "amount": None if v.amount is None else str(v.amount),
                    "currency": v.currency,
                    "home_amount": str(v.home_amount),
                    "rate_source": v.rate_source,
                    "delta_home": str(delta),
                    "buyers": len(v.buyers),
                }
                for v, delta in zip(self.versions, self.deltas, strict=True)
            ],
            "skipped": self.skipped,
            "written": self.written,
            "failed": self.failed,
            "events_sent": self.events_sent,
            "events_failed": self.events_failed,
            "won_total": str(self.won_total),
            "unattributed": str(self.unattributed),
            "pipeline": {"open": self.pipeline_open, "removed": self.pipeline_removed},
        }


class RevenueLoop:
    """Versions won revenue and pushes it back to the marketing system.

    Args:
        settings: closedloop's settings (``roles``, ``revenue``, ``sync.read_only``).
        state: the sync state on the store.
        connectors: connectors by system name (both roles).
        clock: the time source.
        engine: the store engine (defaults to the one ``state`` is open on).
    """

    def __init__(
        self,
        settings: Settings,
        state: SyncState,
        connectors: dict[str, Connector],
        clock: Clock = SYSTEM_CLOCK,
        *,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.connectors = connectors
        self.clock = clock
        self.engine = engine or state.runs._engine
        self.store = RevenueStore(self.engine, clock)
        self.pipeline = PipelineStore(self.engine, clock)
        self.crm = settings.roles.crm
        self.marketing = settings.roles.marketing
        self._found: dict[str, str] = {}  # the (unattributed) record's id, once looked up
        # One run at a time per process: each pushes totals recomputed from every version, so
        # two interleaved runs (two inbox workers, or a worker and the scheduler) could leave
        # the older total on the marketing side.
        self._serial = threading.Lock()

    def handle_deals(self, system: str, object_type: str, ids: list[str]) -> None:
        """Process just these deals (the webhook worker's entry point).

        Ids of another system or object type are ignored.
        """
        if system != self.crm or object_type not in DEAL_OBJECTS.get(system, {object_type}):
            return
        if ids:
            self.run(deal_ids=ids)

    def run(self, *, deal_ids: Sequence[str] | None = None, dry_run: bool = False) -> RevenueReport:
        """One revenue run over changed deals, or just ``deal_ids`` (runs never overlap)."""
        with self._serial:
            return self._serial_run(deal_ids=deal_ids, dry_run=dry_run)

    def _serial_run(self, *, deal_ids: Sequence[str] | None, dry_run: bool) -> RevenueReport:
        dry_run = dry_run or self.settings.sync.read_only
        job = "revenue" if deal_ids is None else "revenue_targeted"
        run_id = self.state.runs.start(job, dry_run)
        report = RevenueReport(run_id, dry_run)
        try:
            self._run(report, deal_ids)
        except Exception as exc:
            self.state.runs.finish(run_id, "failed", self._counts(report), f"{exc}")
            raise
        self.state.runs.finish(run_id, "ok", self._counts(report))
        return report

    def _run(self, report: RevenueReport, deal_ids: Sequence[str] | None) -> None:
        crm = self.connectors[self.crm]
        deals, mark, recheck = self._read(crm, deal_ids)
        report.deals_read = len(deals)
        observer = DealObserver(
            self.crm, crm, self.settings.revenue, self.state, self.engine, self.clock
        )
        observations, report.skipped = observer.observe(deals)
        previous = self.store.latest(self.crm, [o.deal_id for o in observations])
        changed = [
            o
            for o in observations
            if (previous.get(o.deal_id) is None and o.state == "won")
            or (o.deal_id in previous and previous[o.deal_id].fingerprint() != o.fingerprint())
        ]
        report.unchanged = len(observations) - len(changed)
        if report.dry_run:
            report.versions = changed
            for o in changed:
                before = previous.get(o.deal_id)
                report.deltas.append(o.won_amount - (before.won_amount if before else 0))
            return
        created: list[tuple[RevenueVersion, RevenueVersion | None]] = []
        for observation in changed:
            credits = observer.credits(observation, self.store, changed)
            before = previous.get(observation.deal_id)
            version = self.store.record(observation, before, credits)
            if version is not None:
                created.append((version, before))
                report.versions.append(version)
                report.deltas.append(version.delta_home)
        refresh = PipelineRefresh(
            self.crm, crm, self.settings.revenue, self.state.identity, self.pipeline
        )
        update = refresh.refresh(deals, observer, self.store, recheck=recheck, pending=changed)
        report.pipeline_open, report.pipeline_removed = update.open, update.removed
        report.skipped.update(update.skipped)
        if created:
            self._push(report, created, targeted=deal_ids is not None)
        self._send_events(report)
        if mark is not None:
            self.state.watermarks.advance(self.crm, WATERMARK_OBJECT, mark)

    def _read(
        self, crm: Connector, deal_ids: Sequence[str] | None
    ) -> tuple[list[WonDeal], Watermark | None, frozenset[str]]:
        if deal_ids is not None:
            return crm.deals_by_id(list(deal_ids)), None, frozenset()
        won = [v.deal_id for v in self.store.current(won_only=True) if v.system == self.crm]
        found = read_deals(
            crm,
            self.crm,
            self.state.watermarks.get(self.crm, WATERMARK_OBJECT),
            won_ids=won,
            pipeline=self.pipeline.deals(self.crm),
        )
        return found.deals, found.mark, found.recheck

    def _push(
        self,
        report: RevenueReport,
        created: list[tuple[RevenueVersion, RevenueVersion | None]],
        *,
        targeted: bool,
    ) -> None:
        marketing = self.connectors[self.marketing]
        model = self.settings.revenue.model
        if not targeted:  # scheduled runs look the (unattributed) record up again
            self._found.clear()
        targets, totals = plan_targets(
            self.marketing, marketing, self.state, self.store, model, self._found
        )
        report.won_total, report.unattributed = totals.won_total, totals.unattributed
        refs = [
            RecordRef(self.marketing, t.object_type, t.record_id) for t in targets if t.record_id
        ]
        shadows = self.state.shadow.get_many(refs)
        items = to_outbox(self.marketing, targets, shadows, self.store.generation(), report.run_id)
        if self._events_enabled():
            name = self.settings.revenue.event_name or DEFAULT_EVENT_NAME
            for version, before in created:
                old = self.store.credits([before.id], model).get(before.id, []) if before else []
                contact = self._event_contact(version, before)
                items += event_items(
                    self.marketing, version, old, contact,
                    model=model, event_name=name, run_id=report.run_id,
                )  # fmt: skip
        self.state.outbox.enqueue(items)
        flushed = flush_outbox(
            self.state.outbox,
            {self.marketing: marketing},
            self.state.shadow,
            self.state.identity,
            clock=self.clock,
        )
        report.written, report.failed = flushed.written, flushed.failed

    def _events_enabled(self) -> bool:
        return self.settings.revenue.push_events and self.marketing == "hubspot"

    def _event_contact(self, version: RevenueVersion, before: RevenueVersion | None) -> str | None:
        buyers = [*version.buyers, *(before.buyers if before else ())]
        for person in dict.fromkeys(buyers):
            refs = self.state.identity.records_of(person)
            contacts = sorted(
                r.record_id
                for r in refs
                if r.system == self.marketing and r.object_type == "contacts"
            )
            if contacts:
                return contacts[0]
        return None

    def _send_events(self, report: RevenueReport) -> None:
        if not self._events_enabled():
            return
        marketing = self.connectors[self.marketing]
        sent, failed = flush_events(self.state.outbox, self.marketing, marketing, self.clock)
        report.events_sent, report.events_failed = sent, failed

    @staticmethod
    def _counts(report: RevenueReport) -> RunCounts:
        counts = RunCounts(
            read=report.deals_read,
            changed=len(report.versions),
            written=report.written + report.events_sent,
            failed=report.failed + report.events_failed,
        )
        for reason in report.skipped.values():
            counts.skip(reason)
        return counts
