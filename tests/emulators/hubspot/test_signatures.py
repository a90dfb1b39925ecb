"""The webhook signer reproduces every vendor vector in the shared fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hubspot.utils.signature import Signature

from closedloop.emulators.hubspot.signatures import (
    decode_v3_uri,
    sign_v1,
    sign_v2,
    sign_v3,
    signature_headers,
)

VECTORS_FILE = Path("/work/shared/fixtures/hubspot_signature_vectors.json")
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_signer_reproduces_vector(vector: dict[str, Any]) -> None:
    secret, body = vector["secret"], vector["body"]
    if vector["version"] == "v1":
        signature = sign_v1(secret, body)
    elif vector["version"] == "v2":
        signature = sign_v2(secret, vector["method"], vector["uri"], body)
    else:
        uri = decode_v3_uri(vector.get("uri_as_received", vector["uri"]))
        assert uri == vector["uri"]
        signature = sign_v3(secret, vector["method"], uri, body, vector["timestamp"])
    assert signature == vector["expected_signature"]


def test_undecoded_uri_gives_the_other_signature() -> None:
    vector = next(v for v in VECTORS if "uri_as_received" in v)
    signature = sign_v3(
        vector["secret"], "POST", vector["uri_as_received"], vector["body"], vector["timestamp"]
    )
    assert signature == vector["signature_over_undecoded_uri"]


def test_headers_agree_with_the_official_client() -> None:
    body = '[{"eventId":1}]'
    uri = "http://127.0.0.1:9/hook?x=1"
    headers = signature_headers("v3", "s3cret", "POST", uri, body, 1_700_000_000_000)
    assert headers["X-HubSpot-Request-Timestamp"] == "1700000000000"
    assert headers["X-HubSpot-Signature-v3"] == Signature.get_signature(
        "s3cret", body, "v3", uri, "POST", "1700000000000"
    )
    assert headers["X-HubSpot-Signature"] == Signature.get_signature("s3cret", body, "v1")
    v2 = signature_headers("v2", "s3cret", "POST", uri, body, 0)
    assert v2["X-HubSpot-Signature-Version"] == "v2"
    assert "X-HubSpot-Signature-v3" not in v2
    with pytest.raises(ValueError, match="unknown signature version"):
        signature_headers("v9", "s3cret", "POST", uri, body, 0)
