"""Property tests: hostile bodies and headers at every endpoint, over HTTP, never get a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webhook_support import (
    DATA,
    FLOW_TOKEN,
    Listener,
    ListenerFactory,
    hubspot_event,
    hubspot_headers,
    standard_headers,
)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_BODY = 4096
MESSAGE = (DATA / "salesforce_outbound_message.xml").read_bytes()

ODD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Z", "C"]),
    max_size=60,
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    ODD_TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(ODD_TEXT, inner, max_size=5),
    max_leaves=20,
)
HUBSPOT_KEYS = [*hubspot_event(0), "fromObjectId", "mergedObjectIds", "objectTypeId"]
MUTATED_EVENTS = st.lists(
    st.builds(
        lambda base, changes: {**base, **changes},
        st.integers(0, 50).map(hubspot_event),
        st.dictionaries(st.sampled_from(HUBSPOT_KEYS), JSON_VALUES, max_size=3),
    ),
    max_size=8,
)
SF_EVENTS = st.lists(
    st.dictionaries(
        st.sampled_from(
            ["object", "id", "event_id", "change_type", "changed_fields", "occurred_at"]
        ),
        JSON_VALUES | st.sampled_from(["Lead", "00Q000000000001AAA", "2026-01-05T10:00:00Z"]),
    ),
    max_size=5,
).map(lambda events: {"events": events})


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


XML_ATTACKS = st.sampled_from(
    [
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "bbbbbbbbbb"><!ENTITY c "&b;&b;&b;&b;">]>'
        b"<a>&c;&c;&c;</a>",
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
        b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1:1/evil.dtd"><a/>',
        b'<?xml version="1.0" encoding="UTF-16"?><a/>',
        b"<a>" * 5000,
        MESSAGE.replace(b"Opportunity", b"Opp\xc3\xbcrtunity"),
        MESSAGE.replace(b"00D000000000001AAA", b"00D000000000001\x00AA"),
    ]
)
BODIES = st.one_of(
    st.binary(max_size=MAX_BODY + 200),
    JSON_VALUES.map(_dumps),
    MUTATED_EVENTS.map(_dumps),
    SF_EVENTS.map(_dumps),
    XML_ATTACKS,
    st.binary(min_size=MAX_BODY + 1, max_size=MAX_BODY + 2000),
    st.tuples(st.integers(0, len(MESSAGE)), st.binary(max_size=30)).map(
        lambda cut: MESSAGE[: cut[0]] + cut[1] + MESSAGE[cut[0] :]
    ),
)
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


@pytest.fixture
def hook(listener: ListenerFactory) -> Listener:
    return listener(max_body_bytes=MAX_BODY, record_deals=True)


def _send(hook: Listener, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    answer = requests.request(method, hook.url + path, data=body, headers=headers, timeout=30)
    return answer.status_code


@FUZZ
@given(
    body=BODIES,
    signed=st.booleans(),
    noise=st.dictionaries(
        st.sampled_from(
            [
                "X-HubSpot-Signature-v3",
                "X-HubSpot-Request-Timestamp",
                "X-HubSpot-Signature",
                "X-HubSpot-Signature-Version",
                "Content-Type",
            ]
        ),
        HEADER_VALUES,
        max_size=3,
    ),
)
def test_hubspot_endpoint(hook: Listener, body: bytes, signed: bool, noise: dict[str, str]) -> None:
    url = hook.url + "/webhooks/hubspot"
    headers = hubspot_headers(url, body) if signed else noise
    assert _send(hook, "POST", "/webhooks/hubspot", body, headers) < 500


@FUZZ
@given(body=BODIES, content_type=st.sampled_from(["text/xml", "application/json", "", "x/y"]))
def test_outbound_message_endpoint(hook: Listener, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    status = _send(hook, "POST", "/webhooks/salesforce/outbound-message", body, headers)
    assert status < 500


@FUZZ
@given(
    body=BODIES,
    auth=st.sampled_from(["apex", "flow", "none", "noise"]),
    noise=st.dictionaries(
        st.sampled_from(
            ["webhook-id", "webhook-timestamp", "webhook-signature", "X-ClosedLoop-Token"]
        ),
        HEADER_VALUES,
        max_size=3,
    ),
)
def test_salesforce_events_endpoint(
    hook: Listener, body: bytes, auth: str, noise: dict[str, str]
) -> None:
    headers = {
        "apex": lambda: standard_headers(body),
        "flow": lambda: {"X-ClosedLoop-Token": FLOW_TOKEN},
        "none": dict,
        "noise": lambda: noise,
    }[auth]()
    assert _send(hook, "POST", "/webhooks/salesforce/events", body, headers) < 500


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"]),
    path=st.sampled_from(
        [
            "/healthz",
            "/readyz",
            "/metrics",
            "/webhooks/hubspot",
            "/webhooks/salesforce/events",
            "/webhooks/salesforce/outbound-message",
            "/",
            "/%00",
            "/webhooks/%ff",
            "/metrics?x=%zz",
        ]
    ),
    body=st.binary(max_size=300),
)
def test_every_route_and_method(hook: Listener, method: str, path: str, body: bytes) -> None:
    assert _send(hook, method, path, body, {}) < 500
