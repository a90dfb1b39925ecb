"""Reading Salesforce with SOQL: incremental changes, full scans and reads by id.

Incremental reads select ``WHERE SystemModstamp >= <watermark - overlap> ORDER BY
SystemModstamp, Id`` through ``queryAll`` (so deletions arrive as archived records) and follow
``nextRecordsUrl`` page by page: one server-side cursor holds the result, so every record is
emitted exactly once per read, and no more than one page is ever held in memory. Should the
cursor expire mid-read (``INVALID_QUERY_LOCATOR``), the read re-anchors on the last
(SystemModstamp, Id) emitted and skips what it already gave. ``SystemModstamp`` is the cursor
because it also moves on system changes, which ``LastModifiedDate`` misses.

Full scans page by ``Id > last ORDER BY Id LIMIT 2000``, which needs no cursor at all; reads
by id use ``Id IN (...)`` chunks sized to keep the request URL well under Salesforce's limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from simple_salesforce.format import format_soql

from closedloop.connectors.contract import Page, Record, Value, Watermark
from closedloop.connectors.read_tally import ReadTally
from closedloop.connectors.salesforce.api import SalesforceApi
from closedloop.runtime.errors import FatalSyncError, SkippableSyncError

SCAN_PAGE = 2000
# Salesforce refuses a URI over 16,384 bytes (414), and URI plus headers over it (431); the
# rest is left for the headers (a bearer token, the client's own) and the instance URL.
MAX_QUERY_URL_CHARS = 15_000
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
CURSOR = "SystemModstamp"
_FROM = re.compile(r"\bFROM\s+([A-Za-z][A-Za-z0-9_]*)", re.IGNORECASE)
RETRIEVE_MAX = 2000  # ids per sObject Collections retrieve
MATCH_CHUNK = 1000  # values per IN list at most; the URL length usually binds first


def soql_name(name: str) -> str:
    """``name`` if it is a valid API name (``Lead``, ``Account.Name``), else raise.

    Raises:
        FatalSyncError: for anything that could alter a query.
    """
    if not NAME.match(name):
        raise FatalSyncError(
            f"{name!r} is not a Salesforce API name", hint="check the field mapping"
        )
    return name


def soql(
    select: str, sobject: str, *, where: str = "", order: str = "", limit: int | None = None
) -> str:
    """One SOQL query, composed by closedloop only.

    API names pass :func:`soql_name`, ids pass :data:`RECORD_ID` and other values go through
    ``format_soql``, so nothing a record contains can change the query.
    """
    text = f"SELECT {select} FROM {soql_name(sobject)}"  # noqa: S608  (validated parts only)
    text += f" WHERE {where}" if where else ""
    text += f" ORDER BY {order}" if order else ""
    return text + (f" LIMIT {int(limit)}" if limit is not None else "")


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal, floored to the second (UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_ids(ids: Sequence[str]) -> str:
    """``('id1','id2')`` for ``IN``; ids are validated, so no quoting is needed."""
    return "(" + ",".join(f"'{i}'" for i in ids) + ")"


def parse_datetime(value: Any) -> datetime | None:
    """A REST datetime (``2024-01-31T10:00:00.000+0000``) or date as an aware datetime."""
    if not value:
        return None
    text = str(value)
    if len(text) == 10:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    text = text.replace("Z", "+0000")
    if len(text) == 28 and text[10] == "T" and text[19] == "." and text[23] in "+-":
        try:  # the usual shape, read natively (``strptime`` is many times slower)
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def select_list(fields: Sequence[str], *required: str) -> str:
    """The SELECT list: required fields first, then the rest, without duplicates."""
    seen: dict[str, str] = {}
    for name in (*required, *fields):
        seen.setdefault(soql_name(name).lower(), name)
    return ", ".join(seen.values())


def id_chunks(ids: Sequence[str], fixed_chars: int) -> Iterator[list[str]]:
    """Valid, distinct ids in chunks whose encoded ``IN`` list keeps the URL short enough."""
    chunk: list[str] = []
    size = fixed_chars
    for record_id in dict.fromkeys(i for i in ids if RECORD_ID.match(i)):
        cost = len(quote(f"'{record_id}',"))
        if chunk and size + cost > MAX_QUERY_URL_CHARS:
            yield chunk
            chunk, size = [], fixed_chars
        chunk.append(record_id)
        size += cost
    if chunk:
        yield chunk


def literal_chunks(literals: Sequence[str], fixed_chars: int) -> Iterator[list[str]]:
    """SOQL literals in chunks whose encoded ``IN`` list keeps the URL short enough.

    At most :data:`MATCH_CHUNK` literals a chunk: long ``IN`` lists of text are slow to match.
    """
    chunk: list[str] = []
    size = fixed_chars
    for literal in literals:
        cost = len(quote(f"{literal},"))
        if chunk and (size + cost > MAX_QUERY_URL_CHARS or len(chunk) >= MATCH_CHUNK):
            yield chunk
            chunk, size = [], fixed_chars
        chunk.append(literal)
        size += cost
    if chunk:
        yield chunk


def _queried_object(text: str) -> str:
    """The sObject a SOQL query reads (its first ``FROM``)."""
    found = _FROM.search(text)
    return found.group(1) if found else "?"


def to_record(object_type: str, raw: dict[str, Any]) -> Record:
    """A contract :class:`Record` from a REST record (``attributes`` and objects dropped)."""
    fields: dict[str, Value] = {
        k: v for k, v in raw.items() if k != "attributes" and not isinstance(v, dict | list)
    }
    modified = parse_datetime(raw.get(CURSOR) or raw.get("LastModifiedDate"))
    return Record(
        object_type=object_type,
        id=str(raw["Id"]),
        fields=fields,
        modified_at=modified or datetime.min.replace(tzinfo=UTC),
        archived=bool(raw.get("IsDeleted")),
    )


class SalesforceReader:
    """Streams Salesforce records for one org.

    Args:
        api: the org's API wrapper.
        overlap: how far before the watermark an incremental read starts (transactions that
            commit late carry an earlier SystemModstamp).
    """

    def __init__(
        self,
        api: SalesforceApi,
        *,
        overlap: timedelta = timedelta(minutes=2),
        tally: ReadTally | None = None,
    ) -> None:
        self._api = api
        self._overlap = overlap
        self.tally = tally or ReadTally()

    def pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[dict[str, Any]]]:
        """The raw record pages of one query, following ``nextRecordsUrl``."""
        page = self._api.query(soql, include_deleted=include_deleted)
        sobject = _queried_object(soql)
        while True:
            records = list(page.get("records") or [])
            self.tally.add(sobject, "soql", len(records))
            yield records
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._api.query_more(str(next_url))

    def changes(
        self, object_type: str, since: Watermark, fields: Sequence[str], *, where: str = ""
    ) -> Iterator[Page]:
        """Every record changed at or after ``since`` minus the overlap, in cursor order.

        ``where`` is an extra SOQL condition built by closedloop itself (never user input).
        """
        name = soql_name(object_type)
        select = select_list(fields, "Id", CURSOR, "IsDeleted")
        anchor = since.modified_at - self._overlap if since.modified_at else None
        watermark = since
        skip: set[str] = set()  # after a re-anchor: ids already emitted in the anchor second
        tail: tuple[datetime | None, set[str]] = (None, set())  # newest second and its ids
        while True:
            conditions = [f"{CURSOR} >= {soql_datetime(anchor)}"] if anchor else []
            conditions += [where] if where else []
            query = soql(select, name, where=" AND ".join(conditions), order=f"{CURSOR}, Id")
            try:
                for raw_page in self.pages(query, include_deleted=True):
                    records = [to_record(object_type, raw) for raw in raw_page]
                    records = [r for r in records if r.id not in skip]
                    for record in records:
                        second = record.modified_at.replace(microsecond=0)
                        tail = tail if tail[0] == second else (second, set())
                        tail[1].add(record.id)
                    if records:
                        watermark = Watermark(records[-1].modified_at, records[-1].id)
                    yield Page(records, watermark)
                return
            except SkippableSyncError as exc:
                if "INVALID_QUERY_LOCATOR" not in (exc.body or ""):
                    raise
                # The cursor expired between pages: query again from the second of the last
                # record emitted (SOQL literals have whole seconds) and skip what was given.
                anchor, skip = tail[0] or anchor, set(tail[1])

    def everything(self, object_type: str, fields: Sequence[str]) -> Iterator[Page]:
        """Every live record, ``Id > last`` at a time (full reconciliation)."""
        name = soql_name(object_type)
        select = select_list(fields, "Id", CURSOR)
        last_id = ""
        newest = datetime.min.replace(tzinfo=UTC)
        while True:
            where = f"Id > '{last_id}'" if last_id else ""
            query = soql(select, name, where=where, order="Id", limit=SCAN_PAGE)
            raw = list(self._api.query(query).get("records") or [])
            self.tally.add(name, "soql", len(raw))
            records = [to_record(object_type, r) for r in raw]
            for record in records:
                newest = max(newest, record.modified_at)
            if records:
                last_id = records[-1].id
            yield Page(records, Watermark(newest if records or last_id else None, last_id))
            if len(records) < SCAN_PAGE:
                return

    def by_ids(self, object_type: str, ids: Sequence[str], fields: Sequence[str]) -> list[Record]:
        """Records by id; unknown, deleted and malformed ids are left out.

        Read through sObject Collections retrieve (``POST composite/sobjects/{Object}``), up
        to 2,000 ids a call, where an ``Id IN (...)`` query would stop at the URL's length.
        """
        name = soql_name(object_type)
        wanted = select_list(fields, "Id", CURSOR).split(", ")
        valid = list(dict.fromkeys(i for i in ids if RECORD_ID.match(i)))
        found: list[Record] = []
        for start in range(0, len(valid), RETRIEVE_MAX):
            body = {"ids": valid[start : start + RETRIEVE_MAX], "fields": wanted}
            answer = self._api.restful(
                f"composite/sobjects/{name}", method="POST", json=body, kind="collections"
            )
            records = [raw for raw in answer or [] if isinstance(raw, dict) and raw.get("Id")]
            self.tally.add(name, "soql", len(records))
            found.extend(to_record(object_type, raw) for raw in records)
        return found

    def matching(
        self, object_type: str, field: str, values: Sequence[str], fields: Sequence[str]
    ) -> list[Record]:
        """Records whose ``field`` equals one of ``values`` (e.g. Leads by Email), by Id."""
        name, column = soql_name(object_type), soql_name(field)
        select = select_list(fields, "Id", CURSOR, column)
        found: list[Record] = []
        literals = [format_soql("{}", v) for v in dict.fromkeys(v for v in values if v)]
        fixed = len(quote(soql(select, name, where=f"{column} IN ()", order="Id"))) + 200
        for chunk in literal_chunks(literals, fixed):
            query = soql(select, name, where=f"{column} IN ({','.join(chunk)})", order="Id")
            for raw_page in self.pages(query):
                found.extend(to_record(object_type, raw) for raw in raw_page)
        return found

    def deleted_ids(self, object_type: str, start: datetime, end: datetime) -> list[str]:
        """Ids deleted between ``start`` and ``end`` (getDeleted: the last 15 days only)."""
        name = soql_name(object_type)
        params = {
            "start": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "end": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        }
        answer = self._api.restful(f"sobjects/{name}/deleted/", params=params)
        return [str(entry["id"]) for entry in (answer or {}).get("deletedRecords", [])]
