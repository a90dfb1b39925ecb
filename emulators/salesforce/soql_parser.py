"""Recursive-descent parser for the emulator's SOQL subset.

Grammar (keywords case-insensitive)::

    query      := SELECT (COUNT '(' ')' | path (',' path)*) FROM name
                  [WHERE condition] [ORDER BY order (',' order)*]
                  [LIMIT integer] [OFFSET integer]
    condition  := unary (AND unary)* | unary (OR unary)*
    unary      := NOT unary | '(' condition ')' | path operator operand
    order      := path [ASC | DESC] [NULLS (FIRST | LAST)]

As in Salesforce, AND and OR cannot be mixed at one level without parentheses; the
parser answers ``unexpected token`` at the second kind of operator, as Salesforce does.
Only syntax is checked here; names and types are checked by the evaluator.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from closedloop.emulators.salesforce.soql_lexer import Token, tokenize
from closedloop.emulators.salesforce.soql_types import (
    MALFORMED_QUERY,
    SET_OPERATORS,
    Comparison,
    ComparisonOperator,
    Condition,
    FieldPath,
    Logical,
    Negation,
    OrderKey,
    SoqlError,
    SoqlQuery,
    Value,
)
from closedloop.emulators.salesforce.soql_values import (
    FIXED_DATE_LITERALS,
    PARAMETRIC_DATE_LITERALS,
)

_MAX_INTEGER = 2**31 - 1
_SCALAR_OPERATORS: dict[str, ComparisonOperator] = {
    "=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
}  # fmt: skip
_WORD_OPERATORS: dict[str, ComparisonOperator] = {
    "LIKE": "LIKE", "IN": "IN", "INCLUDES": "INCLUDES", "EXCLUDES": "EXCLUDES",
}  # fmt: skip


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # -- token helpers -------------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.tokens[self.index]
        return token.kind == kind and (text is None or token.text == text)

    def is_keyword(self, *words: str, offset: int = 0) -> bool:
        token = self.tokens[min(self.index + offset, len(self.tokens) - 1)]
        return token.kind == "name" and token.text.upper() in words

    def accept_keyword(self, word: str) -> bool:
        if self.is_keyword(word):
            self.advance()
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.accept_keyword(word):
            raise self.unexpected()

    def expect_punct(self, char: str) -> None:
        if not self.at("punct", char):
            raise self.unexpected()
        self.advance()

    def unexpected(self, token: Token | None = None) -> SoqlError:
        shown = (token or self.current).describe()
        return SoqlError(MALFORMED_QUERY, f"unexpected token: {shown}")

    # -- clauses ---------------------------------------------------------------------------
    def query(self) -> SoqlQuery:
        self.expect_keyword("SELECT")
        count_only, fields = self.select_list()
        self.expect_keyword("FROM")
        if self.current.kind != "name" or "." in self.current.text:
            raise self.unexpected()
        sobject = self.advance().text
        where = self.condition() if self.accept_keyword("WHERE") else None
        order_by: tuple[OrderKey, ...] = ()
        if self.accept_keyword("ORDER"):
            self.expect_keyword("BY")
            order_by = self.order_list()
        limit = self.integer() if self.accept_keyword("LIMIT") else None
        offset = self.integer() if self.accept_keyword("OFFSET") else None
        if not self.at("eof"):
            raise self.unexpected()
        return SoqlQuery(self.text, sobject, fields, count_only, where, order_by, limit, offset)

    def select_list(self) -> tuple[bool, tuple[FieldPath, ...]]:
        following = self.tokens[min(self.index + 1, len(self.tokens) - 1)]
        if self.is_keyword("COUNT") and (following.kind, following.text) == ("punct", "("):
            self.advance()
            self.advance()
            if not self.at("punct", ")"):
                raise SoqlError(
                    MALFORMED_QUERY,
                    "the emulator supports COUNT() only; COUNT(field) and other aggregate "
                    "functions are not implemented",
                )
            self.advance()
            return True, ()
        fields = [self.path()]
        while self.at("punct", ","):
            self.advance()
            fields.append(self.path())
        return False, tuple(fields)

    def path(self) -> FieldPath:
        token = self.current
        if token.kind != "name" or token.text.upper() in {"FROM", "SELECT"}:
            raise self.unexpected()
        self.advance()
        if self.at("punct", "("):
            raise SoqlError(
                MALFORMED_QUERY, f"the emulator does not implement the function {token.text}()"
            )
        return FieldPath(tuple(token.text.split(".")))

    def order_list(self) -> tuple[OrderKey, ...]:
        keys: list[OrderKey] = []
        while True:
            field = self.path()
            descending = self.accept_keyword("DESC")
            if not descending:
                self.accept_keyword("ASC")
            nulls_first = not descending
            if self.accept_keyword("NULLS"):
                if not self.is_keyword("FIRST", "LAST"):
                    raise self.unexpected()
                nulls_first = self.advance().text.upper() == "FIRST"
            keys.append(OrderKey(field, descending, nulls_first))
            if not (self.at("punct", ",")):
                return tuple(keys)
            self.advance()

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected()
        self.advance()
        if int(token.text) > _MAX_INTEGER:
            raise SoqlError(MALFORMED_QUERY, f"numeric value out of range: {token.text}")
        return int(token.text)

    # -- WHERE -----------------------------------------------------------------------------
    def condition(self) -> Condition:
        first = self.unary()
        if not self.is_keyword("AND", "OR"):
            return first
        joiner = self.current.text.upper()
        operands = [first]
        while self.is_keyword("AND", "OR"):
            if self.current.text.upper() != joiner:
                raise self.unexpected()
            self.advance()
            operands.append(self.unary())
        return Logical("AND" if joiner == "AND" else "OR", tuple(operands))

    def unary(self) -> Condition:
        if self.accept_keyword("NOT"):
            return Negation(self.unary())
        if self.at("punct", "("):
            self.advance()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        field = self.path()
        operator = self.operator()
        if operator in SET_OPERATORS:
            self.expect_punct("(")
            values = [self.value()]
            while self.at("punct", ","):
                self.advance()
                values.append(self.value())
            self.expect_punct(")")
            return Comparison(field, operator, tuple(values))
        return Comparison(field, operator, (self.value(),))

    def operator(self) -> ComparisonOperator:
        token = self.current
        if token.kind == "operator":
            self.advance()
            return _SCALAR_OPERATORS[token.text]
        if self.is_keyword("NOT") and self.is_keyword("IN", offset=1):
            self.advance()
            self.advance()
            return "NOT IN"
        if token.kind == "name" and token.text.upper() in _WORD_OPERATORS:
            self.advance()
            return _WORD_OPERATORS[token.text.upper()]
        raise self.unexpected()

    def value(self) -> Value:
        token = self.advance()
        if token.kind == "string":
            return Value("string", token.text, token.like_pattern)
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return Value("number", number)
        if token.kind == "date":
            return Value("date", _parse_date(token.text))
        if token.kind == "datetime":
            return Value("datetime", _parse_datetime(token.text))
        return self.word_value(token)

    def word_value(self, token: Token) -> Value:
        word = token.text.upper() if token.kind == "name" else ""
        if word in {"TRUE", "FALSE", "NULL"}:
            literal = None if word == "NULL" else word == "TRUE"
            return Value("null" if literal is None else "boolean", literal)
        if word in FIXED_DATE_LITERALS:
            return Value("date_literal", (word, None))
        if word in PARAMETRIC_DATE_LITERALS:
            self.expect_punct(":")
            amount = self.integer()
            return Value("date_literal", (word, amount))
        raise self.unexpected(token)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise SoqlError(MALFORMED_QUERY, f"invalid date: {text}") from None


def _parse_datetime(text: str) -> datetime:
    if text[19:20] == ".":  # Python reads at most six fraction digits
        fraction = text[20:]
        digits = len(fraction) - len(fraction.lstrip("0123456789"))
        text = f"{text[:19]}.{(fraction[:digits] + '000000')[:6]}{fraction[digits:]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise SoqlError(MALFORMED_QUERY, f"invalid dateTime: {text}") from None


def parse_query(text: str) -> SoqlQuery:
    """Parse ``text`` into a :class:`SoqlQuery` (syntax only).

    Args:
        text: the SOQL query.

    Returns:
        The parsed query.

    Raises:
        SoqlError: MALFORMED_QUERY when the text is not valid SOQL of the supported subset.
    """
    return _Parser(text).query()
