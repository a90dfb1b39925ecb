"""The channel-rule grammar and site-list matching behind :mod:`closedloop.mappings.channels`.

A rule's ``when`` condition (grammar at the top of ``closedloop/mappings/data/channels.yaml``)
is compiled once by :func:`compile_condition` into a predicate over :class:`Facts`: the
normalised source, medium and campaign of a touch, the site lists its source belongs to and the
click ids it carries. :class:`SiteIndex` answers the site-list question, caching each source
value, and :func:`source_host` / :func:`brand` turn source and referrer values into hosts and
site names (``https://www.google.co.uk/`` -> ``www.google.co.uk`` -> ``google``).

The ``as_*`` value checks are shared with the loader in :mod:`closedloop.mappings.channels`;
every problem they find is an :class:`InvalidRuleError`, which the loader turns into a
:class:`~closedloop.runtime.errors.MappingError` naming the file and the rule.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = [
    "MEMO_LIMIT",
    "Check",
    "Facts",
    "InvalidRuleError",
    "SiteIndex",
    "as_mapping",
    "as_pair",
    "as_regex",
    "as_strings",
    "brand",
    "compile_condition",
    "source_host",
]

MEMO_LIMIT = 100_000
_TESTS = frozenset({"in", "in_sites", "pattern", "matches", "contains", "ends_with", "present"})
_SECOND_LEVEL = frozenset({"com", "co", "org", "net", "ac", "gov", "edu", "ne", "or", "go", "gob"})
_REFERRER_SCHEMES = frozenset({"http", "https", "android-app"})


@dataclass(frozen=True, slots=True)
class Facts:
    """What a compiled condition sees of one touch (values trimmed and lower-cased)."""

    source: str
    medium: str
    campaign: str
    sites: frozenset[str]
    click_ids: frozenset[str]


Check = Callable[[Facts], bool]


class InvalidRuleError(Exception):
    """A validation problem in a rules file, located (file, rule) by the caller."""


def source_host(value: str) -> str | None:
    """The lower-case host named by a source or referrer value, or None when it names none.

    ``"https://www.Google.com/search"`` and ``"google.com"`` give ``www.google.com`` and
    ``google.com``; ``"newsletter"`` gives None. Only http(s) and android-app URLs count.

    Args:
        value: a utm_source value, a bare host or a referrer URL.

    Returns:
        The host without surrounding dots, or None.
    """
    value = value.strip().lower()
    if "://" in value:
        try:
            parts = urlsplit(value)
            host = parts.hostname if parts.scheme in _REFERRER_SCHEMES else None
        except ValueError:
            return None
    else:
        host = value.split("/", 1)[0] if "." in value and " " not in value else None
    host = (host or "").strip(".")
    return host or None


def brand(host: str) -> str:
    """The label that names a site: ``www.google.co.uk`` -> ``google``, ``t.co`` -> ``t``.

    Args:
        host: a lower-case host name.

    Returns:
        The label left of the public suffix (one label, or two for ``co.uk``-style suffixes).
    """
    labels = host.split(".")
    if len(labels) > 1:
        labels.pop()
    while len(labels) > 1 and labels[-1] in _SECOND_LEVEL:
        labels.pop()
    return labels[-1]


class SiteIndex:
    """Which site lists a source value belongs to, cached per value.

    An entry with a dot (``t.co``) matches that domain and its sub-domains; an entry without
    one (``google``) matches the bare value and any host whose :func:`brand` it is.

    Attributes:
        names: dot-less entry -> the site lists holding it.
        domains: domain entry -> the site lists holding it.
    """

    def __init__(self, sites: Mapping[str, list[str]]) -> None:
        self.names: dict[str, set[str]] = {}
        self.domains: dict[str, set[str]] = {}
        for list_name, entries in sites.items():
            for entry in entries:
                index = self.domains if "." in entry else self.names
                index.setdefault(entry, set()).add(list_name)
        self._memo: dict[str, frozenset[str]] = {}

    def lists_of(self, source: str) -> frozenset[str]:
        """The names of the site lists ``source`` (already trimmed and lower-cased) is in."""
        found = self._memo.get(source)
        if found is None:
            hits = set(self.names.get(source, ()))
            host = source_host(source)
            if host:
                labels = host.split(".")
                for i in range(len(labels)):
                    hits |= self.domains.get(".".join(labels[i:]), set())
                hits |= self.names.get(brand(host), set())
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            found = self._memo[source] = frozenset(hits)
        return found


def as_strings(value: object, what: str) -> list[str]:
    """``value`` (one string or a list of them) as trimmed, lower-cased strings.

    Raises:
        InvalidRuleError: ``value`` is not a non-blank string or a list of them.
    """
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise InvalidRuleError(f"'{what}' needs a string or a list of strings, got {value!r}")
    return [str(v).strip().lower() for v in items]


def as_regex(value: object, what: str) -> re.Pattern[str]:
    """``value`` compiled as a case-insensitive regex.

    Raises:
        InvalidRuleError: ``value`` is not a non-empty string or not a valid regex.
    """
    if not isinstance(value, str) or not value:
        raise InvalidRuleError(f"'{what}' needs a regex string, got {value!r}")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise InvalidRuleError(f"bad regex {value!r} in '{what}': {exc}") from exc


def as_mapping(value: object, what: str) -> dict[str, object]:
    """``value`` as a mapping with string keys; None gives an empty one.

    Raises:
        InvalidRuleError: ``value`` is neither None nor a mapping with string keys.
    """
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidRuleError(f"'{what}' must be a mapping, got {value!r}")
    return value


def as_pair(value: object, what: str) -> tuple[str, str]:
    """``value`` as a ``(source, medium)`` pair, from a mapping with exactly those two keys.

    Raises:
        InvalidRuleError: ``value`` is not such a mapping or a value is not a non-blank string.
    """
    pair = as_mapping(value, what)
    if set(pair) != {"source", "medium"}:
        raise InvalidRuleError(f"'{what}' needs exactly a source and a medium, got {value!r}")
    return as_strings(pair["source"], what)[0], as_strings(pair["medium"], what)[0]


_GET: dict[str, Callable[[Facts], str]] = {
    name: operator.attrgetter(name) for name in ("source", "medium", "campaign")
}


def compile_condition(
    cond: object, sites: Collection[str], patterns: dict[str, re.Pattern[str]]
) -> Check:
    """Compile one condition of the grammar described in channels.yaml into a predicate.

    Args:
        cond: the parsed ``when`` value (or a nested condition).
        sites: the names of the known site lists, for ``in_sites``.
        patterns: the named regexes, for ``pattern``.

    Returns:
        A predicate that is true for the :class:`Facts` the condition matches.

    Raises:
        InvalidRuleError: the condition does not follow the grammar.
    """
    raw = as_mapping(cond, "condition")
    keys = set(raw)
    if len(keys) == 1 and (op := next(iter(keys))) in ("all", "any", "not", "click_id"):
        arg = raw[op]
        if op == "click_id":
            names = frozenset(as_strings(arg, op))
            return lambda f: not names.isdisjoint(f.click_ids)
        if op == "not":
            inner = compile_condition(arg, sites, patterns)
            return lambda f: not inner(f)
        if not isinstance(arg, list) or not arg:
            raise InvalidRuleError(f"'{op}' needs a non-empty list of conditions")
        parts = tuple(compile_condition(c, sites, patterns) for c in arg)
        if op == "all":
            return lambda f: all(p(f) for p in parts)
        return lambda f: any(p(f) for p in parts)
    return _field_test(raw, sites, patterns)


def _field_test(
    raw: dict[str, object], sites: Collection[str], patterns: dict[str, re.Pattern[str]]
) -> Check:
    field = raw.get("field")
    tests = set(raw) - {"field"}
    if field not in _GET or len(tests) != 1 or not tests <= _TESTS:
        raise InvalidRuleError(
            f"bad condition {raw!r}: use all, any, not, click_id, or field "
            f"(source, medium, campaign) with exactly one of {', '.join(sorted(_TESTS))}"
        )
    get, test = _GET[str(field)], tests.pop()
    arg = raw[test]
    if test == "in_sites":
        if field != "source" or arg not in sites:
            raise InvalidRuleError(f"'in_sites' needs field source and one of {sorted(sites)}")
        return lambda f: arg in f.sites
    if test == "present":
        if not isinstance(arg, bool):
            raise InvalidRuleError(f"'present' needs true or false, got {arg!r}")
        return lambda f: bool(get(f)) is arg
    if test == "pattern" and arg not in patterns:
        raise InvalidRuleError(f"unknown pattern {arg!r} (known: {sorted(patterns)})")
    if test in ("pattern", "matches"):
        search = (patterns[str(arg)] if test == "pattern" else as_regex(arg, test)).search
        return lambda f: search(get(f)) is not None
    values = as_strings(arg, test)
    if test == "in":
        members = frozenset(values)
        return lambda f: get(f) in members
    if len(values) != 1:
        raise InvalidRuleError(f"'{test}' needs one string, got {arg!r}")
    text = values[0]
    return (lambda f: text in get(f)) if test == "contains" else (lambda f: get(f).endswith(text))
