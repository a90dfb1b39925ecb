"""Validation and privacy of ``POST /collect`` requests, independent of Flask.

The body is one JSON object (``application/json``, or ``text/plain`` as sent by
``navigator.sendBeacon``)::

    {
      "visitor_id": "3f0c1d...",            required: 8-128 of A-Z a-z 0-9 . _ : -
      "type": "pageview",                   optional: "pageview" (default) or "form"
      "email": "jane@example.com",          optional: identifies the visitor (form submits)
      "consent": true,                      optional: true/false, or {"<signal>": true, ...}
      "touch": {                            required (or "touches": a list of 1-10 of them)
        "url": "https://example.com/?utm_source=google",   required: the landing page
        "referrer": "https://www.google.com/",             optional
        "utm_source": "...", "utm_medium": "...", "utm_campaign": "...",
        "utm_term": "...", "utm_content": "...",           optional: override the URL's
        "gclid": "...", "fbclid": "...", ...               optional: any known click id
        "occurred_at": "2026-03-01T09:00:00Z"              optional: ISO-8601 with offset
      }
    }

Unknown keys are refused. Every problem is reported as a :class:`CollectorProblem` (a JSON
path and a reason); :func:`parse_collect_body` raises :class:`CollectRequestError` carrying
all of them. Touches are built with :func:`~closedloop.sync.touchpoints.parse_touchpoint`, so
personal data is stripped out of URLs and UTM values before anything is kept; the email never
enters the sanitised payload (it is replaced by ``"redacted"``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from closedloop.mappings.channels import ChannelRules
from closedloop.sync.touchpoints import (
    CLICK_ID_PARAMS,
    UTM_PARAMS,
    Touchpoint,
    TouchpointError,
    make_touchpoint,
    parse_touchpoint,
)
from closedloop.webhooks.errors import PayloadError

__all__ = [
    "MAX_BODY_BYTES",
    "CollectRequest",
    "CollectRequestError",
    "CollectorProblem",
    "consent_given",
    "parse_collect_body",
]

MAX_BODY_BYTES = 16_384
MAX_TOUCHES = 10
FUTURE_TOLERANCE = timedelta(hours=1)
MAX_AGE = timedelta(days=400)
KINDS = ("pageview", "form")
_TOP_KEYS = frozenset({"visitor_id", "type", "email", "consent", "touch", "touches"})
_TOUCH_KEYS = frozenset({"url", "referrer", "occurred_at", *UTM_PARAMS, *CLICK_ID_PARAMS})
_VISITOR_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f\ud800-\udfff]{1,64}@[\w.-]{1,252}\.[\w-]{2,63}")
_CONSENT_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True)
class CollectorProblem:
    """One thing wrong with a request: where (a JSON path) and why."""

    field: str
    reason: str

    def as_json(self) -> dict[str, str]:
        """``{"field": ..., "reason": ...}``."""
        return {"field": self.field, "reason": self.reason}


class CollectRequestError(PayloadError):
    """The body cannot be accepted; ``problems`` lists every reason (answer 400)."""

    def __init__(self, problems: list[CollectorProblem]) -> None:
        super().__init__("invalid collector request")
        self.problems = problems


@dataclass(frozen=True)
class CollectRequest:
    """A valid, sanitised collector request.

    Attributes:
        visitor_id: the anonymous first-party visitor id.
        kind: ``pageview`` or ``form``.
        email: the email given with the request (used for identity only; never stored raw).
        consent: the consent value as sent (bool, a mapping of named flags, or None).
        touches: the touches, free of personal data.
    """

    visitor_id: str
    kind: str
    email: str | None
    consent: bool | dict[str, bool] | None
    touches: list[Touchpoint] = field(default_factory=list)

    def sanitised(self) -> dict[str, Any]:
        """The request as it may be kept: no email, URLs and UTMs already PII-free."""
        payload: dict[str, Any] = {"type": self.kind, "visitor_id": self.visitor_id}
        if self.email is not None:
            payload["email"] = "redacted"
        if self.consent is not None:
            payload["consent"] = self.consent
        payload["touches"] = [_touch_json(touch) for touch in self.touches]
        return payload


def consent_given(consent: bool | dict[str, bool] | None, signal: str | None) -> bool:
    """Whether the touch may be kept: no signal configured, or the page said yes to it.

    ``true`` means the page's consent hook agreed to everything; a mapping must hold the
    configured signal as ``true``.
    """
    if signal is None:
        return True
    if isinstance(consent, dict):
        return consent.get(signal) is True
    return consent is True


def parse_collect_body(body: bytes, *, now: datetime, rules: ChannelRules) -> CollectRequest:
    """Validate a request body and build its touches.

    Args:
        body: the raw body (UTF-8 JSON, at most :data:`MAX_BODY_BYTES`).
        now: the server's time: the default ``occurred_at`` and the reference of its window.
        rules: the channel rules that classify the touches.

    Raises:
        CollectRequestError: with every problem found.
    """
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CollectRequestError([CollectorProblem("$", "body is not UTF-8 JSON")]) from None
    if not isinstance(document, dict):
        raise CollectRequestError([CollectorProblem("$", "body must be a JSON object")])
    unknown = sorted(map(_path, document.keys() - _TOP_KEYS))
    problems = [CollectorProblem(key, "unknown field") for key in unknown]
    visitor_id = document.get("visitor_id")
    if not isinstance(visitor_id, str) or not _VISITOR_ID.fullmatch(visitor_id):
        problems.append(CollectorProblem("visitor_id", "required: 8-128 of A-Z a-z 0-9 . _ : -"))
    kind = document.get("type", "pageview")
    if kind not in KINDS:
        problems.append(CollectorProblem("type", "must be 'pageview' or 'form'"))
    email = document.get("email")
    if email is not None and (
        not isinstance(email, str) or len(email) > 320 or not _EMAIL.fullmatch(email.strip())
    ):
        problems.append(CollectorProblem("email", "not an email address"))
    consent = document.get("consent")
    if not _valid_consent(consent):
        problems.append(CollectorProblem("consent", "must be true/false or {name: true/false}"))
    raw_touches = _raw_touches(document, problems)
    touches = []
    for index, raw in enumerate(raw_touches):
        where = "touch" if "touch" in document else f"touches[{index}]"
        touch = _touch(raw, where, now, rules, problems)
        if touch is not None:
            touches.append(touch)
    if problems:
        raise CollectRequestError(sorted(problems, key=lambda p: p.field))
    return CollectRequest(
        visitor_id=str(visitor_id),
        kind=str(kind),
        email=email.strip() if isinstance(email, str) else None,
        consent=consent,
        touches=touches,
    )


def _path(key: object) -> str:
    text = str(key)
    return text if len(text) <= 64 else text[:61] + "..."


def _valid_consent(consent: object) -> bool:
    if consent is None or isinstance(consent, bool):
        return True
    return (
        isinstance(consent, dict)
        and len(consent) <= 20
        and all(
            isinstance(k, str) and _CONSENT_NAME.fullmatch(k) and isinstance(v, bool)
            for k, v in consent.items()
        )
    )


def _raw_touches(document: dict[str, Any], problems: list[CollectorProblem]) -> list[Any]:
    if ("touch" in document) == ("touches" in document):
        problems.append(CollectorProblem("touch", "give exactly one of 'touch' and 'touches'"))
        return []
    if "touch" in document:
        return [document["touch"]]
    touches = document["touches"]
    if not isinstance(touches, list) or not 1 <= len(touches) <= MAX_TOUCHES:
        problems.append(CollectorProblem("touches", f"must be a list of 1-{MAX_TOUCHES} touches"))
        return []
    return touches


def _touch(
    raw: Any, where: str, now: datetime, rules: ChannelRules, problems: list[CollectorProblem]
) -> Touchpoint | None:
    if not isinstance(raw, dict):
        problems.append(CollectorProblem(where, "must be an object"))
        return None
    unknown = sorted(map(_path, raw.keys() - _TOUCH_KEYS))
    found = [CollectorProblem(f"{where}.{key}", "unknown field") for key in unknown]
    for key in sorted(raw.keys() & (_TOUCH_KEYS - {"url"})):
        if raw[key] is not None and not isinstance(raw[key], str):
            found.append(CollectorProblem(f"{where}.{key}", "must be a string"))
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip():
        found.append(CollectorProblem(f"{where}.url", "required: the landing page URL"))
    at = _occurred_at(raw.get("occurred_at"), now, f"{where}.occurred_at", found)
    problems.extend(found)
    if found or at is None or not isinstance(url, str):
        return None
    try:
        base = parse_touchpoint(url, raw.get("referrer") or None, occurred_at=at, rules=rules)
        utm = {name: raw.get(name) for name in UTM_PARAMS}
        ids = {name: raw[name] for name in CLICK_ID_PARAMS if raw.get(name)}
        if not any(utm.values()) and not ids:
            return base
        if not (utm["utm_source"] or utm["utm_medium"]):
            utm["utm_source"], utm["utm_medium"] = base.utm_source, base.utm_medium
        for name in ("utm_campaign", "utm_term", "utm_content"):
            utm[name] = utm[name] or getattr(base, name)
        return make_touchpoint(
            occurred_at=at,
            origin="collector",
            click_ids={**base.click_ids, **ids},
            landing_page=base.landing_page,
            referrer=base.referrer,
            rules=rules,
            **utm,
        )
    except TouchpointError as exc:
        problems.append(CollectorProblem(f"{where}.url", str(exc)[:200]))
        return None


def _occurred_at(
    value: object, now: datetime, where: str, problems: list[CollectorProblem]
) -> datetime | None:
    if value is None:
        return now
    if not isinstance(value, str) or len(value) > 64:
        problems.append(CollectorProblem(where, "must be an ISO-8601 string"))
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        problems.append(CollectorProblem(where, "not an ISO-8601 timestamp"))
        return None
    if at.utcoffset() is None:
        problems.append(CollectorProblem(where, "needs a time zone offset (e.g. Z)"))
        return None
    if at > now + FUTURE_TOLERANCE:
        problems.append(CollectorProblem(where, "is in the future"))
        return None
    if at < now - MAX_AGE:
        problems.append(CollectorProblem(where, "is older than 400 days"))
        return None
    return min(at, now)


def _touch_json(touch: Touchpoint) -> dict[str, Any]:
    return {
        "occurred_at": touch.occurred_at.isoformat(),
        "landing_page": touch.landing_page,
        "referrer": touch.referrer,
        **{name: getattr(touch, name) for name in UTM_PARAMS},
        "click_ids": dict(touch.click_ids),
        "channel": touch.channel,
    }
