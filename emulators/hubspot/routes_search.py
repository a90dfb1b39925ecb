"""``POST /crm/v3/objects/{objectType}/search`` with HubSpot's limits.

Limits (400 ``VALIDATION_ERROR`` when broken): body ≤ 3,000 characters, ``limit`` ≤ 200,
at most 5 filter groups, 6 filters per group and 18 filters in all, one sort, and no
paging at or past 10,000 results. Archived records never match. With an index lag set,
writes become searchable only after the lag (on the emulator clock).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from closedloop.emulators.hubspot.app_context import current_portal
from closedloop.emulators.hubspot.errors import json_response, validation_error
from closedloop.emulators.hubspot.object_types import resolve_object_type
from closedloop.emulators.hubspot.request_args import json_object
from closedloop.emulators.hubspot.search_filters import FilterSet, comparable, query_matches
from closedloop.emulators.hubspot.serialize import pick_properties
from closedloop.emulators.hubspot.store import Record
from closedloop.emulators.hubspot.values import iso_from_ms

MAX_BODY_CHARS = 3000
MAX_LIMIT = 200
MAX_RESULTS = 10_000
MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18


def check_request(body: dict[str, Any]) -> tuple[int, int]:
    """The ``(limit, offset)`` of a search body after checking HubSpot's limits.

    Raises:
        HubSpotApiError: 400 for any broken limit.
    """
    raw_limit = body.get("limit", 10)
    if not isinstance(raw_limit, int) or not 0 <= raw_limit <= MAX_LIMIT:
        raise validation_error(
            f"Invalid limit {raw_limit}: the page size must be between 0 and {MAX_LIMIT}.",
            context={"limit": [str(raw_limit)]},
        )
    after = str(body.get("after") or "0")
    if not after.isdigit():
        raise validation_error(f"Invalid after value: {after}")
    if int(after) >= MAX_RESULTS:
        raise validation_error(
            f"The search API cannot page past {MAX_RESULTS} results (after={after}).",
            context={"after": [after]},
        )
    groups = body.get("filterGroups") or []
    filters = [len((g or {}).get("filters") or []) for g in groups]
    if len(groups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups: {len(groups)} (at most {MAX_GROUPS}).")
    if any(count > MAX_FILTERS_PER_GROUP for count in filters):
        raise validation_error(
            f"Too many filters in a group (at most {MAX_FILTERS_PER_GROUP} per group)."
        )
    if sum(filters) > MAX_FILTERS:
        raise validation_error(f"Too many filters: {sum(filters)} (at most {MAX_FILTERS}).")
    if len(body.get("sorts") or []) > 1:
        raise validation_error("Only one sort rule is supported.")
    return raw_limit, int(after)


blueprint = Blueprint("hubspot_search", __name__)


@blueprint.post("/crm/v3/objects/<object_type>/search")
def _search(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    if len(request.get_data(as_text=True)) > MAX_BODY_CHARS:
        raise validation_error(f"The request body is larger than {MAX_BODY_CHARS} characters.")
    body = json_object()
    limit, offset = check_request(body)
    sort = _sort_rule(body.get("sorts") or [])
    with portal.lock:
        filters = FilterSet(portal, kind, body.get("filterGroups") or [])
        now = portal.now_ms()
        matched: list[tuple[Record, dict[str, str]]] = []
        for record in portal.store(kind).records.values():
            values = record.search_view(now)
            if values is None or not filters.matches(record, values):
                continue
            if body.get("query") and not query_matches(kind, values, str(body["query"])):
                continue
            matched.append((record, values))
        if sort is not None:
            name, descending = sort
            definition = portal.catalog.get(kind.name, name)
            type_name = definition.type if definition else "string"
            present = [m for m in matched if m[1].get(name)]
            absent = [m for m in matched if not m[1].get(name)]
            present.sort(key=lambda m: comparable(type_name, m[1][name]), reverse=descending)
            matched = present + absent
        page = matched[offset : offset + limit]
        results = [
            {
                "id": record.id,
                "properties": pick_properties(
                    kind, values, body.get("properties"), kind.search_properties
                ),
                "createdAt": iso_from_ms(record.created_ms),
                "updatedAt": iso_from_ms(record.updated_ms),
                "archived": False,
            }
            for record, values in page
        ]
    answer: dict[str, Any] = {"total": len(matched), "results": results}
    if offset + limit < len(matched) and limit > 0:
        answer["paging"] = {"next": {"after": str(offset + limit)}}
    return json_response(answer)


def _sort_rule(sorts: list[Any]) -> tuple[str, bool] | None:
    if not sorts:
        return None
    rule = sorts[0]
    if isinstance(rule, str):
        name, descending = rule.lstrip("-"), rule.startswith("-")
        return name, descending
    if not isinstance(rule, dict) or not rule.get("propertyName"):
        raise validation_error("A sort needs a propertyName.")
    direction = str(rule.get("direction", "ASCENDING")).upper()
    if direction not in ("ASCENDING", "DESCENDING"):
        raise validation_error(f"Invalid sort direction: {direction}")
    return str(rule["propertyName"]), direction == "DESCENDING"
