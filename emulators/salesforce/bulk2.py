"""Bulk API 2.0: ingest jobs (CSV upload, state machine, result CSVs) and query jobs.

Ingest: ``POST /jobs/ingest`` → ``PUT …/batches`` (201) → ``PATCH`` ``UploadComplete`` → the
job runs while it is polled: ``UploadComplete`` → ``InProgress`` → ``JobComplete`` (or
``Failed`` for a bad CSV header, ``Aborted`` on request). Results: ``successfulResults``
(``sf__Id,sf__Created,…``), ``failedResults`` (``sf__Id,sf__Error,…``) and
``unprocessedrecords``. Query: ``POST /jobs/query`` → poll → ``GET …/results`` pages with
``Sforce-Locator`` (``null`` on the last page) and ``Sforce-NumberOfRecords``.

This module holds the routes and the ingest resources; the job record is in
:mod:`~closedloop.emulators.salesforce.bulk2_jobs` and the query resources in
:mod:`~closedloop.emulators.salesforce.bulk2_query`.
"""

from __future__ import annotations

import math

from flask import Response

from closedloop.emulators.salesforce.api import Call, Route, json_response, no_content
from closedloop.emulators.salesforce.bulk2_ingest import run_ingest
from closedloop.emulators.salesforce.bulk2_jobs import (
    DELIMITERS,
    LINE_ENDINGS,
    OPERATIONS,
    TERMINAL,
    Job,
    find_job,
    new_job,
)
from closedloop.emulators.salesforce.bulk2_query import create_query, query_results
from closedloop.emulators.salesforce.errors import ApiError
from closedloop.emulators.salesforce.values import format_datetime

__all__ = ["DELIMITERS", "LINE_ENDINGS", "OPERATIONS", "RESULT_FILES", "ROUTES", "TERMINAL", "Job"]

RESULT_FILES = {
    "successfulresults": "successful",
    "failedresults": "failed",
    "unprocessedrecords": "unprocessed",
}


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
    job = new_job(call, "ingest", body, obj.name, operation)
    job.external_id_field = str(external) if operation == "upsert" else None
    return json_response(job.info())


def _upload(call: Call, args: list[str]) -> Response:
    job = find_job(call, "ingest", args[0])
    if job.state != "Open" or job.data is not None:
        raise ApiError(409, "INVALIDJOBSTATE", "Job is not open for data upload")
    job.data = call.request.get_data(as_text=True)
    return Response(status=201)


def _set_state(call: Call, args: list[str], kind: str) -> Response:
    job = find_job(call, kind, args[0])
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
    job = find_job(call, kind, args[0])
    _advance(call, job)
    return json_response(job.info())


def _delete(call: Call, args: list[str], kind: str) -> Response:
    job = find_job(call, kind, args[0])
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
    job = find_job(call, "ingest", args[0])
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


ROUTES: list[Route] = [
    ("POST", ("jobs", "ingest"), _create_ingest),
    ("GET", ("jobs", "ingest"), lambda call, _: _list(call, "ingest")),
    ("GET", ("jobs", "ingest", "*"), lambda call, args: _get(call, args, "ingest")),
    ("PATCH", ("jobs", "ingest", "*"), lambda call, args: _set_state(call, args, "ingest")),
    ("DELETE", ("jobs", "ingest", "*"), lambda call, args: _delete(call, args, "ingest")),
    ("PUT", ("jobs", "ingest", "*", "batches"), _upload),
    ("GET", ("jobs", "ingest", "*", "*"), _results),
    ("POST", ("jobs", "query"), create_query),
    ("GET", ("jobs", "query"), lambda call, _: _list(call, "query")),
    ("GET", ("jobs", "query", "*"), lambda call, args: _get(call, args, "query")),
    ("PATCH", ("jobs", "query", "*"), lambda call, args: _set_state(call, args, "query")),
    ("DELETE", ("jobs", "query", "*"), lambda call, args: _delete(call, args, "query")),
    ("GET", ("jobs", "query", "*", "results"), query_results),
]
