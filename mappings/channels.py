"""Channel grouping rules as data: load, validate and classify touches (attribution.md §8).

The shipped default lives in ``closedloop/mappings/data/channels.yaml`` (the grammar is
described at its top). Rules run top-down and the first match wins. Regexes are compiled once,
site-list membership is cached per source value and whole classifications are memoised per
(source, medium, campaign, click ids used by the rules), so repeated values cost a dict lookup.
The condition grammar and the site-list matching live in
:mod:`closedloop.mappings.channel_conditions`; this module loads, merges and runs the rules.

Typical use::

    rules = load_channel_rules()                    # or load_channel_rules(Path("my.yaml"))
    rules.classify(touch)                           # "Paid Search"
    rules.channel_for("newsletter", "email")        # "Email"
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from closedloop.mappings.channel_conditions import (
    MEMO_LIMIT,
    Check,
    Facts,
    InvalidRuleError,
    SiteIndex,
    as_mapping,
    as_pair,
    as_regex,
    as_strings,
    brand,
    compile_condition,
    source_host,
)
from closedloop.runtime.errors import MappingError

if TYPE_CHECKING:
    from closedloop.sync.touchpoints import Touchpoint

__all__ = [
    "ChannelRule",
    "ChannelRules",
    "default_channel_rules",
    "load_channel_rules",
    "source_host",
]

DEFAULT_FILE = "closedloop.mappings/data/channels.yaml"
_TOP_KEYS = frozenset({"version", "extends", "unassigned", "sites", "patterns", "inference"})
_TOP_KEYS |= {"rules"}
_RULE_KEYS = frozenset({"name", "channel", "when"})
_INFERENCE_KEYS = frozenset({"click_ids", "referrer_media", "referral_medium", "direct"})


@dataclass(frozen=True)
class _Inference:
    click_ids: dict[str, tuple[str, str]]
    referrer_media: dict[str, str]
    referral_medium: str
    direct: tuple[str, str]


@dataclass(frozen=True)
class ChannelRule:
    """One compiled rule: ``channel`` when ``check`` holds; ``file``/``index`` locate it."""

    name: str
    channel: str
    file: str
    index: int
    check: Check


class ChannelRules:
    """Compiled channel-grouping rules; build them with :func:`load_channel_rules`.

    Attributes:
        rules: the rules in evaluation order.
        unassigned: the channel of a touch no rule matches.
        sites: site list name -> entries (search, social, video, shopping, ...).
    """

    def __init__(
        self,
        rules: list[ChannelRule],
        unassigned: str,
        sites: Mapping[str, list[str]],
        inference: _Inference,
    ) -> None:
        self.rules = tuple(rules)
        self.unassigned = unassigned
        self.sites = {name: tuple(entries) for name, entries in sites.items()}
        self._index = SiteIndex(sites)
        self._inference = inference
        self._memo: dict[tuple[str, str, str, frozenset[str]], str] = {}

    @property
    def channels(self) -> tuple[str, ...]:
        """Every channel the rules can produce, in rule order, then the unassigned one."""
        return tuple(dict.fromkeys([*(r.channel for r in self.rules), self.unassigned]))

    def site_lists_of(self, source: str) -> frozenset[str]:
        """The site lists (``search``, ``social``...) a source value or host belongs to."""
        return self._index.lists_of(source.strip().lower())

    def infer_source_medium(
        self, referrer: str | None, click_ids: Mapping[str, str], landing_page: str | None = None
    ) -> tuple[str, str]:
        """Source and medium of a touch that carries neither (attribution.md §8).

        A configured click id (gclid -> google / cpc) wins; then an external referrer: a host in
        a ``referrer_media`` site list gets that medium (search -> organic, social -> social),
        any other host ``referral``; with no usable referrer (or one on the landing page's own
        site) the touch is direct. The source is the site's brand for listed sites
        (``www.google.de`` -> ``google``) and the host without ``www.`` otherwise.
        """
        inference = self._inference
        for name, pair in inference.click_ids.items():
            if click_ids.get(name):
                return pair
        host = source_host(referrer) if referrer else None
        if host and host.removeprefix("www.") != _own_host(landing_page):
            source = host.removeprefix("www.")
            lists = self._index.lists_of(source)
            for list_name, medium in inference.referrer_media.items():
                if list_name in lists:
                    site = brand(source)
                    known = list_name in self._index.names.get(site, ())
                    return (site if known else source), medium
            return source, inference.referral_medium
        return inference.direct

    def channel_for(
        self,
        source: str | None,
        medium: str | None,
        campaign: str | None = None,
        click_ids: Collection[str] = (),
    ) -> str:
        """The channel of raw values (matching lower-cases and trims them first)."""
        src = (source or "").strip().lower()
        med = (medium or "").strip().lower()
        cmp = (campaign or "").strip().lower()
        present = frozenset(click_ids)
        key = (src, med, cmp, present)
        channel = self._memo.get(key)
        if channel is None:
            facts = Facts(src, med, cmp, self._index.lists_of(src), present)
            channel = next((r.channel for r in self.rules if r.check(facts)), self.unassigned)
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = channel
        return channel

    def classify(self, touch: Touchpoint) -> str:
        """The channel of one touch; without source and medium they are inferred first."""
        source, medium = touch.utm_source, touch.utm_medium
        if not source and not medium:
            source, medium = self.infer_source_medium(
                touch.referrer, touch.click_ids, touch.landing_page
            )
        present = [name for name, value in touch.click_ids.items() if value]
        return self.channel_for(source, medium, touch.utm_campaign, present)


def _own_host(url: str | None) -> str | None:
    host = source_host(url) if url else None
    return host.removeprefix("www.") if host else None


def _parse(text: str, name: str) -> dict[str, object]:
    """Read one rules file and check its top level."""
    try:
        doc = as_mapping(yaml.safe_load(text), "the file")
    except yaml.YAMLError as exc:
        raise MappingError(f"{name}: not valid YAML: {exc}") from exc
    except InvalidRuleError as exc:
        raise MappingError(f"{name}: {exc}") from exc
    problem = None
    if unknown := sorted(set(doc) - _TOP_KEYS):
        problem = f"unknown top-level keys {unknown} (known: {sorted(_TOP_KEYS)})"
    elif doc.get("version", 1) != 1:
        problem = f"unsupported version {doc['version']!r} (supported: 1)"
    elif doc.get("extends", "default") != "default":
        problem = f"'extends' can only be 'default', not {doc['extends']!r}"
    elif "extends" not in doc and not doc.get("rules"):
        problem = "'rules' is missing or empty (or add 'extends: default')"
    elif not isinstance(doc.get("rules", []), list):
        problem = "'rules' must be a list of rules"
    if problem:
        raise MappingError(f"{name}: {problem}")
    return doc


def _build(docs: list[tuple[str, dict[str, object]]]) -> ChannelRules:
    """Merge ``docs`` (highest priority first) and compile them into rules."""
    sites: dict[str, list[str]] = {}
    patterns: dict[str, re.Pattern[str]] = {}
    inference = _Inference({}, {}, "referral", ("(direct)", "(none)"))
    unassigned = "Unassigned"
    for name, doc in reversed(docs):
        try:
            for list_name, entries in as_mapping(doc.get("sites"), "sites").items():
                sites.setdefault(list_name, []).extend(as_strings(entries, f"sites.{list_name}"))
            for key, regex in as_mapping(doc.get("patterns"), "patterns").items():
                patterns[key] = as_regex(regex, f"patterns.{key}")
            raw = as_mapping(doc.get("inference"), "inference")
            if unknown := sorted(set(raw) - _INFERENCE_KEYS):
                raise InvalidRuleError(f"unknown inference keys {unknown}")
            clicks = as_mapping(raw.get("click_ids"), "inference.click_ids")
            media = as_mapping(raw.get("referrer_media"), "inference.referrer_media")
            if unknown := sorted(set(media) - set(sites)):
                raise InvalidRuleError(f"inference.referrer_media: unknown site lists {unknown}")
            inference = _Inference(
                {**inference.click_ids, **{k.lower(): as_pair(v, k) for k, v in clicks.items()}},
                {**inference.referrer_media, **{k: as_strings(v, k)[0] for k, v in media.items()}},
                as_strings(raw.get("referral_medium", inference.referral_medium), "referral")[0],
                as_pair(raw["direct"], "direct") if "direct" in raw else inference.direct,
            )
            unassigned = doc.get("unassigned", unassigned)  # type: ignore[assignment]
            if not isinstance(unassigned, str) or not unassigned.strip():
                raise InvalidRuleError(f"'unassigned' needs a channel name, got {unassigned!r}")
        except InvalidRuleError as exc:
            raise MappingError(f"{name}: {exc}") from exc
    rules: list[ChannelRule] = []
    for name, doc in docs:
        raw_rules: list[object] = doc.get("rules") or []  # type: ignore[assignment]
        rules += [_rule(raw, name, i, sites, patterns) for i, raw in enumerate(raw_rules, 1)]
    return ChannelRules(rules, unassigned, sites, inference)


def _rule(
    raw: object, file: str, index: int, sites: Collection[str], patterns: dict[str, re.Pattern[str]]
) -> ChannelRule:
    name = raw.get("name") if isinstance(raw, dict) else None
    try:
        rule = as_mapping(raw, "rule")
        channel = rule.get("channel")
        if unknown := sorted(set(rule) - _RULE_KEYS):
            raise InvalidRuleError(f"unknown keys {unknown} (known: {sorted(_RULE_KEYS)})")
        if not isinstance(channel, str) or not channel.strip():
            raise InvalidRuleError("missing channel name (for example 'channel: Paid Search')")
        if "when" not in rule:
            raise InvalidRuleError("missing 'when' condition")
        check = compile_condition(rule["when"], sites, patterns)
    except InvalidRuleError as exc:
        label = f"rule #{index}" + (f" ({name!r})" if name else "")
        raise MappingError(f"{file}: {label}: {exc}") from exc
    return ChannelRule(str(name or channel), channel.strip(), file, index, check)


@cache
def _default_text() -> str:
    return files("closedloop.mappings").joinpath("data/channels.yaml").read_text(encoding="utf-8")


def load_channel_rules(path: Path | None = None) -> ChannelRules:
    """Load channel-grouping rules: the shipped default, or an admin file.

    Args:
        path: an override file. With ``extends: default`` its rules are tried before the
            default ones, its site lists extend the default lists and its patterns and
            inference entries replace those of the same name; without it the file replaces
            the default entirely.

    Returns:
        The compiled rules.

    Raises:
        MappingError: the file is unreadable or invalid; the message names the file, the rule
            (numbered from 1 within its file, with its name) and the reason.
    """
    default = (DEFAULT_FILE, _parse(_default_text(), DEFAULT_FILE))
    if path is None:
        return _build([default])
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}: cannot read the channel rules: {exc}") from exc
    doc = _parse(text, str(path))
    return _build([(str(path), doc), default] if "extends" in doc else [(str(path), doc)])


@cache
def default_channel_rules() -> ChannelRules:
    """The shipped default rules, parsed and compiled once per process."""
    return load_channel_rules()
