"""HubSpot v1/v2/v3, Standard Webhooks and shared-secret verification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import EnvironHeaders, Headers

from closedloop.webhooks.callout_auth import (
    sign_standard_webhook,
    verify_shared_secret,
    verify_standard_webhook,
    verify_token,
)
from closedloop.webhooks.errors import SignatureError
from closedloop.webhooks.signatures import (
    get_header,
    hubspot_v3_uri,
    request_uri,
    sign_hubspot_legacy,
    sign_hubspot_v3,
    verify_hubspot,
    verify_hubspot_legacy,
    verify_hubspot_v3,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "hubspot_signature_vectors.json").read_text("utf-8")
)
BY_VERSION = {
    version: [v for v in VECTORS["vectors"] if v["version"] == version]
    for version in ("v1", "v2", "v3")
}
SECRET = "my-client-secret"
URI = "https://example.com/hubspot/webhook?x=1"
BODY = b'[{"eventId":1,"subscriptionType":"contact.creation"}]'
NOW_MS = 1_700_000_000_000


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [v["id"] for v in vectors]


def v3_headers(signature: str, timestamp: int | str = NOW_MS) -> dict[str, str]:
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(timestamp)}


def signed_v3(timestamp: int = NOW_MS, secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    return v3_headers(sign_hubspot_v3(secret, "POST", URI, body, str(timestamp)), timestamp)


def test_fixture_covers_every_version() -> None:
    assert {v: len(items) for v, items in BY_VERSION.items()} == {"v1": 3, "v2": 3, "v3": 4}
    assert VECTORS["v3_max_age_seconds"] * 1000 == 300_000


@pytest.mark.parametrize("vector", BY_VERSION["v3"], ids=_ids(BY_VERSION["v3"]))
def test_v3_vectors_sign(vector: dict[str, Any]) -> None:
    body = vector["body"].encode("utf-8")
    signed = sign_hubspot_v3(
        vector["secret"], vector["method"], vector["uri"], body, vector["timestamp"]
    )
    assert signed == vector["expected_signature"]
    assert (
        vector["string_to_sign"]
        == f"{vector['method']}{vector['uri']}{vector['body']}" + (vector["timestamp"])
    )


@pytest.mark.parametrize("vector", BY_VERSION["v3"], ids=_ids(BY_VERSION["v3"]))
def test_v3_vectors_verify_with_injected_clock(vector: dict[str, Any]) -> None:
    headers = v3_headers(vector["expected_signature"], vector["timestamp"])
    uri = vector.get("uri_as_received", vector["uri"])
    now = int(vector["timestamp"])
    body = vector["body"].encode("utf-8")
    verify_hubspot_v3(headers, body, method="POST", uri=uri, secrets=vector["secret"], now_ms=now)
    with pytest.raises(SignatureError, match="too old"):
        verify_hubspot_v3(
            headers, body, method="POST", uri=uri, secrets=vector["secret"], now_ms=now + 300_001
        )


def test_v3_uri_decoding_vector() -> None:
    (vector,) = [v for v in VECTORS["vectors"] if v["id"] == "v3-uri-decoding-derived"]
    assert hubspot_v3_uri(vector["uri_as_received"]) == vector["uri"]
    undecoded = v3_headers(vector["signature_over_undecoded_uri"], vector["timestamp"])
    with pytest.raises(SignatureError, match="does not match"):
        verify_hubspot_v3(
            undecoded,
            vector["body"].encode(),
            method="POST",
            uri=vector["uri_as_received"],
            secrets=vector["secret"],
            now_ms=int(vector["timestamp"]),
        )


def test_v3_decodes_exactly_the_documented_escapes_once() -> None:
    table = VECTORS["v3_uri_decoding"]
    encoded = "https://h/p?" + "".join(table)
    assert hubspot_v3_uri(encoded) == "https://h/p?" + "".join(table.values())
    assert hubspot_v3_uri("https://h/%253A%3D%3a%20%2f") == "https://h/%253A%3D%3a%20%2f"


LEGACY = BY_VERSION["v1"] + BY_VERSION["v2"]


@pytest.mark.parametrize("vector", LEGACY, ids=_ids(LEGACY))
def test_legacy_vectors(vector: dict[str, Any]) -> None:
    body = vector["body"].encode("utf-8")
    method, uri = vector["method"] or "", vector["uri"] or ""
    assert sign_hubspot_legacy(vector["secret"], body, method, uri) == vector["expected_signature"]
    headers = {
        "X-HubSpot-Signature": vector["expected_signature"].upper(),
        "X-HubSpot-Signature-Version": vector["version"],
    }
    kwargs: dict[str, Any] = {"method": vector["method"] or "POST", "secrets": [vector["secret"]]}
    kwargs["uri"] = vector["uri"] or "https://ignored.example/"
    verify_hubspot_legacy(headers, body, allow_legacy=True, **kwargs)
    with pytest.raises(SignatureError, match="replayed; they are refused unless allow_legacy"):
        verify_hubspot_legacy(headers, body, **kwargs)
    with pytest.raises(SignatureError, match="does not match"):
        verify_hubspot_legacy(headers, body + b" ", allow_legacy=True, **kwargs)


def test_v3_window_is_symmetric_and_inclusive() -> None:
    for skew in (-300_000, 0, 300_000):
        verify_hubspot_v3(
            signed_v3(NOW_MS + skew), BODY, method="post", uri=URI, secrets=SECRET, now_ms=NOW_MS
        )
    with pytest.raises(SignatureError, match="too old"):
        verify_hubspot_v3(
            signed_v3(NOW_MS - 300_001), BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS
        )
    with pytest.raises(SignatureError, match="in the future"):
        verify_hubspot_v3(
            signed_v3(NOW_MS + 300_001), BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS
        )


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing X-HubSpot-Signature-v3"),
        ({"X-HubSpot-Signature-v3": "x"}, "missing X-HubSpot-Request-Timestamp"),
        (v3_headers("x", "1700000000000.0"), "malformed"),
        (v3_headers("x", " 1700000000000"), "malformed"),
        (v3_headers("x", "١٧٠٠٠٠٠٠٠٠٠٠٠"), "malformed"),  # noqa: RUF001 - non-ASCII digits
        (v3_headers("x", "-5"), "malformed"),
        (v3_headers("é"), "does not match"),
        (v3_headers(""), "does not match"),
    ],
)
def test_v3_refusals(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_hubspot_v3(headers, BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS)


@pytest.mark.parametrize(("now", "window"), [("1", 300_000), (True, 300_000), (NOW_MS, "300")])
def test_clock_arguments_must_be_integers(now: Any, window: Any) -> None:
    with pytest.raises(SignatureError, match="must be integers"):
        verify_hubspot_v3(
            signed_v3(),
            BODY,
            method="POST",
            uri=URI,
            secrets=SECRET,
            now_ms=now,
            max_skew_ms=window,
        )


def test_v3_rotation_accepts_any_listed_secret() -> None:
    headers = signed_v3(secret="old-secret")
    verify_hubspot_v3(
        headers, BODY, method="POST", uri=URI, secrets=["new-secret", "old-secret"], now_ms=NOW_MS
    )
    with pytest.raises(SignatureError, match="does not match"):
        verify_hubspot_v3(
            headers, BODY, method="POST", uri=URI, secrets=["new-secret"], now_ms=NOW_MS
        )


@pytest.mark.parametrize("secrets", [[], "", [""], ["ok", 3], None, b"bytes", ["a\nb"]])
def test_unusable_secrets_fail_closed(secrets: Any) -> None:
    with pytest.raises(SignatureError, match="secret"):
        verify_hubspot_v3(signed_v3(), BODY, method="POST", uri=URI, secrets=secrets, now_ms=NOW_MS)


def test_a_str_secret_is_never_split_into_characters() -> None:
    forged = v3_headers(sign_hubspot_v3("m", "POST", URI, BODY, str(NOW_MS)))
    with pytest.raises(SignatureError, match="does not match"):
        verify_hubspot_v3(forged, BODY, method="POST", uri=URI, secrets="my", now_ms=NOW_MS)


def test_reasons_never_leak_the_secret_or_expected_signature() -> None:
    expected = sign_hubspot_v3(SECRET, "POST", URI, BODY, str(NOW_MS))
    with pytest.raises(SignatureError) as caught:
        verify_hubspot_v3(
            v3_headers("AAAA"), BODY + b"x", method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS
        )
    text = f"{caught.value!s} {caught.value!r} {caught.value.reason}"
    assert SECRET not in text
    assert expected not in text
    assert "AAAA" not in text


def test_headers_are_case_insensitive_in_dicts_and_werkzeug() -> None:
    lowered = {k.lower(): v for k, v in signed_v3().items()}
    verify_hubspot_v3(lowered, BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS)
    verify_hubspot_v3(
        Headers(signed_v3()), BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS
    )
    environ = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signed_v3().items()}
    assert get_header(EnvironHeaders(environ), "x-hubspot-signature-V3") is not None


def test_request_uri_uses_configured_base() -> None:
    assert request_uri("https://h.example/", "/hubspot?x=%3A") == "https://h.example/hubspot?x=%3A"
    assert request_uri("https://h.example/mount", "/w") == "https://h.example/mount/w"
    bad = [("ftp://h", "/"), ("https://h?q", "/"), ("https://h", "w"), ("https://h", "/a b")]
    for base, target in bad:
        with pytest.raises(SignatureError, match="unusable"):
            request_uri(base, target)


def test_dispatcher_prefers_v3_and_refuses_bare_legacy() -> None:
    both = {**signed_v3(), "X-HubSpot-Signature": "0" * 64, "X-HubSpot-Signature-Version": "v1"}
    verify_hubspot(both, BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS)
    legacy = {"X-HubSpot-Signature": sign_hubspot_legacy(SECRET, BODY)}
    legacy["X-HubSpot-Signature-Version"] = "v1"
    with pytest.raises(SignatureError, match="allow_legacy"):
        verify_hubspot(legacy, BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS)
    verify_hubspot(
        legacy, BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS, allow_legacy=True
    )
    with pytest.raises(SignatureError, match="missing HubSpot signature"):
        verify_hubspot({}, BODY, method="POST", uri=URI, secrets=SECRET, now_ms=NOW_MS)


# Standard Webhooks: the example published with the specification's reference libraries.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID, SW_TS, SW_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def sw_headers(signature: str = SW_SIGNATURE, timestamp: int = SW_TS) -> dict[str, str]:
    return {
        "webhook-id": SW_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_standard_webhooks_published_example() -> None:
    assert sign_standard_webhook(SW_SECRET, SW_ID, SW_TS, SW_BODY) == SW_SIGNATURE
    verify_standard_webhook(sw_headers(), SW_BODY, secrets=[SW_SECRET], now_s=SW_TS)


def test_standard_webhooks_rotation_and_signature_lists() -> None:
    new = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="
    other = sign_standard_webhook(new, SW_ID, SW_TS, SW_BODY)
    listed = sw_headers(f"v1a,ignored {other} v1,bm90LWl0 {SW_SIGNATURE}")
    verify_standard_webhook(listed, SW_BODY, secrets=[new], now_s=SW_TS)
    verify_standard_webhook(listed, SW_BODY, secrets=[new, SW_SECRET], now_s=SW_TS)
    verify_standard_webhook(sw_headers(), SW_BODY, secrets=[new, SW_SECRET], now_s=SW_TS)
    with pytest.raises(SignatureError, match="does not match"):
        verify_standard_webhook(sw_headers(), SW_BODY, secrets=[new], now_s=SW_TS)


@pytest.mark.parametrize(
    ("headers", "secrets", "now", "reason"),
    [
        (sw_headers(), [SW_SECRET], SW_TS + 301, "too old"),
        (sw_headers(), [SW_SECRET], SW_TS - 301, "in the future"),
        (sw_headers("v2,abc"), [SW_SECRET], SW_TS, "no v1 entry"),
        ({**sw_headers(), "webhook-id": ""}, [SW_SECRET], SW_TS, "webhook-id"),
        ({"webhook-id": SW_ID, "webhook-timestamp": str(SW_TS)}, [SW_SECRET], SW_TS, "missing"),
        (sw_headers(), ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], SW_TS, "whsec_"),
        (sw_headers(), ["whsec_not base64!"], SW_TS, "whsec_"),
        (sw_headers(), ["whsec_"], SW_TS, "whsec_"),
    ],
)
def test_standard_webhooks_refusals(headers: Any, secrets: Any, now: int, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        verify_standard_webhook(headers, SW_BODY, secrets=secrets, now_s=now)
    for skew in (-300, 300):
        verify_standard_webhook(sw_headers(), SW_BODY, secrets=[SW_SECRET], now_s=SW_TS + skew)


def test_shared_secret_header_for_flow_callouts() -> None:
    headers = {"x-closedloop-token": "s3cret-value"}
    verify_shared_secret(headers, b"{}", secrets=["rotated", "s3cret-value"])
    verify_shared_secret({"Auth": "k"}, b"", secrets="k", header_name="Auth")
    with pytest.raises(SignatureError, match="does not match"):
        verify_shared_secret(headers, b"{}", secrets="s3cret-valuE")
    with pytest.raises(SignatureError, match="missing"):
        verify_shared_secret({}, b"{}", secrets="s3cret-value")
    with pytest.raises(SignatureError, match="body must be bytes"):
        verify_shared_secret(headers, "{}", secrets="s3cret-value")  # type: ignore[arg-type]
    with pytest.raises(SignatureError, match="does not match"):
        verify_token("\ud800", secrets="?")
