"""Bulk API 2.0 jobs: the job record, its formats, and finding or creating one.

A :class:`Job` is either an ingest job (CSV uploaded, then processed) or a query job (rows
computed up front, paged out as CSV). Both kinds share the CSV dialect settings
(:data:`DELIMITERS`, :data:`LINE_ENDINGS`) and the terminal states in :data:`TERMINAL`. The
HTTP resources are in :mod:`~closedloop.emulators.salesforce.bulk2` and
:mod:`~closedloop.emulators.salesforce.bulk2_query`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from closedloop.emulators.salesforce.api import Call
from closedloop.emulators.salesforce.errors import ApiError
from closedloop.emulators.salesforce.ids import KEY_PREFIXES
from closedloop.emulators.salesforce.values import format_datetime

DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
TERMINAL = ("JobComplete", "Failed", "Aborted")


@dataclass
class Job:
    """One Bulk API 2.0 job (ingest or query) and its data."""

    id: str
    kind: str
    operation: str
    sobject: str
    api_version: str
    created: str
    created_by: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id_field: str | None = None
    state: str = "Open"
    polls_left: int = 1
    data: str | None = None
    query_rows: list[dict[str, Any]] = field(default_factory=list)
    query_columns: list[str] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)
    processed: int = 0
    failed: int = 0
    error_message: str | None = None
    modstamp: str = ""

    def info(self) -> dict[str, Any]:
        """The job as ``GET /jobs/{kind}/{id}`` shows it."""
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": self.created,
            "systemModstamp": self.modstamp or self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "jobType": "V2Ingest" if self.kind == "ingest" else "V2Query",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
            "numberRecordsProcessed": self.processed,
            "retries": 0,
            "totalProcessingTime": 0,
        }
        if self.kind == "ingest":
            body["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
            body["numberRecordsFailed"] = self.failed
            body["apiActiveProcessingTime"] = body["apexProcessingTime"] = 0
            if self.external_id_field:
                body["externalIdFieldName"] = self.external_id_field
        if self.error_message:
            body["errorMessage"] = self.error_message
        return body


def find_job(call: Call, kind: str, job_id: str) -> Job:
    """The job ``job_id`` of ``kind`` (``ingest`` or ``query``).

    Raises:
        ApiError: 404 ``NOT_FOUND`` for an unknown job or one of the other kind.
    """
    job = call.emu.jobs.get(job_id)
    if job is None or job.kind != kind:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return job


def new_job(call: Call, kind: str, body: dict[str, Any], sobject: str, operation: str) -> Job:
    """Create and register an ``Open`` job from a job definition ``body``.

    Raises:
        ApiError: 400 ``INVALIDJOB`` for an unsupported delimiter or line ending.
    """
    job = Job(
        id=call.emu.aux_ids.new(KEY_PREFIXES["BulkJob"]),
        kind=kind,
        operation=operation,
        sobject=sobject,
        api_version=call.version,
        created=format_datetime(call.org.clock.now()),
        created_by=call.org.api_user_id,
        delimiter=str(body.get("columnDelimiter") or "COMMA"),
        line_ending=str(body.get("lineEnding") or "LF"),
        polls_left=call.emu.options.bulk_polls,
    )
    if job.delimiter not in DELIMITERS or job.line_ending not in LINE_ENDINGS:
        raise ApiError(
            400, "INVALIDJOB", "InvalidJob : columnDelimiter or lineEnding is not supported"
        )
    call.emu.jobs[job.id] = job
    return job
