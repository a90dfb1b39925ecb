"""Authentication: OAuth 2.0 token endpoint, SOAP ``login()`` and session checks.

* ``POST /services/oauth2/token`` with ``grant_type=client_credentials`` (client id and secret
  in HTTP Basic or the form body) or the JWT bearer grant (RS256 assertion verified against a
  registered certificate or public key, plus iss/sub/aud/exp checks on the emulator clock).
  Neither returns a refresh token. The username-password grant is refused unless enabled,
  as in orgs created since Summer '23.
* ``POST /services/Soap/u/XX.X``: the partner ``login()`` simple-salesforce's
  username/password mode sends.

Sessions expire after ``session_timeout`` seconds of inactivity on the emulator clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

import jwt
from defusedxml import ElementTree
from flask import Request

from closedloop.emulators.clock import EmulatorClock

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    """An OAuth failure answered as ``{"error", "error_description"}`` with HTTP 400."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class _Session:
    user_id: str
    last_used: float


@dataclass
class AuthSettings:
    """Credentials the emulated org accepts."""

    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str
    session_timeout: float = 7200.0
    password_flow: bool = False
    jwt_keys: dict[str, str] = field(default_factory=dict)


class Sessions:
    """Issued access tokens and their inactivity expiry on the emulator clock."""

    def __init__(self, clock: EmulatorClock, settings: AuthSettings) -> None:
        self._clock = clock
        self.settings = settings
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    def issue(self, org_id: str, user_id: str) -> str:
        """A new access token for ``user_id`` (``<org id>!<random>``, as Salesforce shapes it)."""
        token = f"{org_id[:15]}!{secrets.token_urlsafe(72)}"
        with self._lock:
            self._sessions[token] = _Session(user_id, self._clock.timestamp())
        return token

    def check(self, token: str) -> str | None:
        """The user id of a live session (its inactivity timer restarts), or None."""
        now = self._clock.timestamp()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if now - session.last_used > self.settings.session_timeout:
                del self._sessions[token]
                return None
            session.last_used = now
            return session.user_id

    def revoke_all(self) -> None:
        """Forget every session."""
        with self._lock:
            self._sessions.clear()


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` (or ``OAuth …``) header."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and token.strip():
        return token.strip()
    return None


def client_credentials(request: Request) -> tuple[str, str]:
    """Client id and secret from HTTP Basic, else from the form body."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "invalid client credentials") from exc
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return request.form.get("client_id", ""), request.form.get("client_secret", "")


def verify_client(settings: AuthSettings, client_id: str, secret: str) -> None:
    """Raise unless the connected app's consumer key and secret match.

    Raises:
        OAuthError: ``invalid_client_id`` or ``invalid_client``.
    """
    if not hmac.compare_digest(client_id, settings.client_id):
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if not hmac.compare_digest(secret, settings.client_secret):
        raise OAuthError("invalid_client", "invalid client credentials")


def verify_jwt(settings: AuthSettings, assertion: str, now: float, instance_url: str) -> str:
    """Check a JWT bearer assertion and return its subject (the username).

    The signature is verified with the public key or certificate registered for the issuer
    (``POST /__emulator__/jwt-keys``); ``exp`` is compared with the emulator clock.

    Raises:
        OAuthError: ``invalid_client_id``, ``invalid_grant`` with Salesforce's descriptions.
    """
    try:
        claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", "invalid assertion") from exc
    issuer = str(claims.get("iss", ""))
    if issuer != settings.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    key = settings.jwt_keys.get(issuer)
    if key is None:
        raise OAuthError("invalid_grant", "invalid assertion: no certificate registered")
    try:
        jwt.decode(
            assertion,
            _public_key(key),
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", "invalid assertion") from exc
    audiences = claims.get("aud")
    allowed = (*JWT_AUDIENCES, instance_url.rstrip("/"))
    aud_list = audiences if isinstance(audiences, list) else [audiences]
    if not any(str(a).rstrip("/") in allowed for a in aud_list):
        raise OAuthError("invalid_grant", "audience is invalid")
    try:
        expires = float(claims["exp"])
    except (KeyError, TypeError, ValueError) as exc:
        raise OAuthError("invalid_grant", "invalid assertion") from exc
    if expires <= now:
        raise OAuthError("invalid_grant", "expired authorization code")
    if str(claims.get("sub", "")).lower() != settings.username.lower():
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return str(claims["sub"])


def _public_key(pem: str) -> Any:
    """A public key from a PEM public key or an X.509 certificate."""
    if "BEGIN CERTIFICATE" in pem:
        from cryptography import x509  # noqa: PLC0415  (only for certificate uploads)

        return x509.load_pem_x509_certificate(pem.encode()).public_key()
    return pem


def token_signature(secret: str, identity_url: str, issued_at: str) -> str:
    """The ``signature`` of a token response: HMAC-SHA256 of id + issued_at with the secret."""
    digest = hmac.new(secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def soap_credentials(body: bytes) -> tuple[str, str, str | None]:
    """Username, password and optional LoginScopeHeader organization id of a SOAP login.

    Raises:
        ValueError: when the body is not a SOAP login request.
    """
    root = ElementTree.fromstring(body)
    found: dict[str, str] = {}
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1]
        if local in ("username", "password", "organizationId"):
            found[local] = element.text or ""
    if "username" not in found or "password" not in found:
        raise ValueError("not a login request")
    return found["username"], found["password"], found.get("organizationId")
