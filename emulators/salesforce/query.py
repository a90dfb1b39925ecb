"""``query`` / ``queryAll`` with server-side cursors, plus ``/limits`` and the resource root.

Results are cut into pages of 2,000 records (or the ``batchSize`` of ``Sforce-Query-Options``,
200 to 2,000). While rows remain, the page says ``done: false`` and gives a server-relative
``nextRecordsUrl`` such as ``/services/data/v59.0/query/01g…-2000``. Cursors live two days on
the emulator clock, then answer ``INVALID_QUERY_LOCATOR``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from flask import Response

from closedloop.emulators.salesforce.api import Call, Route, json_response
from closedloop.emulators.salesforce.catalog import OrgCatalog, ToolingCatalog
from closedloop.emulators.salesforce.errors import ApiError
from closedloop.emulators.salesforce.ids import KEY_PREFIXES, IdFactory
from closedloop.emulators.salesforce.soql import SoqlCatalog, SoqlError, parse_soql, run_query

PAGE_SIZE, MIN_BATCH = 2000, 200
CURSOR_LIFETIME = 2 * 86_400.0
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    page_size: int
    created: float
    path: str


class QueryCursors:
    """Open query cursors, kept in memory until they expire or the emulator is reset."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._lock = threading.Lock()
        self._cursors: dict[str, _Cursor] = {}

    def clear(self) -> None:
        """Forget every cursor."""
        with self._lock:
            self._cursors.clear()

    def first_page(
        self, records: list[dict[str, Any]], page_size: int, now: float, path: str
    ) -> dict[str, Any]:
        """The first page of a result, opening a cursor when more pages remain."""
        if len(records) <= page_size:
            return {"totalSize": len(records), "done": True, "records": records}
        cursor_id = self._ids.new(KEY_PREFIXES["QueryCursor"])
        with self._lock:
            self._cursors[cursor_id] = _Cursor(records, page_size, now, path)
        return self._page(cursor_id, self._cursors[cursor_id], 0)

    def page(self, locator: str, now: float) -> dict[str, Any]:
        """The page a ``nextRecordsUrl`` locator (``<cursor id>-<offset>``) points at.

        Raises:
            ApiError: 400 ``INVALID_QUERY_LOCATOR`` for an unknown or expired locator.
        """
        cursor_id, _, offset_text = locator.partition("-")
        with self._lock:
            cursor = self._cursors.get(cursor_id)
            if cursor is not None and now - cursor.created > CURSOR_LIFETIME:
                del self._cursors[cursor_id]
                cursor = None
        if cursor is None or not offset_text.isdigit() or int(offset_text) >= len(cursor.records):
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor_id, cursor, int(offset_text))

    def _page(self, cursor_id: str, cursor: _Cursor, offset: int) -> dict[str, Any]:
        end = offset + cursor.page_size
        body: dict[str, Any] = {
            "totalSize": len(cursor.records),
            "done": end >= len(cursor.records),
        }
        if not body["done"]:
            body["nextRecordsUrl"] = f"{cursor.path}/{cursor_id}-{end}"
        body["records"] = cursor.records[offset:end]
        return body


def execute(
    call: Call, catalog: SoqlCatalog, text: str, *, include_deleted: bool
) -> list[dict[str, Any]] | int:
    """Parse and run one SOQL query against ``catalog``.

    Raises:
        ApiError: 400 with the SOQL error code (``MALFORMED_QUERY``, ``INVALID_FIELD``…).
    """
    try:
        return run_query(
            parse_soql(text),
            catalog,
            api_version=call.version,
            include_deleted=include_deleted,
            now=call.org.clock.now(),
        )
    except SoqlError as error:
        raise ApiError(400, error.error_code, error.message) from error


def _page_size(call: Call) -> int:
    match = _BATCH.search(call.request.headers.get("Sforce-Query-Options", ""))
    if match is None:
        return PAGE_SIZE
    return max(MIN_BATCH, min(PAGE_SIZE, int(match.group(1))))


def answer_query(call: Call, catalog: SoqlCatalog, path: str, *, include_deleted: bool) -> Response:
    """Run ``?q=`` and answer the first page."""
    text = call.request.args.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    result = execute(call, catalog, text, include_deleted=include_deleted)
    if isinstance(result, int):
        return json_response({"totalSize": result, "done": True, "records": []})
    page = call.emu.cursors.first_page(result, _page_size(call), call.org.clock.timestamp(), path)
    return json_response(page)


def tooling_catalog(call: Call) -> ToolingCatalog:
    """The Tooling API's metadata catalog for the current org."""
    from closedloop.emulators.salesforce.tooling import metadata_rows  # noqa: PLC0415  (cycle)

    return ToolingCatalog(metadata_rows(call.org))


def _query(call: Call, _: list[str]) -> Response:
    return answer_query(call, OrgCatalog(call.org), f"{call.base}/query", include_deleted=False)


def _query_all(call: Call, _: list[str]) -> Response:
    return answer_query(call, OrgCatalog(call.org), f"{call.base}/queryAll", include_deleted=True)


def _tooling_query(call: Call, _: list[str]) -> Response:
    return answer_query(
        call, tooling_catalog(call), f"{call.base}/tooling/query", include_deleted=False
    )


def _more(call: Call, args: list[str]) -> Response:
    return json_response(call.emu.cursors.page(args[-1], call.org.clock.timestamp()))


def _limits(call: Call, _: list[str]) -> Response:
    return json_response(call.emu.usage.limits_body())


def _root(call: Call, _: list[str]) -> Response:
    names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs", "tooling")
    return json_response({name: f"{call.base}/{name}" for name in names})


ROUTES: list[Route] = [
    ("GET", (), _root),
    ("GET", ("limits",), _limits),
    ("GET", ("query",), _query),
    ("GET", ("queryAll",), _query_all),
    ("GET", ("query", "*"), _more),
    ("GET", ("queryAll", "*"), _more),
    ("GET", ("tooling", "query"), _tooling_query),
    ("GET", ("tooling", "query", "*"), _more),
]
