"""Hostile input at /collect over real HTTP: malformed JSON, wrong types, odd unicode, huge bodies.

Whatever arrives, the answer is never a 5xx, and every 4xx carries a JSON reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ORIGIN = "https://www.example.com"

odd_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)
touch_keys = st.sampled_from(
    ["url", "referrer", "occurred_at", "utm_source", "utm_campaign", "gclid", "fbclid", "x"]
)
top_keys = st.sampled_from(["visitor_id", "type", "email", "consent", "touch", "touches", "y"])


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    """A valid body with some keys replaced by arbitrary JSON values."""
    body: dict[str, Any] = {
        "visitor_id": "visitor-0001",
        "type": "form",
        "email": "jane@example.com",
        "touch": {"url": "https://www.example.com/?utm_source=google&utm_medium=cpc"},
    }
    for key in draw(st.lists(touch_keys, max_size=3)):
        body["touch"][key] = draw(json_values | odd_text)
    for key in draw(st.lists(top_keys, max_size=2)):
        body[key] = draw(json_values)
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@pytest.fixture
def collect_url(serve: Callable[..., Any], sqlite_store: Engine) -> str:
    collector = serve(sqlite_store, rate_limit_per_minute=1_000_000, consent_signal=None)
    return f"{collector.url}/collect"


def check(url: str, data: bytes, content_type: str = "application/json") -> None:
    headers = {"Origin": ORIGIN, "User-Agent": BROWSER, "Content-Type": content_type}
    answer = requests.post(url, data=data, headers=headers, timeout=30)
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    if answer.status_code >= 400:
        assert "error" in answer.json()


@FUZZ
@given(body=mutated_bodies())
def test_mutated_bodies_never_cause_a_5xx(collect_url: str, body: bytes) -> None:
    check(collect_url, body)


@FUZZ
@given(
    data=st.binary(max_size=20_000),
    content_type=st.sampled_from(["application/json", "text/plain", "", "text/plain; x=\u00e9"]),
)
@example(data=b"[" * 10_000, content_type="application/json")
@example(data=b'{"visitor_id": "' + b"a" * 2_000_000 + b'"}', content_type="text/plain")
@example(data=b'{"visitor_id":"\\ud800\\udfff"}', content_type="text/plain")
def test_arbitrary_bytes_never_cause_a_5xx(
    collect_url: str, data: bytes, content_type: str
) -> None:
    check(collect_url, data, content_type)
