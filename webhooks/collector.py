"""The first-party touchpoint collector: ``POST``/``OPTIONS /collect`` and ``GET /collect.js``.

Register :func:`collector_blueprint` on the service's Flask app. A ``POST /collect`` goes
through these steps, in order, and stops at the first that answers:

1. **CORS**: a request with an ``Origin`` not in ``collector.allowed_origins`` gets 403. An
   allowed origin is echoed in ``Access-Control-Allow-Origin`` (always with ``Vary: Origin``).
   Requests without ``Origin`` (server-to-server posts) are not browser requests and pass.
2. **Rate limit**: a token bucket per client network (the address truncated to /24 or /48),
   ``collector.rate_limit_per_minute`` tokens a minute; an empty bucket answers 429 with
   ``Retry-After``.
3. **Size**: bodies above 16 KiB answer 413.
4. **Bots** (a missing or obvious bot user agent) and **Global Privacy Control**
   (``Sec-GPC: 1`` when ``collector.honour_gpc``) answer 204 and nothing is read or stored.
5. **Validation**: any problem answers 400 with ``{"error", "problems": [{"field", "reason"}]}``
   (see :mod:`closedloop.webhooks.collector_requests` for the body).
6. **Consent**: with ``collector.consent_signal`` set, a request whose consent does not say yes
   to it answers 204 and is not stored.
7. **Store**: the person is resolved, touches reach the ledger (origin ``collector``) and the
   sanitised payload is kept when retention is on; 202 ``{"accepted": n}`` is sent only after
   the commit. A store failure answers 503 with ``Retry-After``, never 500.

The client address is read from ``request.remote_addr``; behind a reverse proxy, apply
werkzeug's ``ProxyFix`` in the app so it is the visitor's address.
"""

from __future__ import annotations

import hashlib
import json
import logging
from importlib.resources import files

from flask import Blueprint, Response, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from closedloop.config.schema import CollectorSettings, Settings
from closedloop.mappings.channels import ChannelRules, default_channel_rules
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.webhooks.client_checks import is_bot, normalise_origin, truncate_ip
from closedloop.webhooks.collector_requests import (
    MAX_BODY_BYTES,
    CollectRequestError,
    consent_given,
    parse_collect_body,
)
from closedloop.webhooks.collector_store import CollectorSink
from closedloop.webhooks.rate_limit import TokenBucketLimiter

__all__ = ["collector_blueprint", "collector_script"]

log = logging.getLogger("closedloop.webhooks.collector")
SCRIPT_CACHE_SECONDS = 3600
_SETTINGS_PLACEHOLDER = "__CLOSEDLOOP_SETTINGS__"


def collector_script(collector: CollectorSettings) -> str:
    """The browser script with this deployment's cookie lifetime and GPC policy filled in."""
    source = files("closedloop.webhooks").joinpath("collect.js").read_text(encoding="utf-8")
    options = {"cookieDays": collector.cookie_days, "honourGpc": collector.honour_gpc}
    return source.replace(_SETTINGS_PLACEHOLDER, json.dumps(options, separators=(",", ":")))


def _json(payload: object, status: int, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json", headers=headers or {})


class _Collector:
    """The state behind the routes (settings, limiter, sink), one per blueprint."""

    def __init__(self, settings: Settings, store: Engine, clock: Clock) -> None:
        self.settings = settings.collector
        self.clock = clock
        allowed = (normalise_origin(o) for o in self.settings.allowed_origins)
        self.allowed_origins = frozenset(o for o in allowed if o)
        self.limiter = TokenBucketLimiter(self.settings.rate_limit_per_minute, clock)
        self.sink = CollectorSink(store, self.settings.raw_retention_days, clock)
        self.rules: ChannelRules = default_channel_rules()
        self.script = collector_script(self.settings).encode("utf-8")
        self.script_etag = '"' + hashlib.sha256(self.script).hexdigest()[:32] + '"'

    def cors_headers(self) -> tuple[dict[str, str], bool]:
        """The CORS headers of this request and whether its origin (if any) is allowed."""
        headers = {"Vary": "Origin"}
        origin = request.headers.get("Origin")
        if origin is None:
            return headers, True
        normal = normalise_origin(origin)
        if normal is None or normal not in self.allowed_origins:
            return headers, False
        headers["Access-Control-Allow-Origin"] = origin.strip()
        return headers, True

    def preflight(self) -> Response:
        headers, allowed = self.cors_headers()
        if not allowed or "Access-Control-Allow-Origin" not in headers:
            return _json({"error": "origin not allowed"}, 403, headers)
        headers |= {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        }
        return Response(status=204, headers=headers)

    def collect(self) -> Response:
        headers, allowed = self.cors_headers()
        if not allowed:
            return _json({"error": "origin not allowed"}, 403, headers)
        network = truncate_ip(request.remote_addr)
        wait = self.limiter.take(network or "unknown")
        if wait is not None:
            headers["Retry-After"] = str(wait)
            return _json({"error": "rate limit exceeded", "retry_after": wait}, 429, headers)
        body = self._body()
        if body is None:
            return _json({"error": f"body larger than {MAX_BODY_BYTES} bytes"}, 413, headers)
        if is_bot(request.headers.get("User-Agent")):
            return Response(status=204, headers=headers)
        if self.settings.honour_gpc and request.headers.get("Sec-GPC", "").strip() == "1":
            return Response(status=204, headers=headers)
        if not self._json_content_type():
            reason = "Content-Type must be application/json or text/plain"
            return _json({"error": reason}, 415, headers)
        try:
            parsed = parse_collect_body(body, now=self.clock.now(), rules=self.rules)
        except CollectRequestError as exc:
            problems = [p.as_json() for p in exc.problems]
            return _json({"error": "invalid request", "problems": problems}, 400, headers)
        if not consent_given(parsed.consent, self.settings.consent_signal):
            return Response(status=204, headers=headers)
        try:
            self.sink.record(parsed, network)
        except SQLAlchemyError as exc:
            log.error("collector store unavailable: %s", type(exc).__name__)
            headers["Retry-After"] = "30"
            return _json({"error": "store unavailable, retry later"}, 503, headers)
        return _json({"accepted": len(parsed.touches)}, 202, headers)

    def serve_script(self) -> Response:
        headers = {
            "Cache-Control": f"public, max-age={SCRIPT_CACHE_SECONDS}",
            "ETag": self.script_etag,
            "X-Content-Type-Options": "nosniff",
        }
        if self.script_etag in request.headers.get("If-None-Match", ""):
            return Response(status=304, headers=headers)
        return Response(self.script, mimetype="text/javascript", headers=headers)

    @staticmethod
    def _body() -> bytes | None:
        length = request.content_length
        if length is not None and length > MAX_BODY_BYTES:
            return None
        body = request.stream.read(MAX_BODY_BYTES + 1)
        return None if len(body) > MAX_BODY_BYTES else body

    @staticmethod
    def _json_content_type() -> bool:
        mimetype = request.mimetype
        return mimetype in ("application/json", "text/plain", "")


def collector_blueprint(
    settings: Settings, store: Engine, *, clock: Clock = SYSTEM_CLOCK
) -> Blueprint:
    """The collector's routes, to register on the service app.

    Args:
        settings: closedloop's settings (``collector.*`` is used).
        store: the state store, already migrated.
        clock: the time source (rate limits, ``occurred_at`` defaults, retention).

    Returns:
        A blueprint with ``POST``/``OPTIONS /collect`` and ``GET /collect.js``; when
        ``collector.enabled`` is false, the routes answer 404.
    """
    blueprint = Blueprint("collector", __name__)
    if not settings.collector.enabled:
        return blueprint
    collector = _Collector(settings, store, clock)
    blueprint.add_url_rule(
        "/collect", "collect", collector.collect, methods=["POST"], provide_automatic_options=False
    )
    blueprint.add_url_rule(
        "/collect",
        "collect_preflight",
        collector.preflight,
        methods=["OPTIONS"],
        provide_automatic_options=False,
    )
    blueprint.add_url_rule("/collect.js", "script", collector.serve_script, methods=["GET"])
    return blueprint
