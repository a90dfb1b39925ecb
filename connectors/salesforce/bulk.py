"""Large writes through Bulk API 2.0 ingest jobs (CSV), with results mapped back to rows.

Salesforce's guidance is Bulk API 2.0 above about 2,000 records: one job costs a handful of
calls (create, upload, close, a few polls, three result files) however many rows it holds.
simple-salesforce runs the job (``sf.bulk2.<Object>.upsert/update``) and returns only counts,
so the result files are read afterwards: ``successfulResults`` (``sf__Id``, ``sf__Created``),
``failedResults`` (``sf__Error`` = ``STATUS_CODE:message``) and ``unprocessedrecords``. Each
row is matched back to its push key through the job's key column: ``Id`` for updates, the
external-id field for upserts.

CSV rules: an empty cell leaves a field unchanged, so only the caller's fields are set; a
``None`` (or empty string) becomes ``#N/A``, which clears the field. Upserts and updates are
idempotent, so a job replayed after a failure (expired session, transient error) writes the
same values again and never doubles a record.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from closedloop.connectors.classification import Action, classify_salesforce
from closedloop.connectors.contract import RowResult, RowWrite, Value
from closedloop.connectors.salesforce.api import SalesforceApi

IndexedRows = list[tuple[int, RowWrite]]
NULL = "#N/A"
PRODUCTION_POLL_SECONDS = 5.0
EMULATOR_POLL_SECONDS = 0.05  # a loopback emulator finishes jobs at once
RESULT_FILES = {
    "successfulResults": "get_successful_records",
    "failedResults": "get_failed_records",
    "unprocessedrecords": "get_unprocessed_records",
}


def failure(row: RowWrite, action: Action, reason: str) -> RowResult:
    """A failed :class:`RowResult` for ``row``."""
    return RowResult(row.push_key, False, action=action, reason=reason)


def csv_value(value: Value) -> str:
    """A CSV cell: ``#N/A`` clears a field, booleans are lower-case words."""
    if value is None or value == "":
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SalesforceBulk:
    """Runs Bulk API 2.0 ingest jobs for one org.

    Args:
        api: the org's API wrapper.
        poll_seconds: the first wait between job-status polls; the emulator's default is short.
    """

    def __init__(self, api: SalesforceApi, *, poll_seconds: float | None = None) -> None:
        self._api = api
        default = EMULATOR_POLL_SECONDS if api.emulated else PRODUCTION_POLL_SECONDS
        self.poll_seconds = poll_seconds if poll_seconds is not None else default
        self.jobs = 0

    def send(self, object_type: str, key: str, rows: IndexedRows) -> dict[int, RowResult]:
        """Write ``rows`` in one job keyed by ``key`` (``Id`` or an external-id field)."""
        records = [self._csv_row(row, key) for _, row in rows]

        def run(sf: Salesforce) -> list[dict[str, Any]]:
            target = getattr(sf.bulk2, object_type)
            if key == "Id":
                jobs: list[dict[str, Any]] = target.update(records=records, wait=self.poll_seconds)
            else:
                jobs = target.upsert(records=records, external_id_field=key, wait=self.poll_seconds)
            return jobs

        try:
            jobs = self._api.call(f"bulk {object_type} by {key}", run, kind="bulk_jobs")
        except SalesforceOperationError as exc:
            reason = f"Bulk API job failed: {exc}"
            return {index: failure(row, Action.SKIP_ROW, reason) for index, row in rows}
        self.jobs += len(jobs)
        outcomes = self._outcomes(object_type, key, [str(job["job_id"]) for job in jobs])
        fold = (lambda v: v) if key == "Id" else str.lower  # external ids ignore case
        positions: dict[str, IndexedRows] = defaultdict(list)
        for index, row in rows:
            positions[fold(_key_value(row, key))].append((index, row))
        results: dict[int, RowResult] = {}
        for value, result in outcomes:
            matched = positions.get(fold(value))
            if matched:
                index, row = matched.pop(0)
                results[index] = RowResult(row.push_key, **result)
        for index, row in rows:
            if index not in results:
                results[index] = failure(row, Action.RETRY, "Bulk API returned no result")
        return results

    def _outcomes(
        self, object_type: str, key: str, job_ids: list[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(key value, RowResult fields) for every row of every job's result files."""
        for job_id in job_ids:
            for kind, method in RESULT_FILES.items():

                def fetch(sf: Salesforce, method: str = method, job: str = job_id) -> str:
                    return str(getattr(getattr(sf.bulk2, object_type), method)(job) or "")

                text = self._api.call(f"bulk {kind} {job_id}", fetch, kind="bulk_results")
                for line in csv.DictReader(io.StringIO(text or "")):
                    yield _key_of(line, key), _outcome(kind, line)

    @staticmethod
    def _csv_row(row: RowWrite, key: str) -> dict[str, str]:
        cells = {name: csv_value(value) for name, value in row.fields.items()}
        cells[key] = _key_value(row, key)
        return cells


def _key_value(row: RowWrite, key: str) -> str:
    if key == "Id":
        return str(row.record_id)
    return row.match[1] if row.match else ""


def _key_of(line: dict[str, str], key: str) -> str:
    value = line.get(key)
    if value is None:  # column names come back as sent, but compare case-insensitively
        value = next((v for k, v in line.items() if k.lower() == key.lower()), "")
    return value or ""


def _outcome(kind: str, line: dict[str, str]) -> dict[str, Any]:
    if kind == "successfulResults":
        created = (line.get("sf__Created") or "").lower() == "true"
        return {"ok": True, "record_id": line.get("sf__Id") or None, "created": created}
    if kind == "unprocessedrecords":
        return {"ok": False, "action": Action.RETRY, "reason": "the Bulk job did not process it"}
    error = line.get("sf__Error") or "UNKNOWN_EXCEPTION:no message"
    code, _, message = error.partition(":")
    action = classify_salesforce(400, code, message).action
    return {"ok": False, "action": action, "reason": f"{code}: {message.rstrip(' -:')}"}
