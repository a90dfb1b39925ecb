"""Bulk API 2.0: ingest jobs (CSV upload, state machine, result CSVs) and query jobs.

Ingest: ``POST /jobs/ingest`` → ``PUT …/batches`` (201) → ``PATCH`` ``UploadComplete`` → the
job runs while it is polled: ``UploadComplete`` → ``InProgress`` → ``JobComplete`` (or
``Failed`` for a bad CSV header, ``Aborted`` on request). Results: ``successfulResults``
(``sf__Id,sf__Created,…``), ``failedResults`` (``sf__Id,sf__Error,…``) and
``unprocessedrecords``. Query: ``POST /jobs/query`` → poll → ``GET …/results`` pages with
``Sforce-Locator`` (``null`` on the last page) and ``Sforce-NumberOfRecords``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from flask import Response

from closedloop.emulators.salesforce.api import Call, Route, json_response, no_content
from closedloop.emulators.salesforce.bulk2_ingest import run_ingest
from closedloop.emulators.salesforce.catalog import OrgCatalog
from closedloop.emulators.salesforce.errors import ApiError
from closedloop.emulators.salesforce.ids import KEY_PREFIXES
from closedloop.emulators.salesforce.query import execute
from closedloop.emulators.salesforce.soql import parse_soql
from closedloop.emulators.salesforce.values import csv_cell, format_datetime

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
RESULT_FILES = {
    "successfulresults": "successful",
    "failedresults": "failed",
    "unprocessedrecords": "unprocessed",
}


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


def _job(call: Call, kind: str, job_id: str) -> Job:
    job = call.emu.jobs.get(job_id)
    if job is None or job.kind != kind:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return job


def _new_job(call: Call, kind: str, body: dict[str, Any], sobject: str, operation: str) -> Job:
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


def _create_ingest(call: Call, _: list[str]) -> Response:
    body = call.body()
    if not isinstance(body, dict):
        raise ApiError(400, "INVALIDJOB", "InvalidJob : the job definition must be a JSON object")
    operation = str(body.get("operation") or "")
    obj = call.org.schema.get(str(body.get("object") or ""))
    if operation not in OPERATIONS:
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
    if obj is None:
        raise ApiError(
            400, "INVALIDJOB", f"InvalidJob : Unable to find object: {body.get('object')}"
        )
    if body.get("contentType", "CSV") != "CSV":
        raise ApiError(400, "INVALIDJOB", "InvalidJob : only CSV content is supported")
    external = body.get("externalIdFieldName")
    if operation == "upsert" and not external:
        raise ApiError(
            400,
            "INVALIDJOB",
            f"External ID was blank for {obj.name}. An External ID must be specified for upsert.",
        )
    job = _new_job(call, "ingest", body, obj.name, operation)
    job.external_id_field = str(external) if operation == "upsert" else None
    return json_response(job.info())


def _upload(call: Call, args: list[str]) -> Response:
    job = _job(call, "ingest", args[0])
    if job.state != "Open" or job.data is not None:
        raise ApiError(409, "INVALIDJOBSTATE", "Job is not open for data upload")
    job.data = call.request.get_data(as_text=True)
    return Response(status=201)


def _set_state(call: Call, args: list[str], kind: str) -> Response:
    job = _job(call, kind, args[0])
    body = call.body()
    wanted = body.get("state") if isinstance(body, dict) else None
    if wanted == "UploadComplete" and kind == "ingest" and job.state == "Open":
        job.state = "UploadComplete"
        if not job.data:
            job.state, job.error_message = "Failed", "InvalidBatch : No data was uploaded"
    elif wanted == "Aborted" and job.state not in TERMINAL:
        job.state = "Aborted"
    else:
        raise ApiError(
            400, "INVALIDJOBSTATE", f"Cannot change job state from {job.state} to {wanted}"
        )
    job.modstamp = format_datetime(call.org.clock.now())
    return json_response(job.info())


def _advance(call: Call, job: Job) -> None:
    if job.state not in ("UploadComplete", "InProgress"):
        return
    if job.polls_left > 0:
        job.polls_left -= 1
        job.state = "InProgress"
        return
    if job.kind == "ingest":
        outcome = run_ingest(
            call.org,
            job.sobject,
            job.operation,
            job.external_id_field,
            job.data or "",
            DELIMITERS[job.delimiter],
            LINE_ENDINGS[job.line_ending],
        )
        job.results, job.processed, job.failed = outcome.files, outcome.processed, outcome.failed
        job.error_message = outcome.error
        job.state = "Failed" if outcome.error else "JobComplete"
        call.emu.usage.add_batches(max(1, math.ceil(outcome.processed / 10_000)))
    else:
        job.processed = len(job.query_rows)
        job.state = "JobComplete"
    job.modstamp = format_datetime(call.org.clock.now())


def _get(call: Call, args: list[str], kind: str) -> Response:
    job = _job(call, kind, args[0])
    _advance(call, job)
    return json_response(job.info())


def _delete(call: Call, args: list[str], kind: str) -> Response:
    job = _job(call, kind, args[0])
    if job.state not in TERMINAL:
        raise ApiError(
            400, "INVALIDJOBSTATE", "Only completed, failed or aborted jobs can be deleted"
        )
    del call.emu.jobs[job.id]
    return no_content()


def _list(call: Call, kind: str) -> Response:
    jobs = [job.info() for job in call.emu.jobs.values() if job.kind == kind]
    return json_response({"done": True, "records": jobs, "nextRecordsUrl": None})


def _results(call: Call, args: list[str]) -> Response:
    job = _job(call, "ingest", args[0])
    which = RESULT_FILES.get(args[1].lower())
    if which is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if which != "unprocessed" and job.state != "JobComplete":
        raise ApiError(409, "INVALIDJOBSTATE", "Results are available once the job is complete")
    text = (
        job.results.get(which, "")
        if job.results
        else ("" if which != "unprocessed" else job.data or "")
    )
    return Response(text, mimetype="text/csv")


def _create_query(call: Call, _: list[str]) -> Response:
    body = call.body()
    if not isinstance(body, dict):
        raise ApiError(400, "INVALIDJOB", "InvalidJob : the job definition must be a JSON object")
    operation = str(body.get("operation") or "query")
    if operation not in ("query", "queryAll"):
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
    text = str(body.get("query") or "")
    catalog = OrgCatalog(call.org)
    rows = execute(call, catalog, text, include_deleted=operation == "queryAll")
    if isinstance(rows, int):
        raise ApiError(400, "INVALIDJOB", "InvalidJob : COUNT() is not supported by Bulk API query")
    sobject = catalog.sobject_name(parse_soql(text).sobject) or ""
    job = _new_job(call, "query", body, sobject, operation)
    job.state = "UploadComplete"
    paths = [field.parts for field in parse_soql(text).fields]
    job.query_columns = [_column_name(paths_i, rows) for paths_i in paths]
    job.query_rows = [
        {
            column: _lookup(record, path)
            for column, path in zip(job.query_columns, paths, strict=True)
        }
        for record in rows
    ]
    call.emu.usage.add_query_job()
    return json_response(job.info())


def _lookup(record: dict[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` (case-insensitive names) in a REST record; None past a null parent."""
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = next((v for k, v in value.items() if k.lower() == part.lower()), None)
    return value


def _column_name(path: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    """The CSV header of a selected field: canonical casing from a row where the path resolves."""
    for record in rows:
        names: list[str] = []
        value: Any = record
        for part in path:
            if not isinstance(value, dict):
                break
            key = next((k for k in value if k.lower() == part.lower()), None)
            if key is None:
                break
            names.append(key)
            value = value[key]
        else:
            return ".".join(names)
    return ".".join(path)


def _query_results(call: Call, args: list[str]) -> Response:
    job = _job(call, "query", args[0])
    if job.api_version != call.version:
        raise ApiError(
            409, "INVALIDJOBSTATE", f"Results must be fetched with API version {job.api_version}"
        )
    if job.state != "JobComplete":
        raise ApiError(400, "INVALIDJOBSTATE", "Results are available once the job is complete")
    start = (
        int(call.request.args.get("locator") or 0)
        if (call.request.args.get("locator") or "0").isdigit()
        else -1
    )
    if start < 0 or start > len(job.query_rows):
        raise ApiError(400, "INVALIDLOCATOR", "Invalid locator")
    size = max(1, int(call.request.args.get("maxRecords") or 50_000))
    page = job.query_rows[start : start + size]
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=DELIMITERS[job.delimiter], lineterminator=LINE_ENDINGS[job.line_ending]
    )
    writer.writerow(job.query_columns)
    writer.writerows([[csv_cell(row.get(column)) for column in job.query_columns] for row in page])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    following = start + size
    response.headers["Sforce-Locator"] = (
        str(following) if following < len(job.query_rows) else "null"
    )
    response.headers["Sforce-NumberOfRecords"] = str(len(page))
    return response


ROUTES: list[Route] = [
    ("POST", ("jobs", "ingest"), _create_ingest),
    ("GET", ("jobs", "ingest"), lambda call, _: _list(call, "ingest")),
    ("GET", ("jobs", "ingest", "*"), lambda call, args: _get(call, args, "ingest")),
    ("PATCH", ("jobs", "ingest", "*"), lambda call, args: _set_state(call, args, "ingest")),
    ("DELETE", ("jobs", "ingest", "*"), lambda call, args: _delete(call, args, "ingest")),
    ("PUT", ("jobs", "ingest", "*", "batches"), _upload),
    ("GET", ("jobs", "ingest", "*", "*"), _results),
    ("POST", ("jobs", "query"), _create_query),
    ("GET", ("jobs", "query"), lambda call, _: _list(call, "query")),
    ("GET", ("jobs", "query", "*"), lambda call, args: _get(call, args, "query")),
    ("PATCH", ("jobs", "query", "*"), lambda call, args: _set_state(call, args, "query")),
    ("DELETE", ("jobs", "query", "*"), lambda call, args: _delete(call, args, "query")),
    ("GET", ("jobs", "query", "*", "results"), _query_results),
]
