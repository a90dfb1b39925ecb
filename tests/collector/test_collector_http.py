"""POST/OPTIONS /collect and GET /collect.js over real HTTP: validation, CORS, limits, drops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, func, select

from closedloop.runtime.clock import ManualClock
from closedloop.store.schema import collector_payloads, touchpoints
from closedloop.webhooks.rate_limit import TokenBucketLimiter

ORIGIN = "https://www.example.com"
LANDING = "https://www.example.com/pricing?utm_source=google&utm_medium=cpc"


def body(**extra: Any) -> dict[str, Any]:
    return {"visitor_id": "visitor-0001", "touch": {"url": LANDING}} | extra


def stored(store: Engine) -> tuple[int, int]:
    with store.connect() as conn:
        touches = conn.execute(select(func.count()).select_from(touchpoints)).scalar_one()
        payloads = conn.execute(select(func.count()).select_from(collector_payloads)).scalar_one()
    return touches, payloads


@pytest.fixture
def collector(serve: Callable[..., Any], sqlite_store: Engine) -> Any:
    return serve(sqlite_store)


def test_a_valid_touch_is_accepted_after_the_commit(collector: Any) -> None:
    answer = collector.post(body())
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 1}
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert answer.headers["Vary"] == "Origin"
    assert stored(collector.store) == (1, 1)


def test_send_beacon_text_plain_bodies_are_accepted(collector: Any) -> None:
    headers = {"Content-Type": "text/plain;charset=UTF-8"}
    assert collector.post(body(), headers=headers).status_code == 202


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"touch": {"url": LANDING}}, "visitor_id", "required"),
        (body(visitor_id="short"), "visitor_id", "8-128"),
        (body(type="purchase"), "type", "pageview"),
        (body(email="not-an-email"), "email", "not an email"),
        (body(consent="yes"), "consent", "true/false"),
        (body(extra=1), "extra", "unknown field"),
        ({"visitor_id": "visitor-0001"}, "touch", "exactly one"),
        ({"visitor_id": "visitor-0001", "touches": []}, "touches", "list of 1-10"),
        ({"visitor_id": "visitor-0001", "touch": {}}, "touch.url", "required"),
        ({"visitor_id": "visitor-0001", "touch": {"url": "ftp://x.org/"}}, "touch.url", "scheme"),
        (body(touch={"url": LANDING, "utm_source": 5}), "touch.utm_source", "string"),
        (body(touch={"url": LANDING, "occurred_at": "yesterday"}), "touch.occurred_at", "ISO"),
        (
            body(touch={"url": LANDING, "occurred_at": "2026-03-01T09:00"}),
            "touch.occurred_at",
            "offset",
        ),
        (
            body(touch={"url": LANDING, "occurred_at": "2027-01-01T00:00Z"}),
            "touch.occurred_at",
            "future",
        ),
        ([1, 2], "$", "JSON object"),
    ],
)
def test_each_problem_is_a_400_with_its_field_and_reason(
    collector: Any, payload: Any, field: str, reason: str
) -> None:
    answer = collector.post(payload)
    assert answer.status_code == 400
    problems = answer.json()["problems"]
    assert any(p["field"] == field and reason in p["reason"] for p in problems), problems
    assert stored(collector.store) == (0, 0)


def test_every_problem_of_a_request_is_reported_at_once(collector: Any) -> None:
    answer = collector.post({"visitor_id": 7, "type": "x", "touch": {"url": 3, "gclid": []}})
    fields = {p["field"] for p in answer.json()["problems"]}
    assert fields == {"visitor_id", "type", "touch.url", "touch.gclid"}


def test_bodies_that_are_not_json_or_too_large(collector: Any) -> None:
    assert collector.post(None, raw=b"\xff\xfe{").status_code == 400
    assert collector.post(None, raw=b"{" * 5000).status_code == 400
    assert collector.post(None, raw=b" " * 20_000).status_code == 413
    xml = {"Content-Type": "application/xml"}
    assert collector.post(body(), headers=xml).status_code == 415


def test_cors_allows_listed_origins_and_refuses_others(collector: Any) -> None:
    other = collector.post(body(), headers={"Origin": "https://evil.example.net"})
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other.headers
    assert other.headers["Vary"] == "Origin"
    same = collector.post(body(), headers={"Origin": "HTTPS://WWW.EXAMPLE.COM:443"})
    assert same.status_code == 202
    server_side = requests.post(
        f"{collector.url}/collect",
        json=body(),
        headers={"User-Agent": "Mozilla/5.0 (server relay)"},
        timeout=10,
    )
    assert server_side.status_code == 202
    assert "Access-Control-Allow-Origin" not in server_side.headers


def test_preflight(collector: Any) -> None:
    def preflight(origin: str) -> requests.Response:
        headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
        return requests.options(f"{collector.url}/collect", headers=headers, timeout=10)

    allowed = preflight(ORIGIN)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert allowed.headers["Access-Control-Allow-Headers"] == "Content-Type"
    refused = preflight("https://evil.example.net")
    assert refused.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_rate_limit_per_client_network_with_retry_after(
    serve: Callable[..., Any], sqlite_store: Engine
) -> None:
    collector = serve(sqlite_store, rate_limit_per_minute=3)
    assert [collector.post(body()).status_code for _ in range(3)] == [202, 202, 202]
    limited = collector.post(body())
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "20"
    assert limited.headers["Access-Control-Allow-Origin"] == ORIGIN
    collector.clock.advance(20)
    assert collector.post(body()).status_code == 202
    assert collector.post(body()).status_code == 429


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Mozilla/5.0 (compatible; AhrefsSiteAudit/6.1; +http://ahrefs.com/robot/) crawler",
        "",
    ],
)
def test_bots_are_answered_204_and_not_stored(collector: Any, agent: str) -> None:
    answer = collector.post(body(), headers={"User-Agent": agent})
    assert answer.status_code == 204
    assert stored(collector.store) == (0, 0)


def test_global_privacy_control_drops_the_touch(
    serve: Callable[..., Any], sqlite_store: Engine
) -> None:
    honoured = serve(sqlite_store)
    assert honoured.post(body(), headers={"Sec-GPC": "1"}).status_code == 204
    assert stored(sqlite_store) == (0, 0)
    ignored = serve(sqlite_store, honour_gpc=False)
    assert ignored.post(body(), headers={"Sec-GPC": "1"}).status_code == 202
    assert stored(sqlite_store)[0] == 1


def test_a_configured_consent_signal_must_be_true(
    serve: Callable[..., Any], sqlite_store: Engine
) -> None:
    collector = serve(sqlite_store, consent_signal="analytics")
    assert collector.post(body()).status_code == 204
    assert collector.post(body(consent=False)).status_code == 204
    assert collector.post(body(consent={"analytics": False, "ads": True})).status_code == 204
    assert stored(sqlite_store) == (0, 0)
    assert collector.post(body(consent={"analytics": True})).status_code == 202
    assert collector.post(body(visitor_id="visitor-0002", consent=True)).status_code == 202
    assert stored(sqlite_store)[0] == 2


def test_the_script_is_served_with_settings_and_caching(
    serve: Callable[..., Any], sqlite_store: Engine
) -> None:
    collector = serve(sqlite_store, cookie_days=30, honour_gpc=False)
    answer = requests.get(f"{collector.url}/collect.js", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert answer.headers["Cache-Control"] == "public, max-age=3600"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert '{"cookieDays":30,"honourGpc":false}' in answer.text
    assert "__CLOSEDLOOP_SETTINGS__" not in answer.text
    again = requests.get(
        f"{collector.url}/collect.js",
        headers={"If-None-Match": answer.headers["ETag"]},
        timeout=10,
    )
    assert again.status_code == 304


def test_a_disabled_collector_has_no_routes(
    serve: Callable[..., Any], sqlite_store: Engine
) -> None:
    collector = serve(sqlite_store, enabled=False)
    assert collector.post(body()).status_code == 404
    assert requests.get(f"{collector.url}/collect.js", timeout=10).status_code == 404


def test_the_limiter_keeps_a_bounded_number_of_buckets() -> None:
    clock = ManualClock()
    limiter = TokenBucketLimiter(1, clock, max_keys=2)
    assert [limiter.take(key) for key in ("a", "b", "a")] == [None, None, 60]
    assert limiter.take("c") is None  # evicts "b", the least recently used
    assert len(limiter) == 2
    assert limiter.take("b") is None  # a dropped bucket comes back full
    clock.advance(30)
    assert limiter.take("b") == 30
