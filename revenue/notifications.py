"""Which deal notifications need the revenue loop to read the deal at all.

A Salesforce Outbound Message carries the fields it was configured with (the demo's and the
documented setup send ``StageName``, ``Amount``, ``CloseDate``, ``IsWon`` and ``IsClosed``). An
opportunity created or edited while open, for which closedloop never recorded revenue, has
nothing to count and nothing to correct: reading it, its contact roles and its buyers' records
would change nothing. Its close sends a notification of its own, and the scheduled revenue run
catches any notification that was lost, so skipping it loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine

from closedloop.revenue.events import RevenueStore
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock

__all__ = ["open_and_never_won"]


def _says_open(payload: Mapping[str, Any]) -> bool:
    fields = payload.get("fields")
    return isinstance(fields, Mapping) and str(fields.get("IsClosed")).lower() == "false"


def open_and_never_won(
    system: str,
    notifications: Iterable[tuple[str, Mapping[str, Any] | None]],
    engine: Engine,
    clock: Clock = SYSTEM_CLOCK,
) -> set[str]:
    """The deal ids every notification of which says open, and that never had a revenue version.

    Args:
        system: the CRM the deals live in.
        notifications: ``(deal id, Outbound Message payload)``; None for any other kind of
            notification (which always needs a read).
        engine: the state store holding the revenue versions.
        clock: the store's clock.
    """
    open_ids: set[str] = set()
    other_ids: set[str] = set()
    for deal_id, payload in notifications:
        (open_ids if payload is not None and _says_open(payload) else other_ids).add(deal_id)
    candidates = open_ids - other_ids
    if not candidates:
        return set()
    return candidates - set(RevenueStore(engine, clock).latest(system, candidates))
