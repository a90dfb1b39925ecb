r"""Tokenizer for the SOQL subset the emulator understands.

Keywords are not told apart here: every identifier (dotted paths included) is a ``name``
token and the parser compares it case-insensitively. Quoted strings are decoded with the
SOQL escape sequences, and a second, regular-expression form is kept for LIKE, where an
escaped ``\%`` or ``\_`` is a literal character and an unescaped one is a wildcard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from closedloop.emulators.salesforce.soql_types import MALFORMED_QUERY, SoqlError

TokenKind = Literal["name", "string", "number", "date", "datetime", "operator", "punct", "eof"]


@dataclass(frozen=True)
class Token:
    """One lexical token.

    Attributes:
        kind: the token class.
        text: the token as written (decoded contents for strings).
        position: zero-based character offset in the query.
        like_pattern: for strings, the equivalent LIKE regular expression.
    """

    kind: TokenKind
    text: str
    position: int
    like_pattern: str | None = None

    def describe(self) -> str:
        """How Salesforce names the token in "unexpected token" messages."""
        if self.kind == "eof":
            return "<EOF>"
        if self.kind == "string":
            return f"'{self.text}'"
        return self.text


_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>[+-]?(?:\d+(?:\.\d+)?|\.\d+))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<operator>!=|<>|<=|>=|=|<|>)
    | (?P<punct>[(),:])
    """,
    re.VERBOSE,
)

_SIMPLE_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_LIKE_ESCAPES = {"%": "%", "_": "_"}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _no_viable_alternative(position: int, character: str) -> SoqlError:
    return SoqlError(
        MALFORMED_QUERY,
        f"line 1:{position} no viable alternative at character '{character}'",
    )


def _read_string(text: str, start: int) -> tuple[Token, int]:
    """Decode the quoted string opening at ``start``; return it and the index after it."""
    decoded: list[str] = []
    pattern: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "'":
            token = Token("string", "".join(decoded), start, "".join(pattern))
            return token, index + 1
        if char != "\\":
            decoded.append(char)
            pattern.append({"%": ".*", "_": "."}.get(char) or re.escape(char))
            index += 1
            continue
        escape = text[index + 1 : index + 2]
        digits = text[index + 2 : index + 6]
        if escape and escape in "NRTBF":
            literal = _SIMPLE_ESCAPES[escape.lower()]
        elif escape in _SIMPLE_ESCAPES or escape in _LIKE_ESCAPES:
            literal = _SIMPLE_ESCAPES.get(escape) or _LIKE_ESCAPES[escape]
        elif escape == "u" and len(digits) == 4 and set(digits) <= _HEX_DIGITS:
            literal = chr(int(digits, 16))
            index += 4
        else:
            raise _no_viable_alternative(index, "\\")
        index += 2
        decoded.append(literal)
        pattern.append(re.escape(literal))
    raise SoqlError(MALFORMED_QUERY, f"line 1:{start} mismatched character '<EOF>' expecting '''")


def tokenize(text: str) -> list[Token]:
    """Split a SOQL query into tokens, ending with an ``eof`` token.

    Args:
        text: the query.

    Returns:
        The tokens in order, whitespace dropped.

    Raises:
        SoqlError: MALFORMED_QUERY for a character no token can start with, a bad escape
            or an unterminated string.
    """
    tokens: list[Token] = []
    index = 0
    while index < len(text):
        if text[index] == "'":
            token, index = _read_string(text, index)
            tokens.append(token)
            continue
        match = _TOKEN_RE.match(text, index)
        if match is None:
            raise _no_viable_alternative(index, text[index])
        kind = match.lastgroup
        if kind != "space":
            if kind == "number" and match.group().startswith("+"):
                tokens.append(Token("number", match.group()[1:], index))
            else:
                tokens.append(Token(cast(TokenKind, kind), match.group(), index))
        index = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens
