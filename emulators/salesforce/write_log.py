"""The write log: every committed create and update, for tests and benchmarks to audit.

An emulator-only view (real orgs have nothing like it; Field History Tracking is the nearest):
``GET /__emulator__/write-log?object=Lead`` lists, oldest first, each applied create or update
with the record id, the fields the caller sent and their stored values, the route that carried
the write, who made it (``api`` for the integration user, ``admin`` for admin routes and
automation) and the emulator time. A write that sent the same values twice appears twice, even
though the second one changed nothing: that is how a benchmark catches a re-sent write.

The log lives in memory beside the org, is emptied by ``POST /__emulator__/reset`` and keeps
at most :data:`MAX_ENTRIES` entries (the oldest go first).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from flask import has_request_context, request

from closedloop.emulators.salesforce.store import Change

if TYPE_CHECKING:
    from closedloop.emulators.salesforce.emulator import SalesforceEmulator

__all__ = ["MAX_ENTRIES", "WriteLog"]

MAX_ENTRIES = 1_000_000
_AUDIT = frozenset(
    {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById"}
    | {"SystemModstamp"}
)


def _route() -> str:
    """``METHOD /path`` of the request being served, or ``internal`` outside of one."""
    if not has_request_context():
        return "internal"
    return f"{request.method} {request.path}"


class WriteLog:
    """Collects committed creates and updates from the org's record store.

    Args:
        emulator: the emulator whose org (current, and after every reset) is observed.
    """

    def __init__(self, emulator: SalesforceEmulator) -> None:
        self._emulator = emulator
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._sequence = 0
        self._lock = threading.Lock()

    def on_changes(self, changes: list[Change]) -> None:
        """Store listener: log each committed create or update a caller made."""
        org = self._emulator.org
        now = self._emulator.clock.timestamp()
        route = _route()
        with self._lock:
            for change in changes:
                if change.kind == "delete" or change.written is None:
                    continue
                row = org.store.get(change.sobject, change.record_id, include_deleted=True)
                if row is None:
                    continue
                names = sorted(change.written - _AUDIT)
                self._sequence += 1
                self._entries.append(
                    {
                        "seq": self._sequence,
                        "object": change.sobject,
                        "id": change.record_id,
                        "kind": change.kind,
                        "fields": {name: row.get(name) for name in names},
                        "route": route,
                        "by": "api" if row.get("LastModifiedById") == org.api_user_id else "admin",
                        "at": now,
                    }
                )

    def entries(self, sobject: str | None = None, after: int = 0) -> list[dict[str, Any]]:
        """Logged writes (of ``sobject`` only, if given) with a sequence number over ``after``."""
        with self._lock:
            return [
                dict(entry)
                for entry in self._entries
                if entry["seq"] > after
                and (sobject is None or entry["object"].lower() == sobject.lower())
            ]

    def clear(self) -> None:
        """Forget every entry (the sequence keeps counting)."""
        with self._lock:
            self._entries.clear()
