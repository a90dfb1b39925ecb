"""Send pending outbox rows to the connectors and settle each one.

Rows are claimed per system (on PostgreSQL without blocking other workers), handed to the
connector in one call (it batches to the vendor maximum), and settled one by one: a written
row completes, its values become the shadow (so their echo is recognised) and a created
record's new id is linked to its person; a refused row is retried later when the reason is
transient, otherwise it goes to the dead-letter list with its reason. A row is never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from closedloop.connectors.classification import Action
from closedloop.connectors.contract import Connector
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import ConnectorError, FatalSyncError
from closedloop.sync.identity import IdentityStore
from closedloop.sync.model import RecordRef
from closedloop.sync.outbox import Outbox
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
    reasons: dict[str, int] = field(default_factory=dict)


def flush_outbox(
    outbox: Outbox,
    connectors: dict[str, Connector],
    shadow: ShadowStore,
    identity: IdentityStore,
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> FlushResult:
    """Write every due outbox row, system by system, until none is left."""
    result = FlushResult()
    for system, connector in connectors.items():
        while True:
            items = outbox.claim(system, CLAIM_BATCH, clock.now())
            if not items:
                break
            try:
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
            done = [a for a in answers if a.ok]
            outbox.complete([a.push_key for a in done], done)
            by_key = {item.push_key: item for item in items}
            for answer in answers:
                item = by_key[answer.push_key]
                if answer.ok and answer.record_id:
                    ref = RecordRef(system, item.object_type, answer.record_id)
                    shadow.remember(ref, item.fields, "written")
                    if item.person_id and item.record_id is None:
                        identity.link(ref, item.person_id)
                    result.written += 1
                    continue
                reason = answer.reason or "refused without a reason"
                result.reasons[reason] = result.reasons.get(reason, 0) + 1
                retry = answer.action is Action.RETRY and item.attempts < MAX_ATTEMPTS
                outbox.fail(item.push_key, reason, clock.now() + RETRY_DELAY if retry else None)
                result.failed += 1
                result.dead += 0 if retry else 1
                log.warning("%s %s refused: %s", system, item.object_type, reason)
    return result
