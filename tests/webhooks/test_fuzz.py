"""Property tests: hostile input reaches every verify/parse function and only our errors escape."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import defusedxml.ElementTree
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from closedloop.webhooks.callout_auth import (
    sign_standard_webhook,
    verify_shared_secret,
    verify_standard_webhook,
    verify_token,
)
from closedloop.webhooks.errors import PayloadError, SignatureError
from closedloop.webhooks.hubspot_events import parse_hubspot_batch
from closedloop.webhooks.outbound_messages import (
    fault_envelope,
    org_ids_match,
    parse_outbound_message,
    verify_organization_id,
)
from closedloop.webhooks.signatures import (
    hubspot_v3_uri,
    request_uri,
    sign_hubspot_v3,
    verify_hubspot,
    verify_hubspot_legacy,
    verify_hubspot_v3,
)

FUZZ = settings(max_examples=150, deadline=None, database=None)
MESSAGE = (Path(__file__).parent / "data" / "salesforce_outbound_message.xml").read_bytes()
HEADER_NAMES = [
    "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "X-HubSpot-Signature",
    "X-HubSpot-Signature-Version", "webhook-id", "webhook-timestamp", "webhook-signature",
    "X-ClosedLoop-Token",
]  # fmt: skip


def only(error: type[Exception], call: Callable[[], object]) -> Exception | None:
    """Run ``call``: ``None`` on success, the exception if it is an ``error``; others propagate."""
    try:
        call()
    except error as caught:
        return caught
    return None


odd_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), odd_text, st.binary(max_size=40)
)
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
)
header_values = st.one_of(
    odd_text,
    st.integers(min_value=0, max_value=10**16).map(str),
    st.sampled_from(["v1", "v2"]),
    scalars,
)
headers = st.one_of(
    st.dictionaries(st.sampled_from(HEADER_NAMES) | odd_text, header_values, max_size=6), anything
)
bodies = st.one_of(
    st.binary(max_size=300), odd_text.map(lambda t: t.encode("utf-8", "surrogatepass")), anything
)
secret_lists = st.one_of(odd_text, st.lists(odd_text, max_size=3), anything)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=6),
)


@FUZZ
@given(headers, bodies, anything, odd_text | anything, secret_lists, anything, anything)
def test_hubspot_verifiers_raise_only_signature_error(
    hdrs: Any, body: Any, method: Any, uri: Any, secrets: Any, now: Any, legacy: Any
) -> None:
    for call in (
        lambda: verify_hubspot_v3(hdrs, body, method=method, uri=uri, secrets=secrets, now_ms=now),
        lambda: verify_hubspot_legacy(
            hdrs, body, method=method, uri=uri, secrets=secrets, allow_legacy=legacy
        ),
        lambda: verify_hubspot(
            hdrs, body, method="POST", uri=uri, secrets=secrets, now_ms=now, allow_legacy=True
        ),
        lambda: request_uri(method, uri),
        lambda: hubspot_v3_uri(uri),
    ):
        only(SignatureError, call)


@FUZZ
@given(headers, bodies, secret_lists, anything, odd_text | anything)
def test_other_verifiers_raise_only_signature_error(
    hdrs: Any, body: Any, secrets: Any, now: Any, name: Any
) -> None:
    for call in (
        lambda: verify_standard_webhook(hdrs, body, secrets=secrets, now_s=now),
        lambda: verify_standard_webhook(hdrs, body, secrets=["whsec_AAAA"], now_s=1),
        lambda: verify_shared_secret(hdrs, body, secrets=secrets, header_name=name),
        lambda: verify_token(name, secrets=secrets),
    ):
        only(SignatureError, call)


@FUZZ
@given(st.binary(max_size=400), odd_text, st.text(min_size=1, max_size=30), st.integers(0, 10**13))
def test_v3_round_trip_and_tamper(body: bytes, path: str, secret: str, now: int) -> None:
    uri = request_uri("https://hooks.example", "/h?" + path.encode("utf-8", "surrogatepass").hex())
    sig = sign_hubspot_v3(secret, "POST", hubspot_v3_uri(uri), body, str(now))
    hdrs = {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": str(now)}
    if not secret.isprintable():
        return
    verify_hubspot_v3(hdrs, body, method="POST", uri=uri, secrets=secret, now_ms=now)
    with pytest.raises(SignatureError, match=r"^signature does not match$"):
        verify_hubspot_v3(hdrs, body + b"!", method="POST", uri=uri, secrets=secret, now_ms=now)


@FUZZ
@given(st.binary(max_size=400), st.binary(min_size=1, max_size=64), st.integers(0, 10**11))
def test_standard_webhooks_round_trip(body: bytes, key: bytes, now: int) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    hdrs = {"webhook-id": "msg_1", "webhook-timestamp": str(now)}
    hdrs["webhook-signature"] = sign_standard_webhook(secret, "msg_1", now, body)
    verify_standard_webhook(hdrs, body, secrets=["whsec_AAAA", secret], now_s=now)


@FUZZ
@given(st.one_of(bodies, json_values.map(lambda v: json.dumps(v).encode())))
def test_hubspot_batch_raises_only_payload_error(body: Any) -> None:
    try:
        batch = parse_hubspot_batch(body)
    except PayloadError:
        return
    assert len(batch.events) + len(batch.rejections) <= 100


@FUZZ
@given(st.lists(json_values, max_size=20), st.integers(0, 20))
def test_garbage_never_displaces_a_good_event(garbage: list[Any], slot: int) -> None:
    good = {"eventId": 1, "subscriptionId": 2, "portalId": 3, "occurredAt": 4, "objectId": 5,
            "subscriptionType": "contact.creation"}  # fmt: skip
    items = [*garbage]
    items.insert(min(slot, len(items)), good)
    batch = parse_hubspot_batch(json.dumps(items).encode())
    assert len(batch.events) + len(batch.rejections) == len(items)
    assert min(slot, len(garbage)) in {event.index for event in batch.events}


@FUZZ
@given(st.data())
def test_mutated_soap_raises_only_payload_error(data: st.DataObject) -> None:
    body = bytearray(MESSAGE)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(body)))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip" and at < len(body):
            body[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del body[at : at + data.draw(st.integers(1, 200))]
        else:
            body[at:at] = data.draw(
                st.sampled_from([b"<", b"&amp;", b"<!DOCTYPE x>", b"\xff", b"&x;"])
            )
    try:
        message = parse_outbound_message(bytes(body))
    except PayloadError:
        return
    only(SignatureError, lambda: verify_organization_id(message, expected="00D000000000001AAA"))


@FUZZ
@given(bodies)
def test_random_xml_bodies_raise_only_payload_error(body: Any) -> None:
    only(PayloadError, lambda: parse_outbound_message(body))


@FUZZ
@given(anything | odd_text, anything | odd_text, anything)
def test_org_id_helpers_are_total(first: Any, second: Any, expected: Any) -> None:
    assert org_ids_match(first, second) is org_ids_match(second, first)
    only(SignatureError, lambda: verify_organization_id(first, expected=expected))


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(odd_text | anything)
def test_fault_envelope_always_parses(reason: Any) -> None:
    root = defusedxml.ElementTree.fromstring(fault_envelope(reason))
    assert root.findtext(".//faultstring") is not None or reason in ("", None)


def test_huge_bodies() -> None:
    huge = b"[" + b'{"a":"' + b"x" * 8_000_000 + b'"}]'
    stale = {"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": "1"}
    with pytest.raises(SignatureError, match="does not match"):
        verify_hubspot_v3(stale, huge, method="POST", uri="https://h/", secrets="s", now_ms=1)
    for parse in (parse_hubspot_batch, parse_outbound_message):
        with pytest.raises(PayloadError, match="too large"):
            parse(huge)
    deep = b"<a>" * 50_000 + b"</a>" * 50_000
    for body in (huge, deep):
        with pytest.raises(PayloadError, match=r"XML|Envelope"):
            parse_outbound_message(body, max_bytes=len(body))
    batch = parse_hubspot_batch(huge, max_bytes=len(huge))
    assert [r.reason for r in batch.rejections] == ["subscriptionType is missing or malformed"]
