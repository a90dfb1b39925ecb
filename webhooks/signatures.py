"""Request authentication for inbound webhooks: plain functions of (headers, body, secrets, now).

HubSpot v3 (use this) is base64 HMAC-SHA256 keyed with the app client secret over
``METHOD + URI + body + X-HubSpot-Request-Timestamp``; the timestamp must lie within +-300 s of
now (future ones are refused too, unlike the SDK helper). HubSpot v1 / v2 (hex SHA-256 of
``secret + body`` / ``secret + METHOD + URI + body``) carry no timestamp and can be replayed
forever, so they pass only with ``allow_legacy=True``. Salesforce callouts (Standard Webhooks
and Flow shared secrets) are checked in :mod:`closedloop.webhooks.callout_auth`, on the same
helpers.

Every ``verify_*`` function takes the raw body bytes as received, returns ``None`` on success
and raises :class:`~closedloop.webhooks.errors.SignatureError` for anything else, wrong
argument types included; comparisons use :func:`hmac.compare_digest`. ``secrets`` is one
secret or a list of them (a ``str`` is never split into characters; empty secrets are
refused). Headers are looked up case-insensitively in anything with ``get`` (a ``dict`` or
Flask's ``request.headers``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Protocol

from closedloop.webhooks.errors import SignatureError

__all__ = [
    "HUBSPOT_MAX_SKEW_MS",
    "HeaderSource",
    "get_header",
    "hubspot_v3_uri",
    "request_uri",
    "sign_hubspot_legacy",
    "sign_hubspot_v3",
    "verify_hubspot",
    "verify_hubspot_legacy",
    "verify_hubspot_v3",
]

HUBSPOT_MAX_SKEW_MS = 300_000

# HubSpot decodes exactly these escapes (upper-case, as documented) before signing a v3 URI;
# every other escape (%3D, %C3%BC, %25, lower-case %3a) is signed as received. One pass only,
# so "%253A" stays "%253A".
_HUBSPOT_V3_DECODE = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip
_HUBSPOT_V3_ESCAPE = re.compile("|".join(re.escape(k) for k in _HUBSPOT_V3_DECODE))
_EPOCH_DIGITS = re.compile(r"[0-9]{1,15}")
_METHOD = re.compile(r"[A-Z]{1,16}")
# Printable ASCII without space or "#" (the base URL also without "?").
_URI = re.compile(r"https?://[!-\"$-~]+")
_BASE_URL = re.compile(r"https?://[!-\"$->@-~]+")
_TARGET = re.compile(r"/[!-\"$-~]*")


class HeaderSource(Protocol):
    """Anything with a ``get(name)`` returning the header value or ``None``."""

    def get(self, key: str, /) -> str | None:
        """The value of header ``key``, or ``None``."""


def get_header(headers: HeaderSource, name: str) -> str | None:
    """Look ``name`` up case-insensitively in ``headers``.

    Raises:
        SignatureError: ``headers`` is not a mapping, or the value is not a string.
    """
    if not callable(getattr(headers, "get", None)) or isinstance(headers, (str, bytes)):
        raise SignatureError("headers must be a mapping")
    value: object = headers.get(name)
    items = getattr(headers, "items", None)
    if value is None and callable(items):
        wanted = name.lower()
        value = next((v for k, v in items() if isinstance(k, str) and k.lower() == wanted), None)
    if value is not None and not isinstance(value, str):
        raise SignatureError(f"header {name} is not text")
    return value


def _keys(secrets: str | Sequence[str]) -> list[bytes]:
    items = [secrets] if isinstance(secrets, str) else secrets
    if not isinstance(items, (list, tuple)) or not items:
        raise SignatureError("no secret configured")
    if not all(isinstance(s, str) and s and s.isprintable() for s in items):
        raise SignatureError("unusable secret configured")
    return [s.encode("utf-8") for s in items]


def _raw(body: bytes) -> bytes:
    if not isinstance(body, (bytes, bytearray)):
        raise SignatureError("body must be bytes")
    return bytes(body)


def _epoch(value: str | None, header: str, now: object, window: object) -> str:
    if not isinstance(now, int) or not isinstance(window, int) or isinstance(now, bool):
        raise SignatureError("current time and replay window must be integers")
    if value is None:
        raise SignatureError(f"missing {header} header")
    if not _EPOCH_DIGITS.fullmatch(value):
        raise SignatureError(f"malformed {header} header")
    if int(value) < now - window:
        raise SignatureError("timestamp too old (replay window)")
    if int(value) > now + window:
        raise SignatureError("timestamp in the future (replay window)")
    return value


def _method(method: object) -> str:
    if not isinstance(method, str) or not _METHOD.fullmatch(method.upper()):
        raise SignatureError("unusable HTTP method")
    return method.upper()


def request_uri(public_base_url: str, request_target: str) -> str:
    """The URI the sender called: the configured public base URL plus the raw request target.

    Args:
        public_base_url: scheme, host and any mount prefix the sender calls, as configured
            (``https://hooks.example.com`` or ``https://example.com/closedloop``), never taken
            from the request's ``Host`` header.
        request_target: the path and query exactly as received, undecoded and in original order
            (``/hubspot/webhook?x=1``; WSGI ``RAW_URI`` or ``REQUEST_URI``).

    Raises:
        SignatureError: either part is not a usable, printable-ASCII URL piece.
    """
    if not isinstance(public_base_url, str) or not _BASE_URL.fullmatch(public_base_url):
        raise SignatureError("unusable public base URL")
    if not isinstance(request_target, str) or not _TARGET.fullmatch(request_target):
        raise SignatureError("unusable request target")
    return public_base_url.rstrip("/") + request_target


def _uri(uri: object) -> str:
    if not isinstance(uri, str) or not _URI.fullmatch(uri):
        raise SignatureError("unusable request URI")
    return uri


def _matches(presented: str, candidates: list[bytes]) -> bool:
    if not presented.isascii():
        return False
    given = presented.encode("ascii")
    return any(hmac.compare_digest(given, expected) for expected in candidates)


def hubspot_v3_uri(uri: str) -> str:
    """Decode the twelve escapes HubSpot decodes in a v3 URI before signing; keep the rest.

    Raises:
        SignatureError: ``uri`` is not a printable-ASCII http(s) URI.
    """
    return _HUBSPOT_V3_ESCAPE.sub(lambda match: _HUBSPOT_V3_DECODE[match.group(0)], _uri(uri))


def sign_hubspot_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Base64 HMAC-SHA256 of ``method + uri + body + timestamp`` (``uri`` already decoded)."""
    message = f"{method}{uri}".encode() + bytes(body) + timestamp.encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def sign_hubspot_legacy(secret: str, body: bytes, method: str = "", uri: str = "") -> str:
    """Hex SHA-256 of ``secret + method + uri + body``; v1 leaves ``method`` and ``uri`` empty."""
    return hashlib.sha256(f"{secret}{method}{uri}".encode() + bytes(body)).hexdigest()


def verify_hubspot_v3(
    headers: HeaderSource,
    body: bytes,
    *,
    method: str,
    uri: str,
    secrets: str | Sequence[str],
    now_ms: int,
    max_skew_ms: int = HUBSPOT_MAX_SKEW_MS,
) -> None:
    """Check ``X-HubSpot-Signature-v3`` and ``X-HubSpot-Request-Timestamp`` (epoch ms).

    Raises:
        SignatureError: missing or malformed headers, a timestamp more than ``max_skew_ms``
            away from ``now_ms`` in either direction, or no secret producing the signature.
    """
    raw, verb, keys = _raw(body), _method(method), _keys(secrets)
    signature = get_header(headers, "X-HubSpot-Signature-v3")
    if signature is None:
        raise SignatureError("missing X-HubSpot-Signature-v3 header")
    stamp = _epoch(
        get_header(headers, "X-HubSpot-Request-Timestamp"),
        "X-HubSpot-Request-Timestamp",
        now_ms,
        max_skew_ms,
    )
    uri = hubspot_v3_uri(uri)
    message = f"{verb}{uri}".encode("ascii") + raw + stamp.encode("ascii")
    expected = [base64.b64encode(hmac.new(k, message, hashlib.sha256).digest()) for k in keys]
    if not _matches(signature, expected):
        raise SignatureError("signature does not match")


def verify_hubspot_legacy(
    headers: HeaderSource,
    body: bytes,
    *,
    method: str,
    uri: str,
    secrets: str | Sequence[str],
    allow_legacy: bool = False,
) -> None:
    """Check a v1 or v2 ``X-HubSpot-Signature``, as ``X-HubSpot-Signature-Version`` says.

    v1 hashes ``secret + body``; v2 hashes ``secret + METHOD + URI + body`` with the URI exactly
    as called (no decoding). Neither carries a timestamp, so both are refused by default.

    Raises:
        SignatureError: ``allow_legacy`` is not true, the version is neither v1 nor v2, or the
            signature is missing or wrong.
    """
    version = get_header(headers, "X-HubSpot-Signature-Version")
    if allow_legacy is not True:
        raise SignatureError(
            "HubSpot v1/v2 signatures carry no timestamp and can be replayed; "
            "they are refused unless allow_legacy=True"
        )
    raw, keys = _raw(body), _keys(secrets)
    if version not in ("v1", "v2"):
        raise SignatureError("X-HubSpot-Signature-Version is neither v1 nor v2")
    prefix = f"{_method(method)}{_uri(uri)}".encode("ascii") if version == "v2" else b""
    signature = get_header(headers, "X-HubSpot-Signature")
    if signature is None:
        raise SignatureError("missing X-HubSpot-Signature header")
    expected = [hashlib.sha256(k + prefix + raw).hexdigest().encode("ascii") for k in keys]
    if not _matches(signature.lower(), expected):
        raise SignatureError("signature does not match")


def verify_hubspot(
    headers: HeaderSource,
    body: bytes,
    *,
    method: str,
    uri: str,
    secrets: str | Sequence[str],
    now_ms: int,
    allow_legacy: bool = False,
) -> None:
    """Verify a HubSpot request: v3 when its header is present, else v1/v2 if allowed.

    Raises:
        SignatureError: as :func:`verify_hubspot_v3` or :func:`verify_hubspot_legacy` does.
    """
    if get_header(headers, "X-HubSpot-Signature-v3") is not None:
        verify_hubspot_v3(headers, body, method=method, uri=uri, secrets=secrets, now_ms=now_ms)
    elif get_header(headers, "X-HubSpot-Signature") is not None:
        verify_hubspot_legacy(
            headers, body, method=method, uri=uri, secrets=secrets, allow_legacy=allow_legacy
        )
    else:
        raise SignatureError("missing HubSpot signature headers")
