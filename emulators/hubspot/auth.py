"""Access tokens: private-app static tokens and OAuth (authorization code and refresh token).

OAuth access tokens expire after 30 minutes of emulator time; a private-app token never
expires. A token's ``scopes`` of ``None`` grants every scope.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.hubspot.errors import HubSpotApiError, new_correlation_id

ACCESS_TOKEN_TTL_SECONDS = 1800
AUTH_CODE_TTL_SECONDS = 600
CREDENTIALS_NOT_FOUND = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


@dataclass
class AccessToken:
    """A token the emulator accepts, and what it may do."""

    token: str
    app_id: int
    kind: str
    scopes: frozenset[str] | None
    expires_ms: int | None = None

    @property
    def is_oauth(self) -> bool:
        """Whether this is an OAuth access token (no daily limit, 110 per 10 s)."""
        return self.kind == "oauth"


@dataclass
class Grant:
    """An authorization code or refresh token and the scopes it carries."""

    scopes: frozenset[str]
    redirect_uri: str
    expires_ms: int | None = None


class OAuthError(Exception):
    """A token-endpoint failure, answered as HubSpot's ``{"status": "BAD_..."}`` body."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.body = {"status": status, "message": message, "correlationId": new_correlation_id()}


class TokenRegistry:
    """Every token, code and refresh token of the portal, behind one lock."""

    def __init__(
        self,
        clock: EmulatorClock,
        *,
        token: str,
        scopes: Iterable[str] | None,
        app_id: int,
        client_id: str,
        client_secret: str,
        seed: int,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._seed = seed
        self._default = (token, None if scopes is None else frozenset(scopes), app_id)
        self.app_id = app_id
        self.client_id = client_id
        self.client_secret = client_secret
        self._rng = random.Random(seed)
        self._tokens: dict[str, AccessToken] = {}
        self._codes: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every token but the factory's private-app token."""
        with self._lock:
            self._rng = random.Random(self._seed)
            token, scopes, app_id = self._default
            self._tokens = {token: AccessToken(token, app_id, "private", scopes)}
            self._codes, self._refresh = {}, {}

    def register_private(
        self, token: str, scopes: Iterable[str] | None, app_id: int
    ) -> AccessToken:
        """Add or replace a private-app token."""
        with self._lock:
            entry = AccessToken(
                token, app_id, "private", None if scopes is None else frozenset(scopes)
            )
            self._tokens[token] = entry
            return entry

    def describe(self) -> list[dict[str, Any]]:
        """Every token with its kind, app, scopes and expiry (admin view)."""
        with self._lock:
            return [
                {
                    "token": t.token,
                    "kind": t.kind,
                    "appId": t.app_id,
                    "expiresAt": t.expires_ms,
                    "scopes": None if t.scopes is None else sorted(t.scopes),
                }
                for t in self._tokens.values()
            ]

    def mint_code(self, scopes: Iterable[str], redirect_uri: str) -> str:
        """A fresh single-use authorization code (what the browser redirect would carry)."""
        with self._lock:
            code = self._random("code")
            expires = self._clock.now_ms() + AUTH_CODE_TTL_SECONDS * 1000
            self._codes[code] = Grant(frozenset(scopes), redirect_uri, expires)
            return code

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """Answer ``POST /oauth/v1/token`` for both grant types.

        Raises:
            OAuthError: for a bad client, grant type, code, redirect URI or refresh token.
        """
        if form.get("client_id") != self.client_id:
            raise OAuthError("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != self.client_secret:
            raise OAuthError("BAD_CLIENT_SECRET", "missing or invalid client secret")
        grant_type = form.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.pop(form.get("code", ""), None)
                if grant is None or (grant.expires_ms or 0) < self._clock.now_ms():
                    raise OAuthError("BAD_AUTH_CODE", "missing or unknown auth code")
                if grant.redirect_uri and form.get("redirect_uri") != grant.redirect_uri:
                    raise OAuthError("BAD_REDIRECT_URI", "redirect uri does not match the code")
                refresh_token = self._random("refresh")
                self._refresh[refresh_token] = Grant(grant.scopes, grant.redirect_uri)
            elif grant_type == "refresh_token":
                refresh_token = form.get("refresh_token", "")
                grant = self._refresh.get(refresh_token)
                if grant is None:
                    raise OAuthError("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            else:
                raise OAuthError("BAD_GRANT_TYPE", f"unsupported grant type: {grant_type}")
            access = self._random("access")
            expires = self._clock.now_ms() + ACCESS_TOKEN_TTL_SECONDS * 1000
            self._tokens[access] = AccessToken(access, self.app_id, "oauth", grant.scopes, expires)
        return {
            "token_type": "bearer",
            "refresh_token": refresh_token,
            "access_token": access,
            "expires_in": ACCESS_TOKEN_TTL_SECONDS,
        }

    def authenticate(self, authorization: str | None) -> AccessToken:
        """The token named by an ``Authorization: Bearer`` header.

        Raises:
            HubSpotApiError: 401 for a missing, unknown or expired token.
        """
        scheme, _, value = (authorization or "").partition(" ")
        with self._lock:
            found = self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise HubSpotApiError(401, "INVALID_AUTHENTICATION", CREDENTIALS_NOT_FOUND)
        now = self._clock.now_ms()
        if found.expires_ms is not None and found.expires_ms <= now:
            minutes = max(1, (now - found.expires_ms) // 60_000)
            raise HubSpotApiError(
                401,
                "EXPIRED_AUTHENTICATION",
                f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
            )
        return found

    def _random(self, prefix: str) -> str:
        return f"{prefix}-{self._rng.getrandbits(128):032x}"
