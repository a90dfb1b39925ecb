"""HubSpot request signatures, as the webhook sender computes them.

- v1: hex(SHA-256(client_secret + body))
- v2: hex(SHA-256(client_secret + method + uri + body))
- v3: base64(HMAC-SHA256(key=client_secret, msg=method + uri + body + timestamp)), where the
  URI has the documented escapes decoded and the timestamp is epoch milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

V3_DECODED_ESCAPES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
SIGNATURE_VERSIONS = ("v1", "v2", "v3")


def sign_v1(secret: str, body: str) -> str:
    """The v1 signature of a request body."""
    return hashlib.sha256(f"{secret}{body}".encode()).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: str) -> str:
    """The v2 signature of a request."""
    return hashlib.sha256(f"{secret}{method}{uri}{body}".encode()).hexdigest()


def sign_v3(secret: str, method: str, uri: str, body: str, timestamp: str) -> str:
    """The v3 signature of a request (``uri`` already decoded, see :func:`decode_v3_uri`)."""
    digest = hmac.new(
        secret.encode(), f"{method}{uri}{body}{timestamp}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def decode_v3_uri(uri: str) -> str:
    """Decode exactly the escapes HubSpot's v3 rule lists; leave every other escape alone."""
    decoded: list[str] = []
    index = 0
    while index < len(uri):
        escape = uri[index : index + 3].upper()
        if uri[index] == "%" and escape in V3_DECODED_ESCAPES:
            decoded.append(V3_DECODED_ESCAPES[escape])
            index += 3
        else:
            decoded.append(uri[index])
            index += 1
    return "".join(decoded)


def signature_headers(
    version: str, secret: str, method: str, uri: str, body: str, timestamp_ms: int
) -> dict[str, str]:
    """The signature headers of one webhook request.

    ``v3`` sends ``X-HubSpot-Signature-v3`` and ``X-HubSpot-Request-Timestamp`` and, as the
    webhooks API does, the v1 header as well; ``v1`` and ``v2`` send only that version.
    """
    headers: dict[str, str] = {}
    if version == "v3":
        timestamp = str(timestamp_ms)
        headers["X-HubSpot-Signature-v3"] = sign_v3(
            secret, method, decode_v3_uri(uri), body, timestamp
        )
        headers["X-HubSpot-Request-Timestamp"] = timestamp
        version = "v1"
    if version == "v1":
        headers["X-HubSpot-Signature"] = sign_v1(secret, body)
    elif version == "v2":
        headers["X-HubSpot-Signature"] = sign_v2(secret, method, uri, body)
    else:
        raise ValueError(f"unknown signature version {version!r}")
    headers["X-HubSpot-Signature-Version"] = version
    return headers
