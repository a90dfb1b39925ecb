"""Authentication of Salesforce callouts: Standard Webhooks (Apex) and shared secrets (Flow).

Apex callouts sign per the Standard Webhooks scheme: ``webhook-id``, ``webhook-timestamp`` and a
space-separated ``webhook-signature`` list of ``v1,<base64>`` HMAC-SHA256 signatures over
``{id}.{timestamp}.{body}``. Any of several ``whsec_`` secrets may match, so a secret can be
rotated with an overlap. Flow HTTP callouts cannot compute an HMAC, so they carry a per-source
shared secret in a header (over TLS; mutual TLS is the stronger option). Like
:mod:`closedloop.webhooks.signatures`, every ``verify_*`` function raises
:class:`~closedloop.webhooks.errors.SignatureError` and compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from closedloop.webhooks.errors import SignatureError
from closedloop.webhooks.signatures import HeaderSource, _epoch, _keys, _matches, _raw, get_header

__all__ = [
    "FLOW_AUTH_HEADER",
    "STANDARD_WEBHOOKS_TOLERANCE_S",
    "sign_standard_webhook",
    "verify_shared_secret",
    "verify_standard_webhook",
    "verify_token",
]

STANDARD_WEBHOOKS_TOLERANCE_S = 300
FLOW_AUTH_HEADER = "X-ClosedLoop-Token"


def _whsec_keys(secrets: str | Sequence[str]) -> list[bytes]:
    keys = []
    for secret in _keys(secrets):
        if not secret.startswith(b"whsec_"):
            raise SignatureError("secret is not a whsec_ value")
        try:
            key = base64.b64decode(secret[6:], validate=True)
        except binascii.Error:
            raise SignatureError("secret is not a whsec_ value") from None
        if not key:
            raise SignatureError("secret is not a whsec_ value")
        keys.append(key)
    return keys


def sign_standard_webhook(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of ``{msg_id}.{timestamp_s}.{body}`` with a ``whsec_`` secret.

    Raises:
        SignatureError: ``secret`` is not a valid ``whsec_`` value.
    """
    content = f"{msg_id}.{timestamp_s}.".encode() + bytes(body)
    digest = hmac.new(_whsec_keys(secret)[0], content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_standard_webhook(
    headers: HeaderSource,
    body: bytes,
    *,
    secrets: str | Sequence[str],
    now_s: int,
    tolerance_s: int = STANDARD_WEBHOOKS_TOLERANCE_S,
) -> None:
    """Check a Standard Webhooks request; any ``v1`` signature by any secret in ``secrets`` passes.

    Raises:
        SignatureError: a missing or malformed header, ``webhook-timestamp`` (unix seconds) more
            than ``tolerance_s`` from ``now_s`` either way, or no matching signature.
    """
    raw, keys = _raw(body), _whsec_keys(secrets)
    msg_id = get_header(headers, "webhook-id")
    if not msg_id or len(msg_id) > 256 or not (msg_id.isascii() and msg_id.isprintable()):
        raise SignatureError("missing or malformed webhook-id header")
    stamp = _epoch(
        get_header(headers, "webhook-timestamp"), "webhook-timestamp", now_s, tolerance_s
    )
    header = get_header(headers, "webhook-signature")
    if header is None:
        raise SignatureError("missing webhook-signature header")
    offered = [
        sig for version, _, sig in (e.partition(",") for e in header.split()) if version == "v1"
    ]
    if not offered:
        raise SignatureError("no v1 entry in webhook-signature")
    content = f"{msg_id}.{stamp}.".encode("ascii") + raw
    expected = [base64.b64encode(hmac.new(k, content, hashlib.sha256).digest()) for k in keys]
    if not any(_matches(sig, expected) for sig in offered):
        raise SignatureError("signature does not match")


def verify_token(presented: str | None, *, secrets: str | Sequence[str]) -> None:
    """Check a bearer-style shared secret (a header value or a URL query token).

    Both sides are hashed first, so the comparison leaks neither content nor length.

    Raises:
        SignatureError: ``presented`` is missing or equals none of ``secrets``.
    """
    keys = _keys(secrets)
    if not isinstance(presented, str) or not presented:
        raise SignatureError("missing shared secret")
    given = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
    if not any(hmac.compare_digest(given, hashlib.sha256(k).digest()) for k in keys):
        raise SignatureError("shared secret does not match")


def verify_shared_secret(
    headers: HeaderSource,
    body: bytes,
    *,
    secrets: str | Sequence[str],
    header_name: str = FLOW_AUTH_HEADER,
) -> None:
    """Check the shared-secret header a Salesforce Flow callout's Named Credential adds.

    ``body`` is taken for the common call shape only: the secret does not cover the body, so a
    Flow callout has no integrity protection beyond TLS.

    Raises:
        SignatureError: the header is missing or matches none of ``secrets``.
    """
    _raw(body)
    if not isinstance(header_name, str) or not header_name:
        raise SignatureError("unusable header name")
    verify_token(get_header(headers, header_name), secrets=secrets)
