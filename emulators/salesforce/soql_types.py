"""Shared types of the SOQL emulator: the error, the catalog protocol and the parsed query.

The parser (``soql_parser``) produces a :class:`SoqlQuery` made of the small frozen nodes
below; the evaluator (``soql``, ``soql_filter``, ``soql_fields``) checks it against a
:class:`SoqlCatalog` and runs it. Everything public is re-exported by
``closedloop.emulators.salesforce.soql``, which is the module callers import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

MALFORMED_QUERY = "MALFORMED_QUERY"
INVALID_FIELD = "INVALID_FIELD"
INVALID_TYPE = "INVALID_TYPE"
INVALID_QUERY_FILTER_OPERATOR = "INVALID_QUERY_FILTER_OPERATOR"
NUMBER_OUTSIDE_VALID_RANGE = "NUMBER_OUTSIDE_VALID_RANGE"

MAX_OFFSET = 2000


class SoqlError(ValueError):
    """A query Salesforce would refuse, carrying the REST ``errorCode`` and ``message``.

    ``error_code`` is one of ``MALFORMED_QUERY``, ``INVALID_FIELD``, ``INVALID_TYPE``,
    ``INVALID_QUERY_FILTER_OPERATOR`` or (OFFSET above 2,000) ``NUMBER_OUTSIDE_VALID_RANGE``.

    Args:
        error_code: the Salesforce error code.
        message: the human-readable message, worded as Salesforce words it.
    """

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


@dataclass(frozen=True)
class FieldInfo:
    """One field of an sObject as describe reports it.

    Attributes:
        name: canonical casing, e.g. ``LastName`` or ``First_Touch_Source__c``.
        type: the describe type (``id``, ``string``, ``picklist``, ``datetime``, ...).
        reference_to: for reference fields, the sObjects the field may point at.
        relationship_name: for reference fields, e.g. ``Account`` for ``AccountId``.
    """

    name: str
    type: str
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None


class SoqlCatalog(Protocol):
    """What the evaluator needs to know about the org's schema and data."""

    def sobject_name(self, name: str) -> str | None:
        """Canonical sObject name for a case-insensitive name; None if unknown or hidden."""
        ...

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        """Case-insensitive field lookup; None if absent or hidden by field-level security."""
        ...

    def relationship(self, sobject: str, relationship_name: str) -> FieldInfo | None:
        """The reference field whose relationship name matches (case-insensitive)."""
        ...

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        """Stored rows keyed by canonical field names; deleted rows carry IsDeleted=True."""
        ...

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        """One row by 18-character id, or None when absent."""
        ...


LiteralKind = Literal["string", "number", "boolean", "null", "date", "datetime", "date_literal"]


@dataclass(frozen=True)
class FieldPath:
    """A field reference as written, e.g. ``('Account', 'Name')`` for ``Account.Name``."""

    parts: tuple[str, ...]


@dataclass(frozen=True)
class Value:
    """A literal on the right-hand side of a comparison.

    Attributes:
        kind: which literal syntax was used.
        value: the decoded value: ``str``, ``int``/``float``, ``bool``, ``None``, ``date``,
            aware ``datetime``, or ``(name, n)`` for a date literal such as LAST_N_DAYS:7.
        like_pattern: for strings, the regular expression the string means after LIKE.
    """

    kind: LiteralKind
    value: str | int | float | bool | date | datetime | tuple[str, int | None] | None
    like_pattern: str | None = None


ComparisonOperator = Literal[
    "=", "!=", "<", "<=", ">", ">=", "LIKE", "IN", "NOT IN", "INCLUDES", "EXCLUDES"
]
SET_OPERATORS = frozenset({"IN", "NOT IN", "INCLUDES", "EXCLUDES"})


@dataclass(frozen=True)
class Comparison:
    """``field operator value``; set operators carry several values."""

    field: FieldPath
    operator: ComparisonOperator
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Logical:
    """A chain of AND-ed or OR-ed conditions (SOQL forbids mixing them unparenthesised)."""

    operator: Literal["AND", "OR"]
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    """``NOT condition``."""

    operand: Condition


Condition = Comparison | Logical | Negation


@dataclass(frozen=True)
class OrderKey:
    """One ORDER BY item; ``nulls_first`` already holds the Salesforce default when omitted."""

    field: FieldPath
    descending: bool
    nulls_first: bool


@dataclass(frozen=True)
class SoqlQuery:
    """A syntactically valid SOQL query, not yet checked against any schema."""

    text: str
    sobject: str
    fields: tuple[FieldPath, ...]
    count_only: bool = False
    where: Condition | None = None
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None
    offset: int | None = None


def no_such_column(field: str, sobject: str) -> SoqlError:
    """The INVALID_FIELD error Salesforce returns for an unknown or hidden field."""
    return SoqlError(
        INVALID_FIELD,
        f"No such column '{field}' on entity '{sobject}'. If you are attempting to use a "
        "custom field, be sure to append the '__c' after the custom field name. Please "
        "reference your WSDL or the describe call for the appropriate names.",
    )


def unknown_relationship(name: str) -> SoqlError:
    """The INVALID_FIELD error Salesforce returns for an unknown relationship in a path."""
    return SoqlError(
        INVALID_FIELD,
        f"Didn't understand relationship '{name}' in field path. If you are attempting to "
        "use a custom relationship, be sure to append the '__r' after the custom "
        "relationship name. Please reference your WSDL or the describe call for the "
        "appropriate names.",
    )


def unsupported_sobject(name: str) -> SoqlError:
    """The INVALID_TYPE error Salesforce returns for an unknown sObject."""
    return SoqlError(
        INVALID_TYPE,
        f"sObject type '{name}' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name. Please reference your "
        "WSDL or the describe call for the appropriate names.",
    )
