"""Syntax: what parse_soql accepts, how it reads it, and what it refuses."""

# Building SOQL text from test data is what these tests do; nothing here reaches a database.

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.emulators.salesforce.soql import SoqlError, parse_soql
from closedloop.emulators.salesforce.soql_types import (
    Comparison,
    FieldPath,
    Logical,
    Negation,
    OrderKey,
    Value,
)


def where(condition: str) -> object:
    return parse_soql(f"SELECT Id FROM Lead WHERE {condition}").where


def literal(text: str) -> Value:
    node = where(f"Name = {text}")
    assert isinstance(node, Comparison)
    return node.values[0]


def test_select_list_from_and_clauses_are_read() -> None:
    query = parse_soql(
        "select Id, account.Name, Campaign__r.Name from contact "
        "order by LastName desc nulls first, Id limit 10 offset 5"
    )
    assert query.sobject == "contact"
    assert query.fields == (
        FieldPath(("Id",)),
        FieldPath(("account", "Name")),
        FieldPath(("Campaign__r", "Name")),
    )
    assert query.order_by == (
        OrderKey(FieldPath(("LastName",)), descending=True, nulls_first=True),
        OrderKey(FieldPath(("Id",)), descending=False, nulls_first=True),
    )
    assert (query.limit, query.offset, query.count_only, query.where) == (10, 5, False, None)


def test_order_by_defaults_follow_salesforce() -> None:
    query = parse_soql("SELECT Id FROM Lead ORDER BY A, B ASC, C DESC, D ASC NULLS LAST")
    assert [(key.descending, key.nulls_first) for key in query.order_by] == [
        (False, True),
        (False, True),
        (True, False),
        (False, False),
    ]


def test_count_query() -> None:
    query = parse_soql("SELECT count() FROM Lead WHERE IsConverted = false")
    assert query.count_only
    assert query.fields == ()


@pytest.mark.parametrize(
    ("written", "operator"),
    [
        ("=", "="),
        ("!=", "!="),
        ("<>", "!="),
        ("<", "<"),
        ("<=", "<="),
        (">", ">"),
        (">=", ">="),
        ("like", "LIKE"),
    ],
)
def test_scalar_operators(written: str, operator: str) -> None:
    node = where(f"Name {written} 'x'")
    assert isinstance(node, Comparison)
    assert node.operator == operator


@pytest.mark.parametrize("operator", ["IN", "NOT IN", "INCLUDES", "EXCLUDES"])
def test_set_operators_take_a_list(operator: str) -> None:
    node = where(f"Name {operator.lower()} ('a', 'b')")
    assert isinstance(node, Comparison)
    assert node.operator == operator
    assert [value.value for value in node.values] == ["a", "b"]


def test_and_chain_and_or_chain() -> None:
    conjunction = where("A = 1 AND B = 2 and C = 3")
    disjunction = where("A = 1 OR B = 2")
    assert isinstance(conjunction, Logical)
    assert conjunction.operator == "AND"
    assert len(conjunction.operands) == 3
    assert isinstance(disjunction, Logical)
    assert disjunction.operator == "OR"


@pytest.mark.parametrize(
    "condition", ["A = 1 AND B = 2 OR C = 3", "A = 1 OR B = 2 AND C = 3", "(A = 1 OR B = 2"]
)
def test_mixing_and_or_without_parentheses_is_malformed(condition: str) -> None:
    with pytest.raises(SoqlError) as caught:
        where(condition)
    assert caught.value.error_code == "MALFORMED_QUERY"


def test_parentheses_and_not_build_the_tree() -> None:
    node = where("(A = 1 OR B = 2) AND NOT (C = 3 AND D = 4) AND NOT E = 5")
    assert isinstance(node, Logical)
    assert node.operator == "AND"
    first, second, third = node.operands
    assert isinstance(first, Logical)
    assert first.operator == "OR"
    assert isinstance(second, Negation)
    assert isinstance(second.operand, Logical)
    assert isinstance(third, Negation)
    assert isinstance(third.operand, Comparison)


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        (r"'it\'s'", "it's"),
        (r"'back\\slash'", "back\\slash"),
        (r"'a\nb\tc\rd'", "a\nb\tc\rd"),
        (r"'UPPER\N'", "UPPER\n"),
        (r"'\"quoted\"'", '"quoted"'),
        (r"'caf\u00e9'", "café"),
        ("''", ""),
    ],
)
def test_string_escapes(text: str, decoded: str) -> None:
    value = literal(text)
    assert value.kind == "string"
    assert value.value == decoded


def test_like_pattern_keeps_escaped_wildcards_literal() -> None:
    value = literal(r"'50\% off\_%_'")
    assert value.value == "50% off_%_"
    assert value.like_pattern == "50%\\ off_.*."


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("42", "number", 42),
        ("-7", "number", -7),
        ("+3", "number", 3),
        ("1.25", "number", 1.25),
        ("TRUE", "boolean", True),
        ("false", "boolean", False),
        ("NULL", "null", None),
        ("2024-01-31", "date", date(2024, 1, 31)),
        ("2024-01-31T10:00:00Z", "datetime", datetime(2024, 1, 31, 10, tzinfo=UTC)),
        ("2024-01-31T10:00:00.250Z", "datetime", datetime(2024, 1, 31, 10, 0, 0, 250000, UTC)),
        ("2024-01-31T10:00:00+01:00", "datetime", datetime(2024, 1, 31, 9, tzinfo=UTC)),
        ("2024-01-31T10:00:00-0530", "datetime", datetime(2024, 1, 31, 15, 30, tzinfo=UTC)),
        ("today", "date_literal", ("TODAY", None)),
        ("LAST_N_DAYS:30", "date_literal", ("LAST_N_DAYS", 30)),
        ("n_days_ago : 2", "date_literal", ("N_DAYS_AGO", 2)),
    ],
)
def test_literals(text: str, kind: str, expected: object) -> None:
    value = literal(text)
    assert value.kind == kind
    assert value.value == expected


def test_datetime_literals_are_aware_utc() -> None:
    value = literal("2024-06-01T00:00:00.123456789+02:00")
    assert isinstance(value.value, datetime)
    assert value.value.utcoffset() == timedelta(0)
    assert value.value == datetime(2024, 6, 1, tzinfo=timezone(timedelta(hours=2))).replace(
        microsecond=123456
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unexpected token: <EOF>"),
        ("SELECT", "unexpected token: <EOF>"),
        ("SELECT COUNT(", "COUNT()"),
        ("SELECT COUNT() Lead", "unexpected token: Lead"),
        ("SELECT FROM Lead", "unexpected token: FROM"),
        ("SELECT Id Lead", "unexpected token: Lead"),
        ("SELECT Id FROM Lead WHERE", "unexpected token: <EOF>"),
        ("SELECT Id FROM Lead WHERE Name 'x'", "unexpected token: 'x'"),
        ("SELECT Id FROM Lead WHERE Name = Open", "unexpected token: Open"),
        ("SELECT Id FROM Lead WHERE Name = :bind", "unexpected token: :"),
        ("SELECT Id FROM Lead WHERE Name IN 'x'", "unexpected token: 'x'"),
        ("SELECT Id FROM Lead WHERE Name = 'x' trailing", "unexpected token: trailing"),
        ("SELECT Id FROM Lead LIMIT -1", "unexpected token: -1"),
        ("SELECT Id FROM Lead LIMIT 1.5", "unexpected token: 1.5"),
        ("SELECT Id FROM Lead OFFSET 5 LIMIT 1", "unexpected token: LIMIT"),
        ("SELECT Id FROM Lead ORDER Id", "unexpected token: Id"),
        ("SELECT Id FROM Lead ORDER BY Id NULLS", "unexpected token: <EOF>"),
        ("SELECT Id FROM Lead GROUP BY Id", "unexpected token: GROUP"),
        ("SELECT Id FROM Lead LIMIT 2147483648", "numeric value out of range: 2147483648"),
        ("SELECT Id FROM Lead WHERE Name = 'open", "mismatched character '<EOF>'"),
        ("SELECT Id FROM Lead WHERE Name = 'a\\qb'", "no viable alternative at character '\\'"),
        ('SELECT Id FROM Lead WHERE Name = "x"', "no viable alternative at character '\"'"),
        ("SELECT Id FROM Lead WHERE D = 2024-02-30", "invalid date: 2024-02-30"),
        ("SELECT Id FROM Lead WHERE D > 2024-01-01T25:00:00Z", "invalid dateTime"),
        ("SELECT Id FROM Lead WHERE D > 2024-01-01T10:00:00", "unexpected token: T10"),
        ("SELECT Id FROM Lead WHERE D > LAST_N_DAYS", "unexpected token: <EOF>"),
        ("SELECT COUNT(Id) FROM Lead", "COUNT()"),
        ("SELECT toLabel(Status) FROM Lead", "toLabel"),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "unexpected token: ("),
    ],
)
def test_malformed_queries(text: str, message: str) -> None:
    with pytest.raises(SoqlError) as caught:
        parse_soql(text)
    assert caught.value.error_code == "MALFORMED_QUERY"
    assert message in caught.value.message


_FRAGMENTS = [
    "SELECT", "Id", "Name", "Account.Name", "COUNT()", "FROM", "Lead", "WHERE", "AND", "OR",
    "NOT", "IN", "LIKE", "INCLUDES", "(", ")", ",", "=", "!=", "<", ">=", "'a\\'b'", "'",
    "\\", "null", "TRUE", "42", "-1.5", "2024-01-31", "2024-01-31T10:00:00Z", "TODAY",
    "LAST_N_DAYS", ":", "7", "ORDER", "BY", "DESC", "NULLS", "LAST", "LIMIT", "OFFSET", "é",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=14), st.sampled_from([" ", ""]))
def test_any_input_parses_or_fails_with_malformed_query(parts: list[str], separator: str) -> None:
    try:
        parse_soql(separator.join(parts))
    except SoqlError as error:
        failure: str | None = error.error_code
    else:
        failure = None
    assert failure in {None, "MALFORMED_QUERY"}
