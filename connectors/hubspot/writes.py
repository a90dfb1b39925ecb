"""Writing HubSpot: batch update by id and batch upsert by a unique property, 100 per call.

Batches of one wave go out in parallel (within the proactive budget), waves one after the
other, so a record named twice is never written by two concurrent calls. Each input carries
its push key as ``objectWriteTraceId`` so a 207 multi-status answer maps
every error back to its row. A batch HubSpot refuses as a whole (a 400 naming one bad row) is
split in halves until the bad rows stand alone, so a failed row never fails its batch-mates;
every row ends with a :class:`~closedloop.connectors.contract.RowResult` and a reason.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
)

from closedloop.connectors.classification import Action
from closedloop.connectors.contract import RowResult, RowWrite
from closedloop.connectors.hubspot.api import STANDARD, HubSpotApi
from closedloop.runtime.errors import SkippableSyncError

BATCH_MAX = 100
# Batches in flight at once: one call's latency must not cap throughput below the 10-second
# window's rate (190 calls per 10 s need ~19 calls per second); the budget still gates them.
PARALLEL_CALLS = 4


def _wire(value: Any) -> str:
    """HubSpot property values are strings on the wire; ``""`` clears a value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class HubSpotWriter:
    """Sends row writes to one portal, batched to the maximum."""

    def __init__(self, api: HubSpotApi, *, parallel_calls: int = PARALLEL_CALLS) -> None:
        self._api = api
        self._parallel = parallel_calls
        self._count_lock = threading.Lock()
        self.write_calls = 0

    def write(self, rows: Sequence[RowWrite]) -> list[RowResult]:
        """Apply every row; one result per row, in the order given."""
        groups: dict[tuple[str, str], list[RowWrite]] = defaultdict(list)
        for row in rows:
            mode = "update" if row.record_id else f"upsert:{row.match[0] if row.match else ''}"
            groups[(row.object_type, mode)].append(row)
        results: dict[str, RowResult] = {}
        with ThreadPoolExecutor(self._parallel, thread_name_prefix="hubspot-write") as pool:
            for (object_type, mode), group in groups.items():
                for wave in _waves(group):
                    chunks = [wave[i : i + BATCH_MAX] for i in range(0, len(wave), BATCH_MAX)]
                    sends = [pool.submit(self._send, object_type, mode, c) for c in chunks]
                    for sent in sends:
                        for result in sent.result():
                            results[result.push_key] = result
        return [results[row.push_key] for row in rows]

    def _send(self, object_type: str, mode: str, rows: list[RowWrite]) -> list[RowResult]:
        invalid = [r for r in rows if mode.startswith("upsert") and not r.match]
        if invalid:
            return [
                RowResult(
                    r.push_key, False, action=Action.SKIP_ROW, reason="no id and no match key"
                )
                for r in rows
            ]
        try:
            data, _status = self._call(object_type, mode, rows)
        except SkippableSyncError as exc:
            if len(rows) == 1:
                reason = _first_message(exc.body) or str(exc)
                return [RowResult(rows[0].push_key, False, action=Action.SKIP_ROW, reason=reason)]
            middle = len(rows) // 2
            return self._send(object_type, mode, rows[:middle]) + self._send(
                object_type, mode, rows[middle:]
            )
        return self._results(rows, data, upsert=mode.startswith("upsert"))

    def _call(self, object_type: str, mode: str, rows: list[RowWrite]) -> tuple[Any, int]:
        api = self._api.api("crm.objects.batch_api")
        with self._count_lock:
            self.write_calls += 1
        if mode == "update":
            body = BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    {
                        "id": r.record_id,
                        "properties": {k: _wire(v) for k, v in r.fields.items()},
                        "objectWriteTraceId": r.push_key,
                    }
                    for r in rows
                ]
            )
            updated: tuple[Any, int] = self._api.call(
                STANDARD, api.update_with_http_info, object_type, body
            )
            return updated
        upsert = BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {
                    "id": r.match[1] if r.match else "",
                    "idProperty": r.match[0] if r.match else "",
                    "properties": {
                        **({r.match[0]: r.match[1]} if r.match else {}),
                        **{k: _wire(v) for k, v in r.fields.items()},
                    },
                    "objectWriteTraceId": r.push_key,
                }
                for r in rows
            ]
        )
        upserted: tuple[Any, int] = self._api.call(
            STANDARD, api.upsert_with_http_info, object_type, upsert
        )
        return upserted

    @staticmethod
    def _results(rows: list[RowWrite], data: Any, *, upsert: bool) -> list[RowResult]:
        failed: dict[str, str] = {}
        for error in getattr(data, "errors", None) or []:
            context = error.context or {}
            message = str(error.message)
            for key in context.get("objectWriteTraceId", []):
                failed[str(key)] = message
            for record_id in context.get("ids", []):
                failed[f"id:{record_id}"] = message
        by_id: dict[str, Any] = {}
        for raw in data.results or []:
            by_id[str(raw.id)] = raw
            email = (raw.properties or {}).get("email")
            if email:
                by_id[f"email:{str(email).lower()}"] = raw
            trace = getattr(raw, "object_write_trace_id", None)
            if trace:
                by_id[f"trace:{trace}"] = raw
        out = []
        for row in rows:
            reason = failed.get(row.push_key) or failed.get(f"id:{row.record_id}")
            if reason:
                out.append(RowResult(row.push_key, False, action=Action.SKIP_ROW, reason=reason))
                continue
            raw = _match(row, by_id)
            if raw is None:
                out.append(
                    RowResult(row.push_key, False, action=Action.RETRY, reason="no result returned")
                )
                continue
            created = bool(getattr(raw, "new", False)) if upsert else False
            out.append(RowResult(row.push_key, True, record_id=str(raw.id), created=created))
        return out


def _waves(rows: list[RowWrite]) -> list[list[RowWrite]]:
    """Split rows so no batch names one record twice (HubSpot refuses duplicate ids)."""
    waves: list[tuple[set[str], list[RowWrite]]] = []
    for row in rows:
        target = row.record_id or (f"{row.match[0]}={row.match[1].lower()}" if row.match else "")
        for seen, wave in waves:
            if target not in seen:
                seen.add(target)
                wave.append(row)
                break
        else:
            waves.append(({target}, [row]))
    return [wave for _, wave in waves]


def _match(row: RowWrite, by_id: dict[str, Any]) -> Any:
    if f"trace:{row.push_key}" in by_id:
        return by_id[f"trace:{row.push_key}"]
    if row.record_id:
        return by_id.get(str(row.record_id))
    if row.match and row.match[0] == "email":
        return by_id.get(f"email:{row.match[1].lower()}")
    if row.match:
        return next(
            (
                raw
                for raw in by_id.values()
                if (raw.properties or {}).get(row.match[0]) == row.match[1]
            ),
            None,
        )
    return None


def _first_message(body: str | None) -> str | None:
    try:
        payload = json.loads(body or "")
    except ValueError:
        return None
    if isinstance(payload, dict):
        return str(payload.get("message")) if payload.get("message") else None
    return None
