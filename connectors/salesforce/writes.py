"""Writing Salesforce: sObject Collections up to the bulk threshold, Bulk API 2.0 above it.

Rows with a ``record_id`` are updated by id (``PATCH composite/sobjects``); rows with a
``match`` are upserted by external id (``PATCH composite/sobjects/{Object}/{Field}``). Each
request carries at most 200 records with ``allOrNone: false`` and counts as one API call;
Salesforce answers with one result per record, in request order, so a refused row never
fails its batch-mates and every row gets a :class:`~closedloop.connectors.contract.RowResult`
with the ``statusCode`` and message as its reason. Rows refused with ``UNABLE_TO_LOCK_ROW``
are sent again, alone, after a back-off. Only the fields the caller gave are sent, plus the
match key.

When one object has more rows than ``bulk_threshold`` in a call to :meth:`write`, those rows
go through :class:`~closedloop.connectors.salesforce.bulk.SalesforceBulk` instead.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

from closedloop.connectors.classification import Action, classify_salesforce
from closedloop.connectors.contract import RowResult, RowWrite
from closedloop.connectors.retry import backoff_seconds
from closedloop.connectors.salesforce.api import SalesforceApi
from closedloop.connectors.salesforce.bulk import IndexedRows, SalesforceBulk, failure
from closedloop.connectors.salesforce.reads import soql_name
from closedloop.runtime.errors import SkippableSyncError

BATCH_MAX = 200
LOCKED = "UNABLE_TO_LOCK_ROW"
UPDATE = "Id"  # the mode of updates by record id; upserts use their external-id field


def mode_of(row: RowWrite) -> str | None:
    """``Id`` for an update, the external-id field for an upsert, None when neither is set."""
    if row.record_id:
        return UPDATE
    return row.match[0] if row.match else None


def row_reason(answer: dict[str, Any]) -> tuple[str, str]:
    """The first ``statusCode`` of a failed per-record result, and a readable reason."""
    errors = answer.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = str(first.get("statusCode") or "UNKNOWN_EXCEPTION")
    message = str(first.get("message") or "no message")
    fields = ", ".join(first.get("fields") or [])
    return code, f"{code}: {message}" + (f" (fields: {fields})" if fields else "")


class SalesforceWriter:
    """Sends row writes to one org with per-row results.

    Args:
        api: the org's API wrapper.
        bulk: the Bulk API 2.0 path for large writes.
        bulk_threshold: rows of one object above which a call uses Bulk API 2.0.
    """

    def __init__(self, api: SalesforceApi, bulk: SalesforceBulk, *, bulk_threshold: int) -> None:
        self._api = api
        self._bulk = bulk
        self._threshold = bulk_threshold
        self._rng = random.Random()
        self.write_calls = 0

    def write(self, rows: Sequence[RowWrite]) -> list[RowResult]:
        """Apply every row; one result per row, in the order given."""
        results: dict[int, RowResult] = {}
        by_object: dict[str, dict[str, IndexedRows]] = defaultdict(lambda: defaultdict(list))
        for index, row in enumerate(rows):
            mode = mode_of(row)
            if mode is None:
                results[index] = failure(row, Action.SKIP_ROW, "no record id and no match key")
                continue
            by_object[row.object_type][mode].append((index, row))
        for object_type, modes in by_object.items():
            soql_name(object_type)
            use_bulk = sum(len(group) for group in modes.values()) > self._threshold
            for mode, group in modes.items():
                for wave in _waves(group):
                    if use_bulk:
                        results.update(self._bulk.send(object_type, mode, wave))
                        continue
                    for start in range(0, len(wave), BATCH_MAX):
                        chunk = wave[start : start + BATCH_MAX]
                        results.update(self._send(object_type, mode, chunk))
        return [results[index] for index in range(len(rows))]

    def _send(self, object_type: str, mode: str, batch: IndexedRows) -> dict[int, RowResult]:
        """One collection (and its lock retries); a result for every row of ``batch``."""
        out: dict[int, RowResult] = {}
        pending = batch
        policy = self._api.retry_policy
        for attempt in range(1, policy.max_attempts + 1):
            try:
                answers = self._call(object_type, mode, [row for _, row in pending])
            except SkippableSyncError as exc:
                reason = str(exc)
                out.update({i: failure(row, Action.SKIP_ROW, reason) for i, row in pending})
                return out
            locked: IndexedRows = []
            for item, answer in zip_longest(pending, answers):
                if item is None:
                    break
                index, row = item
                if not isinstance(answer, dict):
                    out[index] = failure(row, Action.RETRY, "Salesforce returned no result")
                elif answer.get("success"):
                    created = bool(answer.get("created")) if mode != UPDATE else False
                    out[index] = RowResult(
                        row.push_key, True, record_id=str(answer.get("id")), created=created
                    )
                else:
                    code, reason = row_reason(answer)
                    if code == LOCKED and attempt < policy.max_attempts:
                        locked.append(item)
                        continue
                    action = classify_salesforce(400, code, reason).action
                    out[index] = failure(row, action, reason)
            if not locked:
                break
            self._api.counter.add_retry()
            self._api.clock.sleep(backoff_seconds(policy, attempt, None, self._rng))
            pending = locked
        return out

    def _call(self, object_type: str, mode: str, rows: list[RowWrite]) -> list[Any]:
        records = []
        for row in rows:
            record: dict[str, Any] = {"attributes": {"type": object_type}, **row.fields}
            if mode == UPDATE:
                record["Id"] = row.record_id
            elif row.match:
                record[row.match[0]] = row.match[1]
            records.append(record)
        body = {"allOrNone": False, "records": records}
        path = "composite/sobjects"
        if mode != UPDATE:
            path = f"composite/sobjects/{object_type}/{soql_name(mode)}"
        self.write_calls += 1
        answers = self._api.restful(path, method="PATCH", json=body, kind="collections")
        return list(answers or [])


def _waves(rows: IndexedRows) -> list[IndexedRows]:
    """Split rows so no request names one record twice (Salesforce refuses duplicates)."""
    waves: list[tuple[set[str], IndexedRows]] = []
    for item in rows:
        row = item[1]
        target = row.record_id[:15] if row.record_id else (row.match[1] if row.match else "")
        target = target.lower() if not row.record_id else target
        for seen, wave in waves:
            if target not in seen:
                seen.add(target)
                wave.append(item)
                break
        else:
            waves.append(({target}, [item]))
    return [wave for _, wave in waves]
