"""What an inbox worker does besides processing: claiming deal bursts, recovering the outbox.

* :func:`claim_burst` — reps close a quarter's deals in an afternoon, and a revenue run reads
  its deals, their buyers and every buyer's company and pushes the recomputed totals: much the
  same calls for 5 deals as for 500. So a pass holding deal events goes on claiming while more
  keep arriving, and hands the deals over in one run.
  :class:`BurstGate` lets one thread lead the burst while the others hand their deal events in.
* :class:`OutboxUpkeep` — an idle worker looks (every 15 s) for outbox rows a dead process left
  in ``sending`` and flushes, which verifies them against the vendor before sending anything
  (:mod:`closedloop.sync.outbox_recovery`).
"""

from __future__ import annotations

import logging
import threading
import time

from closedloop.sync.flush import flush_outbox
from closedloop.sync.outbox_recovery import STALE_SENDING, SendingClaims
from closedloop.webhooks.inbox import Inbox, StoredEvent
from closedloop.webhooks.services import Services

__all__ = [
    "COALESCE_MAX_EVENTS",
    "COALESCE_MAX_SECONDS",
    "COALESCE_QUIET_SECONDS",
    "BurstGate",
    "OutboxUpkeep",
    "claim_burst",
]

log = logging.getLogger("closedloop.webhooks.worker")

COALESCE_QUIET_SECONDS = 0.5
"""A pass holding deal events claims more until none arrived for this long..."""
COALESCE_MAX_SECONDS = 2.0
"""... or for at most this long in all (webhooks must reach the marketing side within 5 s)..."""
COALESCE_MAX_EVENTS = 1000
"""... or this many events."""


def claim_burst(
    inbox: Inbox,
    claimed: int,
    *,
    quiet_seconds: float,
    batch_size: int,
    stopping: threading.Event,
) -> list[StoredEvent]:
    """Claim more events until none arrived for ``quiet_seconds``, within the limits above.

    Args:
        inbox: where to claim from.
        claimed: how many events the pass already holds.
        quiet_seconds: the quiet time that ends the burst.
        batch_size: events claimed per look.
        stopping: set when the worker stops; the burst ends at once.
    """
    more: list[StoredEvent] = []
    start = time.monotonic()
    quiet_until = start + quiet_seconds
    while claimed + len(more) < COALESCE_MAX_EVENTS and not stopping.is_set():
        now = time.monotonic()
        if now >= quiet_until or now - start >= COALESCE_MAX_SECONDS:
            break
        stopping.wait(min(0.1, quiet_until - now))
        room = COALESCE_MAX_EVENTS - claimed - len(more)
        found = inbox.claim(min(batch_size, room))
        if found:
            more += found
            quiet_until = time.monotonic() + quiet_seconds
    return more


class BurstGate:
    """Lets one worker thread at a time lead a burst of deal events; the others hand theirs in.

    A thread whose pass holds deal events calls :meth:`lead`; if another thread is leading, it
    calls :meth:`hand` instead, and the leader takes the handed events with :meth:`finish`
    before its revenue run. When the leader finished in between, :meth:`hand` refuses and the
    thread tries to lead again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._collecting = False
        self._handed: list[StoredEvent] = []

    def lead(self) -> bool:
        """Become the leader, unless a burst is being collected already."""
        with self._lock:
            if self._collecting:
                return False
            self._collecting = True
            return True

    def hand(self, events: list[StoredEvent]) -> bool:
        """Give ``events`` to the leader; False when no burst is being collected any more."""
        with self._lock:
            if not self._collecting:
                return False
            self._handed.extend(events)
            return True

    def gather(
        self,
        inbox: Inbox,
        claimed: list[StoredEvent],
        deals: list[StoredEvent],
        *,
        quiet_seconds: float,
        batch_size: int,
        stopping: threading.Event,
    ) -> list[StoredEvent]:
        """What a pass that ``claimed`` events (``deals`` among them) processes.

        Without deals: ``claimed``. While another thread leads: ``claimed`` without ``deals``,
        which went to the leader. Else this thread leads: ``claimed``, what :func:`claim_burst`
        found, and what other threads handed in meanwhile.
        """
        if not deals:
            return claimed
        while not self.lead():
            if self.hand(deals):
                handed = {e.id for e in deals}
                return [e for e in claimed if e.id not in handed]
        more: list[StoredEvent] = []
        try:
            more = claim_burst(
                inbox,
                len(claimed),
                quiet_seconds=quiet_seconds,
                batch_size=batch_size,
                stopping=stopping,
            )
        except Exception as exc:  # noqa: BLE001  (a store hiccup: go on with what is claimed)
            log.warning("claiming more of a deal burst failed: %s", type(exc).__name__)
        finally:
            handed_in = self.finish()
        return claimed + more + handed_in

    def finish(self) -> list[StoredEvent]:
        """End the collection (leader only): the events other threads handed in."""
        with self._lock:
            self._collecting = False
            handed, self._handed = self._handed, []
            return handed


class OutboxUpkeep:
    """Flushes when a dead process left outbox rows in ``sending`` (looks every 15 s)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._checked = float("-inf")

    def recover(self) -> int:
        """Flush if rows were abandoned; returns how many were (0 when it did not look)."""
        if time.monotonic() - self._checked < STALE_SENDING.total_seconds() / 4:
            return 0
        self._checked = time.monotonic()
        services = self.services
        claims = SendingClaims(services.store, services.clock)
        abandoned = claims.abandoned_count(services.clock.now() - STALE_SENDING)
        if not abandoned:
            return 0
        try:
            engine = services.sync_engine
        except RuntimeError:  # a listener without sync: another process flushes
            return abandoned
        state = engine.state
        with services.sync_lock:
            flushed = flush_outbox(
                state.outbox, engine.connectors, state.shadow, state.identity, clock=engine.clock
            )
        log.info(
            "outbox recovery: %d abandoned rows, %d already written, %d sent",
            abandoned,
            flushed.recovered,
            flushed.written,
        )
        return abandoned
