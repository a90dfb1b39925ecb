"""Every durable piece of sync state, opened together on one store engine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.sync.identity import IdentityStore
from closedloop.sync.ledger import TouchLedger
from closedloop.sync.outbox import Outbox
from closedloop.sync.provenance import ProvenanceLog
from closedloop.sync.runs import RunLog, Watermarks
from closedloop.sync.shadow import ShadowStore
from closedloop.sync.staging import StagingArea


@dataclass(frozen=True)
class SyncState:
    """The repositories a sync run reads and writes (see :mod:`closedloop.store.schema`)."""

    identity: IdentityStore
    ledger: TouchLedger
    shadow: ShadowStore
    provenance: ProvenanceLog
    outbox: Outbox
    watermarks: Watermarks
    runs: RunLog
    staging: StagingArea

    @classmethod
    def open(cls, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> SyncState:
        """Every repository on ``engine`` (already migrated)."""
        return cls(
            identity=IdentityStore(engine, clock),
            ledger=TouchLedger(engine, clock),
            shadow=ShadowStore(engine, clock),
            provenance=ProvenanceLog(engine, clock),
            outbox=Outbox(engine, clock),
            watermarks=Watermarks(engine, clock),
            runs=RunLog(engine, clock),
            staging=StagingArea(engine, clock),
        )
