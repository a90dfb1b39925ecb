"""Send pending outbox rows to the connectors and settle each one.

Rows are claimed per system (on PostgreSQL without blocking other workers), handed to the
connector in one call (it batches to the vendor maximum), and settled together: written rows
complete, their values become the shadows (so their echo is recognised) and created records'
new ids are linked to their people, a few statements per 500 rows; a refused row is retried
later when the reason is transient, otherwise it goes to the dead-letter list with its reason.
A row is never lost.

While the connector call runs, a heartbeat keeps the claims fresh. Every flush first recovers,
system by system, the rows another (dead) process left in ``sending`` (**verify on
recovery**, :mod:`closedloop.sync.outbox_recovery`): it reads the target records' current
values, completes without writing the rows whose values are already there (counted as
``recovered``), and sends only the others. So a crash between the vendor applying a write and
the outbox marking it done never applies that write twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from closedloop.connectors.classification import Action
from closedloop.connectors.contract import Connector, RowResult, Value
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import ConnectorError, FatalSyncError
from closedloop.sync.identity import IdentityStore
from closedloop.sync.model import RecordRef
from closedloop.sync.outbox import Outbox, OutboxItem
from closedloop.sync.outbox_recovery import (
    STALE_SENDING,
    Heartbeat,
    SendingClaims,
    already_written,
)
from closedloop.sync.shadow import ShadowStore

log = logging.getLogger("closedloop.sync.flush")
CLAIM_BATCH = 2_000
MAX_ATTEMPTS = 5
RETRY_DELAY = timedelta(minutes=5)


@dataclass
class FlushResult:
    """What one flush did."""

    written: int = 0
    failed: int = 0
    dead: int = 0
    recovered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def flush_outbox(
    outbox: Outbox,
    connectors: dict[str, Connector],
    shadow: ShadowStore,
    identity: IdentityStore,
    *,
    clock: Clock = SYSTEM_CLOCK,
    stale_after: timedelta = STALE_SENDING,
) -> FlushResult:
    """Recover abandoned rows, then write every due outbox row, system by system.

    Args:
        outbox: the outbox to drain.
        connectors: the connector of each system.
        shadow: where written values are remembered.
        identity: where created records are linked to their person.
        clock: the source of "now".
        stale_after: a ``sending`` row untouched for this long was abandoned by a dead relay.
    """
    result = FlushResult()
    claims = SendingClaims.of(outbox)
    for system, connector in connectors.items():
        settle = _Settler(outbox, system, shadow, identity, clock, result)
        _recover(claims, connector, settle, clock.now() - stale_after)
        while True:
            items = outbox.claim(system, CLAIM_BATCH, clock.now())
            if not items:
                break
            try:
                with Heartbeat(_toucher(claims, items)):
                    answers = connector.write([item.to_row_write() for item in items])
            except FatalSyncError:
                for item in items:
                    outbox.fail(item.push_key, "run stopped before this row was sent", clock.now())
                raise
            except ConnectorError as exc:
                for item in items:
                    outbox.fail(item.push_key, str(exc), clock.now() + RETRY_DELAY)
                result.failed += len(items)
                break
            settle(items, answers)
    return result


def _toucher(claims: SendingClaims, items: list[OutboxItem]) -> Callable[[], int]:
    ids = [item.id for item in items if item.id is not None]
    return lambda: claims.touch(ids)


def _recover(
    claims: SendingClaims, connector: Connector, settle: _Settler, older_than: datetime
) -> None:
    """Verify the rows a dead relay left in ``sending``: complete those already written."""
    while True:
        items = claims.reclaim(settle.system, older_than, CLAIM_BATCH)
        if not items:
            return
        try:
            with Heartbeat(_toucher(claims, items)):
                present = already_written(connector, items)
        except ConnectorError as exc:
            log.warning(
                "could not verify %d abandoned %s rows (%s); verifying them again later",
                len(items),
                settle.system,
                type(exc).__name__,
            )
            return
        there = [item for item in items if item.push_key in present]
        settle(there, [RowResult(i.push_key, True, present[i.push_key]) for i in there], True)
        claims.requeue([item.id for item in items if item.push_key not in present and item.id])
        log.info(
            "recovered %d abandoned %s rows: %d were already written, %d will be sent",
            len(items),
            settle.system,
            len(there),
            len(items) - len(there),
        )


class _Settler:
    """Settles a claimed batch from the connector's answers (or from a verification)."""

    def __init__(
        self,
        outbox: Outbox,
        system: str,
        shadow: ShadowStore,
        identity: IdentityStore,
        clock: Clock,
        result: FlushResult,
    ) -> None:
        self.outbox, self.system, self.shadow = outbox, system, shadow
        self.identity, self.clock, self.result = identity, clock, result

    def __call__(
        self, items: list[OutboxItem], answers: list[RowResult], verified: bool = False
    ) -> None:
        """Settle ``items``; ``verified`` answers come from a recovery read, not a write."""
        done = [a for a in answers if a.ok]
        if done:
            self.outbox.complete([a.push_key for a in done], done)
        by_key = {item.push_key: item for item in items}
        result = self.result
        written: list[tuple[RecordRef, dict[str, Value]]] = []
        created: list[tuple[RecordRef, str]] = []
        for answer in answers:
            item = by_key[answer.push_key]
            if answer.ok and answer.record_id:
                ref = RecordRef(self.system, item.object_type, answer.record_id)
                written.append((ref, item.fields))
                if item.person_id and item.record_id is None:
                    created.append((ref, item.person_id))
                if verified:
                    result.recovered += 1
                else:
                    result.written += 1
                continue
            reason = answer.reason or "refused without a reason"
            result.reasons[reason] = result.reasons.get(reason, 0) + 1
            retry = answer.action is Action.RETRY and item.attempts < MAX_ATTEMPTS
            retry_at = self.clock.now() + RETRY_DELAY if retry else None
            self.outbox.fail(item.push_key, reason, retry_at)
            result.failed += 1
            result.dead += 0 if retry else 1
            log.warning("%s %s refused: %s", self.system, item.object_type, reason)
        self.shadow.remember_many(written, "written")
        self.identity.link_many(created)
