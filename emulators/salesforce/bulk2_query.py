"""Bulk API 2.0 query jobs: ``POST /jobs/query`` and the paged CSV ``results``.

The query runs when the job is created; polling then moves the job to ``JobComplete``. Results
come in pages of ``maxRecords`` rows with ``Sforce-Locator`` (``null`` on the last page) and
``Sforce-NumberOfRecords`` headers. CSV headers use the canonical casing of each selected field,
with relationship fields dotted (``Account.Name``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response

from closedloop.emulators.salesforce.api import Call, json_response
from closedloop.emulators.salesforce.bulk2_jobs import DELIMITERS, LINE_ENDINGS, find_job, new_job
from closedloop.emulators.salesforce.catalog import OrgCatalog
from closedloop.emulators.salesforce.errors import ApiError
from closedloop.emulators.salesforce.query import execute
from closedloop.emulators.salesforce.soql import parse_soql
from closedloop.emulators.salesforce.values import csv_cell


def create_query(call: Call, _: list[str]) -> Response:
    """``POST /jobs/query``: run the query now and keep its rows for the results pages.

    Raises:
        ApiError: 400 ``INVALIDJOB`` for a bad definition, operation or ``COUNT()`` query.
    """
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
    job = new_job(call, "query", body, sobject, operation)
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


def query_results(call: Call, args: list[str]) -> Response:
    """``GET /jobs/query/{id}/results``: one CSV page, with ``Sforce-Locator`` to the next.

    Raises:
        ApiError: 409 for another API version, 400 before completion or for a bad
            locator.
    """
    job = find_job(call, "query", args[0])
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
