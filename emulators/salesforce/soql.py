"""SOQL for the Salesforce emulator: the public entry point.

Callers parse once with :func:`parse_soql` (syntax only) and run with :func:`run_query`,
which checks names and types against a :class:`SoqlCatalog`, filters, orders, applies
OFFSET then LIMIT, and returns the whole ordered result as REST records (the caller pages
it by 2,000 and builds ``nextRecordsUrl``), or an ``int`` for ``SELECT COUNT()``.

Supported: field lists with custom fields and child-to-parent paths (``Account.Name``,
``Campaign__r.Name``, up to five levels); ``COUNT()``; WHERE with ``= != <> < <= > >=``,
``IN``, ``NOT IN``, ``LIKE``, ``INCLUDES``/``EXCLUDES``, ``AND``/``OR``/``NOT`` and
parentheses; string, number, boolean, null, date, datetime and relative date literals;
ORDER BY with ASC/DESC and NULLS FIRST/LAST; LIMIT; OFFSET. Module map: ``soql_lexer`` and
``soql_parser`` (syntax), ``soql_fields`` (paths), ``soql_values`` (comparison keys),
``soql_filter`` (WHERE), ``soql_types`` (shared types and messages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from closedloop.emulators.salesforce.soql_fields import FieldResolver, Hop, ResolvedField, Row
from closedloop.emulators.salesforce.soql_filter import compile_condition
from closedloop.emulators.salesforce.soql_parser import parse_query
from closedloop.emulators.salesforce.soql_types import (
    INVALID_FIELD,
    MAX_OFFSET,
    NUMBER_OUTSIDE_VALID_RANGE,
    Comparison,
    FieldInfo,
    Logical,
    OrderKey,
    SoqlCatalog,
    SoqlError,
    SoqlQuery,
    unsupported_sobject,
)
from closedloop.emulators.salesforce.soql_values import ID_TYPES, id_literal_key

__all__ = ["FieldInfo", "SoqlCatalog", "SoqlError", "SoqlQuery", "parse_soql", "run_query"]


def parse_soql(text: str) -> SoqlQuery:
    """Parse a SOQL query; names are not checked until :func:`run_query`.

    Args:
        text: the query, e.g. ``SELECT Id FROM Lead WHERE SystemModstamp > 2024-01-01T00:00:00Z``.

    Returns:
        The parsed query, reusable across runs.

    Raises:
        SoqlError: MALFORMED_QUERY for invalid or unsupported syntax.
    """
    return parse_query(text)


class _Projection:
    """The SELECT list as a tree: plain fields, and parent relationships with their fields."""

    def __init__(self) -> None:
        self.fields: dict[str, FieldInfo | _Projection] = {}
        self.hops: dict[str, Hop] = {}

    def add(self, field: ResolvedField) -> None:
        node = self
        for hop in field.hops:
            child = node.fields.get(hop.relationship_name)
            if not isinstance(child, _Projection):
                child = node.fields[hop.relationship_name] = _Projection()
                node.hops[hop.relationship_name] = hop
            node = child
        if field.info.name in node.fields:
            raise SoqlError(INVALID_FIELD, f"duplicate field selected: {field.info.name}")
        node.fields[field.info.name] = field.info

    def render(self, row: Row, sobject: str, resolver: FieldResolver, base: str) -> dict[str, Any]:
        url = f"{base}/sobjects/{sobject}/{row.get('Id')}"
        record: dict[str, Any] = {"attributes": {"type": sobject, "url": url}}
        for name, entry in self.fields.items():
            if isinstance(entry, _Projection):
                hop = self.hops[name]
                parent = resolver.parent(hop, row.get(hop.reference_field))
                record[name] = (
                    None if parent is None else entry.render(parent[1], parent[0], resolver, base)
                )
            else:
                value = row.get(name)
                record[name] = bool(value) if entry.type == "boolean" else value
        return record


def _rank(field: ResolvedField, order: OrderKey) -> Callable[[Row], tuple[int, Any]]:
    """Sort key for one ORDER BY item, placing nulls as asked whatever the direction."""
    get, sort_key = field.getter, field.sort_key
    null_rank = 0 if order.nulls_first != order.descending else 2

    def rank(row: Row) -> tuple[int, Any]:
        value = sort_key(get(row))
        return (null_rank, 0) if value is None else (1, value)

    return rank


def _sortable(field: ResolvedField) -> ResolvedField:
    if field.info.type == "multipicklist":
        raise SoqlError(
            INVALID_FIELD, f"field '{field.info.name}' can not be sorted in a query call"
        )
    return field


def _order(rows: list[Row], keys: list[tuple[ResolvedField, OrderKey]]) -> None:
    """Sort in place by several keys: stable sorts from the last key to the first."""
    for field, order in reversed(keys):
        rows.sort(key=_rank(field, order), reverse=order.descending)


def run_query(
    query: SoqlQuery,
    catalog: SoqlCatalog,
    *,
    api_version: str,
    include_deleted: bool = False,
    now: datetime,
) -> list[dict[str, Any]] | int:
    """Check ``query`` against the catalog and run it.

    Args:
        query: a query from :func:`parse_soql`.
        catalog: the org's schema (as visible to the API user) and rows.
        api_version: e.g. ``"59.0"``; used in each record's ``attributes.url``.
        include_deleted: true for ``queryAll``: soft-deleted rows are included.
        now: the current instant (timezone-aware), for TODAY, LAST_N_DAYS:n and the like.

    Returns:
        The matching rows as REST records, ordered, after OFFSET and LIMIT; an ``int`` for
        ``SELECT COUNT()``.

    Raises:
        SoqlError: INVALID_TYPE, INVALID_FIELD, INVALID_QUERY_FILTER_OPERATOR or
            NUMBER_OUTSIDE_VALID_RANGE, with Salesforce's messages.
        ValueError: when ``now`` is naive.
    """
    if now.tzinfo is None:
        raise ValueError("run_query needs a timezone-aware 'now'")
    sobject = catalog.sobject_name(query.sobject)
    if sobject is None:
        raise unsupported_sobject(query.sobject)
    resolver = FieldResolver(catalog, sobject)
    projection = _Projection()
    for path in query.fields:
        projection.add(resolver.resolve(path))
    predicate = (
        compile_condition(query.where, resolver, now.astimezone(UTC).date())
        if query.where is not None
        else None
    )
    order_keys = [(_sortable(resolver.resolve(order.field)), order) for order in query.order_by]
    offset = query.offset or 0
    if offset > MAX_OFFSET:
        raise SoqlError(
            NUMBER_OUTSIDE_VALID_RANGE,
            f"Maximum SOQL offset allowed for apiName {sobject} is {MAX_OFFSET}",
        )
    candidates = _rows_by_id(query, resolver, catalog, sobject, include_deleted)
    if candidates is None:
        candidates = catalog.records(sobject, include_deleted=include_deleted)
    rows: list[Mapping[str, Any]] = [
        row
        for row in candidates
        if (include_deleted or not row.get("IsDeleted")) and (predicate is None or predicate(row))
    ]
    end = None if query.limit is None else offset + query.limit
    if query.count_only:
        return len(rows[offset:end])
    _order(rows, order_keys)
    base = f"/services/data/v{api_version.removeprefix('v')}"
    return [projection.render(row, sobject, resolver, base) for row in rows[offset:end]]


def _rows_by_id(
    query: SoqlQuery,
    resolver: FieldResolver,
    catalog: SoqlCatalog,
    sobject: str,
    include_deleted: bool,
) -> Iterable[Mapping[str, Any]] | None:
    """The only rows that can match a filter on ids, or None to read the whole table.

    When the WHERE clause requires an id field of the queried object (``Id``, ``LeadId``...)
    to equal one of some ids (``= 'x'`` or ``IN (...)``, alone or AND-ed with others), the
    catalog's id index gives the rows that hold them, in table order; the full filter still
    runs on each, so the answer is the one a scan gives.
    """
    lookup = getattr(catalog, "records_with_ids", None)
    where = query.where
    if lookup is None or where is None:
        return None
    terms = where.operands if isinstance(where, Logical) and where.operator == "AND" else (where,)
    for term in terms:
        if not isinstance(term, Comparison) or term.operator not in ("=", "IN"):
            continue
        if len(term.field.parts) != 1 or not term.values:
            continue
        keys = [id_literal_key(str(v.value)) if v.kind == "string" else None for v in term.values]
        field = resolver.resolve(term.field)
        if field.info.type in ID_TYPES and None not in keys:
            found: Iterable[Mapping[str, Any]] = lookup(
                sobject, field.info.name, keys, include_deleted=include_deleted
            )
            return found
    return None
