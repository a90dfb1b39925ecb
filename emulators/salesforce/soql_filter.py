"""Type-checking a WHERE tree and compiling it into one Python predicate.

The tree is walked once per query: each comparison resolves its field, checks the
operator and literals against the field's type (with Salesforce's error codes and
messages), converts the literals into the field's comparison keys, and becomes a small
closure. Logical nodes chain those closures, so filtering a row costs a few calls.

Null semantics follow Salesforce rather than SQL: a comparison is simply true or false,
``= null`` / ``!= null`` test for null, ``!=`` and ``NOT IN`` match null values, and
ordering comparisons and LIKE never match null.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce
from typing import Any

from closedloop.emulators.salesforce.soql_fields import FieldResolver, Getter, ResolvedField
from closedloop.emulators.salesforce.soql_types import (
    INVALID_FIELD,
    INVALID_QUERY_FILTER_OPERATOR,
    Comparison,
    Condition,
    Negation,
    SoqlError,
    Value,
)
from closedloop.emulators.salesforce.soql_values import (
    ID_TYPES,
    NUMBER_TYPES,
    STRING_TYPES,
    KeyFunction,
    date_literal_range,
    format_instant,
    id_literal_key,
    multipicklist_key,
    range_keys,
    string_key,
)

Predicate = Callable[[Mapping[str, Any]], bool]

_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_NON_TEXT_TYPES = ID_TYPES | NUMBER_TYPES | {"boolean", "date", "datetime", "multipicklist"}


@dataclass(frozen=True)
class _Range:
    """A relative date literal as a half-open range of keys."""

    start: str
    end: str


def _soap_type(field_type: str) -> str:
    """The type name Salesforce uses in filter error messages."""
    if field_type in STRING_TYPES or field_type == "multipicklist":
        return "string"
    if field_type in ID_TYPES:
        return "id"
    if field_type in {"currency", "percent"}:
        return "double"
    return "dateTime" if field_type == "datetime" else field_type


def _type_mismatch(field: ResolvedField) -> SoqlError:
    expected = _soap_type(field.info.type)
    quotes = "be" if expected in {"string", "id"} else "not be"
    return SoqlError(
        INVALID_FIELD,
        f"value of filter criterion for field '{field.info.name}' must be of type "
        f"{expected} and should {quotes} enclosed in quotes",
    )


def _check_operator(field: ResolvedField, op: str) -> None:
    field_type = field.info.type
    if op in {"INCLUDES", "EXCLUDES"}:
        if field_type != "multipicklist":
            raise SoqlError(
                INVALID_QUERY_FILTER_OPERATOR,
                "includes or excludes operator only valid on multipicklist field",
            )
        return
    unordered = field_type in {"boolean", "multipicklist"} and op in _ORDERING
    if (op == "LIKE" and field_type in _NON_TEXT_TYPES) or unordered:
        shown = field_type if field_type == "multipicklist" else _soap_type(field_type)
        raise SoqlError(INVALID_QUERY_FILTER_OPERATOR, f"invalid operator on {shown} field")


def _id_literal(field: ResolvedField, value: Value, today: date) -> Any:
    if value.kind != "string":
        raise _type_mismatch(field)
    key = id_literal_key(str(value.value))
    if key is None:
        raise SoqlError(INVALID_QUERY_FILTER_OPERATOR, f"invalid ID field: {value.value}")
    return key


def _number_literal(field: ResolvedField, value: Value, today: date) -> Any:
    if value.kind != "number":
        raise _type_mismatch(field)
    return value.value


def _boolean_literal(field: ResolvedField, value: Value, today: date) -> Any:
    if value.kind != "boolean":
        raise _type_mismatch(field)
    return value.value


def _temporal_literal(field: ResolvedField, value: Value, today: date) -> Any:
    field_type = field.info.type
    if value.kind == "date_literal" and isinstance(value.value, tuple):
        span = date_literal_range(value.value[0], value.value[1], today)
        return _Range(*range_keys(field_type, span))
    if field_type == "date" and value.kind == "date" and isinstance(value.value, date):
        return value.value.isoformat()
    if field_type == "datetime" and isinstance(value.value, datetime):
        return format_instant(value.value)
    raise _type_mismatch(field)


def _text_literal(field: ResolvedField, value: Value, today: date) -> Any:
    if value.kind != "string":
        raise _type_mismatch(field)
    if field.info.type == "multipicklist":
        return multipicklist_key(value.value)
    return string_key(value.value)


_LITERALS_BY_TYPE: dict[str, Callable[[ResolvedField, Value, date], Any]] = {
    **dict.fromkeys(ID_TYPES, _id_literal),
    **dict.fromkeys(NUMBER_TYPES, _number_literal),
    "boolean": _boolean_literal,
    "date": _temporal_literal,
    "datetime": _temporal_literal,
}


def literal_key(field: ResolvedField, value: Value, today: date) -> Any:
    """Convert one literal into the field's key, checking its type as Salesforce does.

    Args:
        field: the resolved field on the left of the operator.
        value: the literal.
        today: the current UTC date, for relative date literals.

    Returns:
        The key, comparable with the field's filter keys; a range for date literals.

    Raises:
        SoqlError: INVALID_FIELD for a literal of the wrong type, and
            INVALID_QUERY_FILTER_OPERATOR for a malformed id.
    """
    if value.kind == "null":
        return None
    convert = _LITERALS_BY_TYPE.get(field.info.type, _text_literal)
    return convert(field, value, today)


def _negate(predicate: Predicate) -> Predicate:
    return lambda row: not predicate(row)


def _equals(get: Getter, key: KeyFunction, literal: Any) -> Predicate:
    if literal is None:
        return lambda row: key(get(row)) is None
    if isinstance(literal, _Range):
        start, end = literal.start, literal.end

        def within(row: Mapping[str, Any]) -> bool:
            found = key(get(row))
            return found is not None and start <= found < end

        return within
    return lambda row: key(get(row)) == literal


def _ordered(get: Getter, key: KeyFunction, op: str, literal: Any) -> Predicate:
    if literal is None:
        return lambda row: False
    if isinstance(literal, _Range):  # < before the range, > after it, <= / >= include it
        op, literal = {
            "<": ("<", literal.start),
            "<=": ("<", literal.end),
            ">": (">=", literal.end),
            ">=": (">=", literal.start),
        }[op]
    compare = _ORDERING[op]

    def ordered(row: Mapping[str, Any]) -> bool:
        found = key(get(row))
        return found is not None and bool(compare(found, literal))

    return ordered


def _like(field: ResolvedField, value: Value) -> Predicate:
    if value.kind == "null":
        return lambda row: False
    if value.kind != "string" or value.like_pattern is None:
        raise _type_mismatch(field)
    match = re.compile(value.like_pattern, re.IGNORECASE | re.DOTALL).fullmatch
    get = field.getter
    return lambda row: isinstance(found := get(row), str) and match(found) is not None


def _membership(get: Getter, key: KeyFunction, keys: list[Any]) -> Predicate:
    if any(isinstance(literal, _Range) for literal in keys):
        options = [_equals(get, key, literal) for literal in keys]
        return lambda row: any(option(row) for option in options)
    null_listed = None in keys
    members = frozenset(literal for literal in keys if literal is not None)

    def member(row: Mapping[str, Any]) -> bool:
        found = key(get(row))
        return null_listed if found is None else found in members

    return member


def _compile_comparison(node: Comparison, resolver: FieldResolver, today: date) -> Predicate:
    field = resolver.resolve(node.field)
    op = node.operator
    _check_operator(field, op)
    if op == "LIKE":
        return _like(field, node.values[0])
    get, key = field.getter, field.filter_key
    keys = [literal_key(field, value, today) for value in node.values]
    if op in {"INCLUDES", "EXCLUDES"}:
        wanted = [literal for literal in keys if literal is not None]

        def includes(row: Mapping[str, Any]) -> bool:
            found = key(get(row))
            return found is not None and any(subset <= found for subset in wanted)

        return includes if op == "INCLUDES" else _negate(includes)
    if op in {"IN", "NOT IN"}:
        member = _membership(get, key, keys)
        return member if op == "IN" else _negate(member)
    if op in {"=", "!="}:
        equal = _equals(get, key, keys[0])
        return equal if op == "=" else _negate(equal)
    return _ordered(get, key, op, keys[0])


def _both(first: Predicate, second: Predicate) -> Predicate:
    return lambda row: first(row) and second(row)


def _either(first: Predicate, second: Predicate) -> Predicate:
    return lambda row: first(row) or second(row)


def compile_condition(node: Condition, resolver: FieldResolver, today: date) -> Predicate:
    """Check a WHERE tree against the catalog and compile it into a row predicate.

    Args:
        node: the parsed condition.
        resolver: resolves field paths from the queried sObject.
        today: the current UTC date, for relative date literals.

    Returns:
        A function telling whether a stored row matches.

    Raises:
        SoqlError: INVALID_FIELD or INVALID_QUERY_FILTER_OPERATOR as Salesforce answers.
    """
    if isinstance(node, Comparison):
        return _compile_comparison(node, resolver, today)
    if isinstance(node, Negation):
        return _negate(compile_condition(node.operand, resolver, today))
    parts = [compile_condition(operand, resolver, today) for operand in node.operands]
    return reduce(_both if node.operator == "AND" else _either, parts)
