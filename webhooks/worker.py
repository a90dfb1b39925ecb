"""Inbox workers: claim received events, hand them to the sync engine or the revenue loop.

Events are grouped by target: person records (HubSpot ``contacts``; Salesforce ``Lead`` and
``Contact``) become one targeted sync run (``SyncEngine.run(targets=...)``), which re-reads just
those records, diffs them against the shadow state (so echoes of closedloop's own writes change
nothing) and writes through the outbox; deals (HubSpot ``deals``, Salesforce ``Opportunity``)
go to ``Services.on_deals``. Anything else is marked done with a note.

Deal notifications come in bursts: one thread collects a burst while more keep arriving (up to
2 s; :mod:`closedloop.webhooks.worker_upkeep`), so it costs one revenue run. A Salesforce
notification that a never-won deal is open needs no read and is settled as it is.

A failing group is retried record by record, so one poison event never holds back its
batch-mates; a failed event is due again after a back-off, and dead (with its reason) once
``webhooks.max_attempts`` attempts failed.

While it processes, a worker refreshes its claims (a heartbeat every sixth of
``stale_after_seconds``), so a claim left untouched for ``stale_after_seconds`` (60 s) belongs
to a process that died: it is released and the event processed again, which re-reads the
records and writes only what is still missing. An idle worker also looks for outbox rows a dead
process left in ``sending`` and flushes, which verifies them before sending anything
(:mod:`closedloop.sync.outbox_recovery`).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from closedloop.config.schema import Settings
from closedloop.revenue.notifications import open_and_never_won
from closedloop.runtime.logging import redact
from closedloop.sync.outbox_recovery import Heartbeat
from closedloop.webhooks.inbox import StoredEvent
from closedloop.webhooks.routes_salesforce import OUTBOUND_SOURCE
from closedloop.webhooks.services import Services
from closedloop.webhooks.worker_upkeep import (
    COALESCE_QUIET_SECONDS,
    BurstGate,
    OutboxUpkeep,
)

__all__ = ["DEAL_OBJECTS", "PERSON_OBJECTS", "InboxWorker", "ProcessResult"]

log = logging.getLogger("closedloop.webhooks.worker")

PERSON_OBJECTS = {("hubspot", "contacts"), ("salesforce", "Lead"), ("salesforce", "Contact")}
DEAL_OBJECTS = {("hubspot", "deals"), ("salesforce", "Opportunity")}
NO_REVENUE_HANDLER = "no revenue handler"
NOT_SYNCED = "not a synced object"

Action = Callable[[list[StoredEvent]], None]


@dataclass
class ProcessResult:
    """What one pass over the inbox did."""

    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0

    def add(self, other: ProcessResult) -> None:
        """Add ``other``'s counts to this one."""
        for name in ("claimed", "done", "retried", "dead", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _reason(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")[:500]


class InboxWorker:
    """Processes the webhook inbox, once on demand or continuously on background threads.

    Args:
        services: the store, sync engine, clock and deal handler.
        settings: ``webhooks.max_attempts`` and ``webhooks.workers`` are read.
        batch_size: events claimed per pass.
        poll_seconds: how long an idle thread waits for new events.
        stale_after_seconds: when a ``processing`` claim no heartbeat refreshed is abandoned.
        coalesce_seconds: how long a pass holding deal events waits for more (0: never).
    """

    def __init__(
        self,
        services: Services,
        settings: Settings,
        *,
        batch_size: int = 100,
        poll_seconds: float = 0.5,
        stale_after_seconds: float = 60.0,
        coalesce_seconds: float = COALESCE_QUIET_SECONDS,
    ) -> None:
        self.services = services
        self.settings = settings
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stale_after = timedelta(seconds=stale_after_seconds)
        self.coalesce_seconds = coalesce_seconds
        self._stale_checked: datetime | None = None
        self._outbox_upkeep = OutboxUpkeep(services)
        self._burst = BurstGate()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def max_attempts(self) -> int:
        """Attempts before an event is dead-lettered."""
        return self.settings.webhooks.max_attempts

    def process_once(self, limit: int | None = None) -> ProcessResult:
        """Release abandoned claims, then claim and process up to ``limit`` due events.

        Abandoned claims are looked for at most every quarter of ``stale_after_seconds``.
        """
        inbox = self.services.inbox
        result = ProcessResult()
        now = self.services.clock.now()
        if self._stale_checked is None or now - self._stale_checked >= self.stale_after / 4:
            # Claims go stale after a minute: looking every few seconds is plenty, and each
            # look is a write transaction that would queue behind the sync on SQLite.
            self._stale_checked = now
            result.released = inbox.release_stale(now - self.stale_after, self.max_attempts)
        events = inbox.claim(limit or self.batch_size)
        claimed = len(events)
        if limit is None:
            events = self._coalesce_deals(events)
        result.add(self._process_alive(events))
        result.claimed = max(result.claimed, claimed)
        if not claimed:
            self.recover_outbox()
        return result

    def _coalesce_deals(self, claimed: list[StoredEvent]) -> list[StoredEvent]:
        """The events this pass processes: with every deal event of a burst, or with none."""
        if self.coalesce_seconds <= 0:
            return claimed
        return self._burst.gather(
            self.services.inbox,
            claimed,
            [e for e in claimed if (e.system, e.object_type) in DEAL_OBJECTS],
            quiet_seconds=self.coalesce_seconds,
            batch_size=self.batch_size,
            stopping=self._stopping,
        )

    def process_ids(self, ids: Iterable[int]) -> ProcessResult:
        """Claim and process exactly the pending events ``ids`` (due or not): replays."""
        wanted = list(ids)
        if not wanted:
            return ProcessResult()
        return self._process_alive(self.services.inbox.claim(len(wanted), ids=wanted))

    def recover_outbox(self) -> int:
        """Flush outbox rows a dead process left in ``sending`` (see :class:`OutboxUpkeep`)."""
        return self._outbox_upkeep.recover()

    def _process_alive(self, events: list[StoredEvent]) -> ProcessResult:
        """Process ``events`` while a heartbeat keeps their claims fresh."""
        if not events:
            return ProcessResult()
        ids = [event.id for event in events]
        inbox = self.services.inbox
        interval = max(0.5, self.stale_after.total_seconds() / 6)
        with Heartbeat(lambda: inbox.touch(ids), interval):
            return self._process(events)

    def _process(self, events: list[StoredEvent]) -> ProcessResult:
        result = ProcessResult(claimed=len(events))
        people: list[StoredEvent] = []
        deals: dict[tuple[str, str], list[StoredEvent]] = defaultdict(list)
        unsynced: list[StoredEvent] = []
        for event in events:
            key = (event.system, event.object_type)
            if key in PERSON_OBJECTS:
                people.append(event)
            elif key in DEAL_OBJECTS:
                deals[key].append(event)
            else:
                unsynced.append(event)
        if unsynced:
            result.done += self.services.inbox.complete([e.id for e in unsynced], NOT_SYNCED)
        if people:
            result.add(self._settle(people, self._sync_people))
        for group in deals.values():
            if self.services.on_deals is None:
                result.done += self.services.inbox.complete(
                    [e.id for e in group], NO_REVENUE_HANDLER
                )
            else:
                result.add(self._settle(group, self._hand_deals))
        for outcome in ("done", "retried", "dead"):
            self.services.metrics.inc(
                "closedloop_inbox_events_processed_total",
                getattr(result, outcome),
                outcome=outcome,
            )
        return result

    def _sync_people(self, events: list[StoredEvent]) -> None:
        targets: dict[tuple[str, str], list[str]] = defaultdict(list)
        for event in events:
            ids = targets[(event.system, event.object_type)]
            if event.record_id not in ids:
                ids.append(event.record_id)
        engine = self.services.sync_engine
        with self.services.sync_lock:
            engine.run(targets=dict(targets))

    def _hand_deals(self, events: list[StoredEvent]) -> None:
        handler = self.services.on_deals
        if handler is None:  # pragma: no cover - checked by the caller
            return
        ids = list(dict.fromkeys(event.record_id for event in events))
        quiet = open_and_never_won(
            events[0].system,
            [(e.record_id, e.payload if e.source == OUTBOUND_SOURCE else None) for e in events],
            self.services.store,
            self.services.clock,
        )
        ids = [i for i in ids if i not in quiet]
        if ids:
            handler(events[0].system, events[0].object_type, ids)

    def _settle(self, events: list[StoredEvent], action: Action) -> ProcessResult:
        """Run ``action`` on the group; on failure, once per record to isolate the poison."""
        result = ProcessResult()
        try:
            action(events)
        except Exception as exc:  # noqa: BLE001  (any failure is the event's failure)
            by_record: dict[tuple[str, str, str], list[StoredEvent]] = defaultdict(list)
            for event in events:
                by_record[(event.system, event.object_type, event.record_id)].append(event)
            if len(by_record) > 1:
                for group in by_record.values():
                    result.add(self._settle(group, action))
                return result
            log.warning("inbox events %s failed: %s", [e.id for e in events], type(exc).__name__)
            for event in events:
                state = self.services.inbox.fail(event, _reason(exc), self.max_attempts)
                if state == "dead":
                    result.dead += 1
                else:
                    result.retried += 1
            return result
        result.done += self.services.inbox.complete([e.id for e in events])
        self._observe(events)
        return result

    def _observe(self, events: list[StoredEvent]) -> None:
        now = self.services.clock.now()
        metrics = self.services.metrics
        for event in events:
            metrics.observe(
                "closedloop_inbox_processing_seconds", (now - event.received_at).total_seconds()
            )

    def start(self, threads: int | None = None) -> None:
        """Start ``threads`` (default ``webhooks.workers``) background processing threads."""
        self._stopping.clear()
        for n in range(threads or self.settings.webhooks.workers):
            thread = threading.Thread(target=self._loop, name=f"inbox-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the threads to stop after their current pass, and wait for them."""
        self._stopping.set()
        self.services.inbox_signal.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def _loop(self) -> None:
        signal = self.services.inbox_signal
        while not self._stopping.is_set():
            try:
                claimed = self.process_once().claimed
            except Exception as exc:  # noqa: BLE001  (the store may be down briefly: keep going)
                log.warning("inbox pass failed: %s", type(exc).__name__)
                claimed = 0
            if not claimed and not self._stopping.is_set():
                signal.wait(self.poll_seconds)
                signal.clear()
