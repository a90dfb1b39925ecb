"""The canonical touchpoint, and how a click (landing URL + referrer) becomes one.

Normalisation (attribution.md §9): UTM values are trimmed, whitespace runs collapse to one
space, control characters go, ``""``/``(not set)``/``undefined``/``null`` mean unset, and
values are capped at 500 characters. Source and medium are NFKC-folded and lower-cased (they are
grouping keys; the landing URL keeps the raw spelling); campaign, term and content keep their
case. Click ids are kept verbatim (they are case-sensitive). Without utm_source and utm_medium,
both are inferred by :meth:`ChannelRules.infer_source_medium` (click id, then referrer, else
direct) and the channel comes from the channel rules.

Personal data (reliability.md §6) never reaches a touchpoint: URLs go through
:func:`~closedloop.sync.url_privacy.sanitise_url` and UTM values through
:func:`~closedloop.sync.url_privacy.redact_pii` (the rules are described in that module).
UTMs found in a ``#...?utm_source=`` fragment are still read, though the fragment is dropped.
Those two functions, :class:`TouchpointError` and the parameter lists are re-exported here.

Errors: every parsing failure is a :class:`TouchpointError`, a :class:`ValueError`.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from closedloop.mappings.channels import ChannelRules, default_channel_rules
from closedloop.sync.url_privacy import (
    CLICK_ID_PARAMS,
    INVALID_CHARS,
    MAX_INPUT_LENGTH,
    MAX_URL_LENGTH,
    PII_PARAMS,
    TouchpointError,
    redact_pii,
    sanitise_url,
    split_url,
)

__all__ = [
    "CLICK_ID_PARAMS",
    "MAX_INPUT_LENGTH",
    "MAX_URL_LENGTH",
    "PII_PARAMS",
    "Touchpoint",
    "TouchpointError",
    "make_touchpoint",
    "parse_touchpoint",
    "redact_pii",
    "sanitise_url",
    "touch_key",
]

UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_VALUE_LENGTH = 500
DEFAULT_BUCKET = timedelta(minutes=1)
_UNSET = frozenset({"", "(not set)", "undefined", "null"})
_CLICK_ID_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True, kw_only=True)
class Touchpoint:
    """One marketing interaction (design.md glossary), normalised and free of personal data.

    Build it with :func:`parse_touchpoint` or :func:`make_touchpoint`; the constructor only
    validates. ``origin`` names the producer (``collector``, ``hubspot``, ``salesforce``,
    ``import``); ``external_id`` is that producer's id of the touch, when it has one.
    """

    occurred_at: datetime
    origin: str
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    click_ids: dict[str, str] = field(default_factory=dict, hash=False)
    landing_page: str | None = None
    referrer: str | None = None
    channel: str | None = None
    external_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.occurred_at, datetime) or self.occurred_at.utcoffset() is None:
            raise TouchpointError(f"occurred_at must be timezone-aware, got {self.occurred_at!r}")
        if not isinstance(self.origin, str) or not self.origin.strip():
            raise TouchpointError("origin must name the producer, e.g. 'collector'")
        for name in (f.name for f in fields(self) if f.name not in ("occurred_at", "click_ids")):
            value = getattr(self, name)
            limit = MAX_URL_LENGTH if name in ("landing_page", "referrer") else MAX_VALUE_LENGTH
            if value is not None and (
                not isinstance(value, str) or len(value) > limit or INVALID_CHARS.search(value)
            ):
                raise TouchpointError(f"{name}: not a clean string of at most {limit} characters")
        object.__setattr__(self, "click_ids", dict(sorted(_check_click_ids(self.click_ids))))


def _check_click_ids(click_ids: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    for name, value in click_ids.items():
        if not _CLICK_ID_NAME.fullmatch(name) or not isinstance(value, str):
            raise TouchpointError(f"click id {name!r}: bad name or value")
        if not value or len(value) > MAX_VALUE_LENGTH or INVALID_CHARS.search(value):
            raise TouchpointError(f"click id {name}: empty, too long or has control characters")
        yield name, value


def _clean(value: str | None, *, grouping_key: bool = False) -> str | None:
    """Normalise one UTM value (module docstring); None when it is unset."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TouchpointError(f"UTM values must be strings, got {type(value).__name__}")
    text = INVALID_CHARS.sub(" ", value)
    if grouping_key:
        text = "".join(c for c in unicodedata.normalize("NFKC", text) if c.isprintable())
    text = " ".join(unicodedata.normalize("NFC", text).split())
    text = redact_pii(text)[:MAX_VALUE_LENGTH].strip()
    text = text.lower() if grouping_key else text
    return None if text.lower() in _UNSET else text


def _params(query: str, fragment: str) -> dict[str, str]:
    """UTM and click-id parameters (lower-case names; the first non-empty value wins)."""
    found: dict[str, str] = {}
    tail = fragment.partition("?")[2] or (fragment if "=" in fragment else "")
    for part in (query, tail):
        for name, value in parse_qsl(part, keep_blank_values=True, errors="replace"):
            key = name.strip().lower()
            if (key in UTM_PARAMS or key in CLICK_ID_PARAMS) and value.strip():
                found.setdefault(key, value.strip())
    return found


def make_touchpoint(
    *,
    occurred_at: datetime,
    origin: str,
    utm_source: str | None = None,
    utm_medium: str | None = None,
    utm_campaign: str | None = None,
    utm_term: str | None = None,
    utm_content: str | None = None,
    click_ids: Mapping[str, str] | None = None,
    landing_page: str | None = None,
    referrer: str | None = None,
    external_id: str | None = None,
    rules: ChannelRules | None = None,
) -> Touchpoint:
    """A normalised, PII-free, classified touchpoint from separate fields (CRM, imports).

    Click ids with an unknown name, an empty value, control characters or more than 500
    characters are dropped. A referrer that is not an http(s)/android-app URL is ignored.

    Raises:
        TouchpointError: ``occurred_at`` is naive, ``origin`` is empty, a value is not a string
            or the landing page is not a usable http(s) URL.
    """
    rules = rules or default_channel_rules()
    ids = {k.strip().lower(): v.strip() for k, v in (click_ids or {}).items() if isinstance(v, str)}
    ids = {
        k: v
        for k, v in ids.items()
        if k in CLICK_ID_PARAMS and v and len(v) <= MAX_VALUE_LENGTH and not INVALID_CHARS.search(v)
    }
    page = sanitise_url(landing_page) if landing_page else None
    try:
        ref = sanitise_url(referrer, schemes=("http", "https", "android-app")) if referrer else None
    except TouchpointError:
        ref = None
    source, medium = _clean(utm_source, grouping_key=True), _clean(utm_medium, grouping_key=True)
    if source is None and medium is None:
        source, medium = rules.infer_source_medium(ref, ids, page)
    campaign = _clean(utm_campaign)
    return Touchpoint(
        occurred_at=occurred_at,
        origin=origin.strip() if isinstance(origin, str) else origin,
        utm_source=source,
        utm_medium=medium,
        utm_campaign=campaign,
        utm_term=_clean(utm_term),
        utm_content=_clean(utm_content),
        click_ids=ids,
        landing_page=page,
        referrer=ref,
        channel=rules.channel_for(source, medium, campaign, ids),
        external_id=external_id.strip() or None if isinstance(external_id, str) else external_id,
    )


def parse_touchpoint(
    landing_page: str,
    referrer: str | None = None,
    *,
    occurred_at: datetime,
    origin: str = "collector",
    external_id: str | None = None,
    rules: ChannelRules | None = None,
) -> Touchpoint:
    """Parse a landing-page URL (and its referrer) into a touchpoint.

    UTM parameter names match case-insensitively; for a repeated parameter the first non-empty
    value wins; values in the query win over values in the fragment.

    Raises:
        TouchpointError: see :func:`make_touchpoint`.
    """
    _, _, _, query, fragment = split_url(landing_page, ("http", "https"))
    found = _params(query, fragment)
    utm = {name: found.get(name) for name in UTM_PARAMS}
    ids = {name: found[name] for name in CLICK_ID_PARAMS if name in found}
    return make_touchpoint(
        occurred_at=occurred_at,
        origin=origin,
        click_ids=ids,
        landing_page=landing_page,
        referrer=referrer,
        external_id=external_id,
        rules=rules,
        **utm,
    )


def touch_key(touch: Touchpoint, bucket: timedelta = DEFAULT_BUCKET) -> str:
    """A deterministic dedupe key: sha256 (hex) of the touch's identifying fields.

    Hashed, as compact JSON: the version tag ``touch/v1``; the five UTM values lower-cased;
    the click ids sorted by name (verbatim); the landing page's host and path (no scheme,
    query or trailing slash); the referrer host; and ``occurred_at`` in UTC floored to
    ``bucket`` (Unix seconds). Origin, channel and external id are left out, so the same click
    seen by the collector and by a CRM import gets one key. Two sightings that straddle a
    bucket boundary get different keys.

    Raises:
        ValueError: ``bucket`` is not positive.
    """
    seconds = bucket.total_seconds()
    if seconds <= 0:
        raise ValueError("bucket must be positive")
    stamp = touch.occurred_at.astimezone(UTC).timestamp()
    utm = [
        (v or "").lower()
        for v in (
            touch.utm_source,
            touch.utm_medium,
            touch.utm_campaign,
            touch.utm_term,
            touch.utm_content,
        )
    ]
    payload = [
        "touch/v1",
        utm,
        sorted(touch.click_ids.items()),
        _page_identity(touch.landing_page),
        _page_identity(touch.referrer).partition("/")[0],
        int(stamp // seconds * seconds),
    ]
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _page_identity(url: str | None) -> str:
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:  # a touchpoint built by hand may hold an unparseable URL
        return url.lower()
    return (parts.netloc.lower().removeprefix("www.") + parts.path).rstrip("/")
