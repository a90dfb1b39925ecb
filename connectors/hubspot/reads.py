"""Reading HubSpot: incremental changes through search, full scans through list paging.

Incremental reads filter ``lastmodifieddate`` (contacts) or ``hs_lastmodifieddate`` (other
objects) ``GTE`` the watermark minus an overlap for index lag, sorted ascending, 200 per page.
Search never returns more than 10,000 results per query, so before reaching the cap the read
re-anchors at the newest timestamp seen, skipping the ids already emitted at that instant.
When more than a whole query's worth of records share one millisecond, the read switches to
that millisecond alone, paged by ``hs_object_id``, then carries on strictly after it. Every
record is emitted exactly once per read (a record edited during the read may appear again,
later, with its new timestamp).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, PublicObjectSearchRequest

from closedloop.connectors.contract import FieldChange, Page, Record, Watermark
from closedloop.connectors.hubspot.api import SEARCH, STANDARD, HubSpotApi
from closedloop.connectors.read_tally import ReadTally

SEARCH_CAP = 10_000
SEARCH_PAGE = 200
LIST_PAGE = 100
BATCH_READ = 100
HISTORY_PAGE = 50
"""Records per list page or batch read when property history is asked for (HubSpot's cap)."""


def cursor_property(object_type: str) -> str:
    """The last-modified property search can filter on for ``object_type``."""
    return "lastmodifieddate" if object_type in ("contacts", "0-1") else "hs_lastmodifieddate"


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class HubSpotReader:
    """Streams HubSpot records for one portal.

    Args:
        api: the portal's API wrapper.
        overlap: how far before the watermark an incremental read starts (index lag).
    """

    def __init__(
        self,
        api: HubSpotApi,
        *,
        overlap: timedelta = timedelta(minutes=2),
        tally: ReadTally | None = None,
    ) -> None:
        self._api = api
        self._overlap = overlap
        self.tally = tally or ReadTally()

    def changes(self, object_type: str, since: Watermark, fields: Sequence[str]) -> Iterator[Page]:
        """Every record modified at or after ``since`` (minus the overlap), oldest first."""
        prop = cursor_property(object_type)
        wanted = sorted({*fields, prop, "hs_object_id"})
        start = since.modified_at - self._overlap if since.modified_at else None
        anchor = to_ms(start) if start else 0
        operator = "GTE"
        emitted_at_anchor: set[str] = set()
        while True:
            filters = [{"propertyName": prop, "operator": operator, "value": str(anchor)}]
            newest, newest_ids, capped = anchor, set(emitted_at_anchor), False
            for results, at_cap in self._search(object_type, filters, prop, wanted):
                capped = at_cap
                fresh = [
                    r for r in results if not (_ms(r, prop) == anchor and r.id in emitted_at_anchor)
                ]
                for raw in fresh:
                    ms = _ms(raw, prop)
                    if ms > newest:
                        newest, newest_ids = ms, set()
                    newest_ids.add(raw.id)
                records = [self._record(object_type, raw, prop) for raw in fresh]
                yield Page(records, Watermark(from_ms(newest), max(newest_ids, default="")))
            if not capped:
                return
            if newest > anchor:
                anchor, operator, emitted_at_anchor = newest, "GTE", newest_ids
                continue
            yield from self._one_instant(object_type, anchor, newest_ids, prop, wanted)
            operator, emitted_at_anchor = "GT", set()

    def _one_instant(
        self, object_type: str, ms: int, done: set[str], prop: str, wanted: list[str]
    ) -> Iterator[Page]:
        """Every record modified at exactly ``ms``, paged by id across as many queries as needed."""
        last_id = 0
        while True:
            filters = [
                {"propertyName": prop, "operator": "EQ", "value": str(ms)},
                {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
            ]
            capped = False
            for results, at_cap in self._search(object_type, filters, "hs_object_id", wanted):
                capped = at_cap
                fresh = [r for r in results if r.id not in done]
                if results:
                    last_id = max(last_id, *(int(r.id) for r in results))
                records = [self._record(object_type, raw, prop) for raw in fresh]
                yield Page(records, Watermark(from_ms(ms), str(last_id)))
            if not capped:
                return

    def _search(
        self, object_type: str, filters: list[dict[str, str]], sort: str, wanted: list[str]
    ) -> Iterator[tuple[list[Any], bool]]:
        """Pages of one query; the flag is true when paging stopped at the result cap."""
        api = self._api.api("crm.objects.search_api")
        after = 0
        while True:
            request = PublicObjectSearchRequest(
                filter_groups=[{"filters": filters}],
                sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
                properties=wanted,
                limit=SEARCH_PAGE,
                after=str(after),
            )
            data, _ = self._api.call(SEARCH, api.do_search_with_http_info, object_type, request)
            results = list(data.results or [])
            self.tally.add(object_type, "search", len(results))
            next_after = data.paging.next.after if data.paging and data.paging.next else None
            if next_after is None:
                yield results, False
                return
            after = int(next_after)
            if after + SEARCH_PAGE > SEARCH_CAP:
                yield results, True
                return
            yield results, False

    def everything(
        self, object_type: str, fields: Sequence[str], history: Sequence[str] = ()
    ) -> Iterator[Page]:
        """Every live record, by list paging in id order (full reconciliation).

        With ``history``, each page carries those properties' history, 50 records a page. Pages
        are taken as plain JSON (:func:`record_of`), not as the client's models.
        """
        prop = cursor_property(object_type)
        api = self._api.api("crm.objects.basic_api")
        after: str | None = None
        newest = 0
        while True:
            kwargs: dict[str, Any] = {
                "limit": HISTORY_PAGE if history else LIST_PAGE,
                "properties": sorted({*fields, prop}),
            }
            if history:
                kwargs["properties_with_history"] = sorted(history)
            if after:
                kwargs["after"] = after
            data, _ = self._api.call(
                STANDARD, api.get_page_with_http_info, object_type, _preload_content=False, **kwargs
            )
            records = [record_of(object_type, raw, prop) for raw in data.get("results") or []]
            self.tally.add(object_type, "history" if history else "list", len(records))
            for record in records:
                newest = max(newest, to_ms(record.modified_at))
            last = records[-1].id if records else ""
            yield Page(records, Watermark(from_ms(newest), last))
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def by_ids(
        self,
        object_type: str,
        ids: Sequence[str],
        fields: Sequence[str],
        history: Sequence[str] = (),
        *,
        id_property: str | None = None,
    ) -> list[Record]:
        """Records by id (or by ``id_property`` values), 100 per call; unknown ones left out.

        ``history`` names the properties whose history HubSpot returns with each record; such
        reads take 50 records per call.
        """
        prop = cursor_property(object_type)
        api = self._api.api("crm.objects.batch_api")
        found: list[Record] = []
        unique = list(dict.fromkeys(ids))
        size = HISTORY_PAGE if history else BATCH_READ
        for start in range(0, len(unique), size):
            chunk = unique[start : start + size]
            request = BatchReadInputSimplePublicObjectId(
                inputs=[{"id": i} for i in chunk],
                properties=sorted({*fields, prop, *([id_property] if id_property else [])}),
                properties_with_history=sorted(history),
                id_property=id_property,
            )
            data, _ = self._api.call(
                STANDARD, api.read_with_http_info, object_type, request, _preload_content=False
            )
            results = list(data.get("results") or [])
            self.tally.add(object_type, "history" if history else "batch", len(results))
            found.extend(record_of(object_type, raw, prop) for raw in results)
        return found

    @staticmethod
    def _record(object_type: str, raw: Any, prop: str) -> Record:
        properties = dict(raw.properties or {})
        history = {
            name: [_change(entry) for entry in entries or []]
            for name, entries in (getattr(raw, "properties_with_history", None) or {}).items()
        }
        return Record(
            object_type=object_type,
            id=str(raw.id),
            fields=properties,
            modified_at=from_ms(_ms(raw, prop)),
            archived=bool(getattr(raw, "archived", False)),
            history=history,
        )


def record_of(object_type: str, raw: dict[str, Any], prop: str) -> Record:
    """A record from HubSpot's JSON (a ``SimplePublicObjectWithAssociations``, not a model).

    The same record :meth:`HubSpotReader._record` makes of the client's model: timestamps
    read as ISO 8601 (or epoch ms), property history oldest entry as HubSpot lists it.
    """
    properties = dict(raw.get("properties") or {})
    history = {
        name: [_json_change(entry) for entry in entries or []]
        for name, entries in (raw.get("propertiesWithHistory") or {}).items()
    }
    value = properties.get(prop)
    updated = raw.get("updatedAt")
    ms = _text_ms(str(value)) if value else _text_ms(str(updated)) if updated else 0
    return Record(
        object_type=object_type,
        id=str(raw["id"]),
        fields=properties,
        modified_at=from_ms(ms),
        archived=bool(raw.get("archived", False)),
        history=history,
    )


def _json_change(entry: dict[str, Any]) -> FieldChange:
    """One ``ValueWithTimestamp`` of property history, as JSON."""
    stamp = str(entry.get("timestamp"))
    at = from_ms(int(stamp)) if stamp.isdigit() else datetime.fromisoformat(stamp).astimezone(UTC)
    return FieldChange(
        value=entry.get("value"),
        at=at,
        source_type=entry.get("sourceType"),
        source_id=entry.get("sourceId"),
    )


def _change(entry: Any) -> FieldChange:
    """One ``ValueWithTimestamp`` of HubSpot property history."""
    stamp = entry.timestamp
    at = stamp.astimezone(UTC) if isinstance(stamp, datetime) else from_ms(_text_ms(str(stamp)))
    return FieldChange(
        value=entry.value,
        at=at,
        source_type=getattr(entry, "source_type", None),
        source_id=getattr(entry, "source_id", None),
    )


def _text_ms(text: str) -> int:
    """Epoch ms from HubSpot's epoch-ms digits or ISO 8601 text."""
    if text.isdigit():
        return int(text)
    return to_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _ms(raw: Any, prop: str) -> int:
    """The record's last-modified time in epoch ms (the cursor property, else updatedAt)."""
    value = (raw.properties or {}).get(prop)
    if value:
        return _text_ms(str(value))
    updated = getattr(raw, "updated_at", None)
    return to_ms(updated) if isinstance(updated, datetime) else 0
