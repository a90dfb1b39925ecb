"""HubSpot credentials: a static private-app token, or OAuth with transparent refresh.

OAuth access tokens live 30 minutes. The token is renewed shortly before it expires (HubSpot
advises tracking the lifetime, since a 401 is not a reliable expiry signal) and, should a call
still answer 401, once more on demand. The token exchange uses the official client.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any, Protocol

from hubspot import HubSpot
from urllib3.util.retry import Retry

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import FatalSyncError
from closedloop.runtime.logging import register_secret

REFRESH_MARGIN = timedelta(minutes=5)


class TokenSource(Protocol):
    """Supplies the bearer token for HubSpot calls."""

    def current(self) -> str:
        """The token to use now (renewed first if it is about to expire)."""
        ...

    def renew(self) -> str:
        """Force a new token (after a 401)."""
        ...


class StaticToken:
    """A private-app access token: it never expires, so renewing cannot help."""

    def __init__(self, token: str) -> None:
        register_secret(token)
        self._token = token

    def current(self) -> str:
        """The token."""
        return self._token

    def renew(self) -> str:
        """Raise: a rejected private-app token needs the admin's attention."""
        raise FatalSyncError(
            "HubSpot rejected the private-app access token",
            hint="check hubspot.access_token (Settings > Integrations > Private apps)",
        )


class OAuthRefreshToken:
    """OAuth access tokens minted from a refresh token, renewed before they expire.

    Args:
        base_url: the API host (the token endpoint is ``/oauth/v1/token`` there).
        client_id: the app's client id.
        client_secret: the app's client secret.
        refresh_token: the long-lived refresh token from the install flow.
        clock: time source for expiry.
        timeout: seconds for the token call.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        clock: Clock = SYSTEM_CLOCK,
        timeout: float = 30.0,
    ) -> None:
        for secret in (client_secret, refresh_token):
            register_secret(secret)
        self._client = HubSpot(host=base_url, retry=Retry(total=2, allowed_methods=None))
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self.renewals = 0

    def current(self) -> str:
        """A valid access token, renewed when within five minutes of expiry."""
        with self._lock:
            expiring = self._expires_at is None or self._clock.now() >= (
                self._expires_at - REFRESH_MARGIN
            )
            if self._token is None or expiring:
                self._exchange()
            assert self._token is not None  # noqa: S101  (set by _exchange)
            return self._token

    def renew(self) -> str:
        """Exchange the refresh token for a new access token now."""
        with self._lock:
            self._exchange()
            assert self._token is not None  # noqa: S101
            return self._token

    def _exchange(self) -> None:
        try:
            answer: Any = self._client.oauth.tokens_api.create(
                grant_type="refresh_token",
                client_id=self._client_id,
                client_secret=self._client_secret,
                refresh_token=self._refresh_token,
                _request_timeout=self._timeout,
            )
        except Exception as exc:  # noqa: BLE001  (each client package has its own ApiException)
            status = getattr(exc, "status", None)
            raise FatalSyncError(
                f"HubSpot refused the OAuth refresh token (HTTP {status})",
                hint="re-install the app to obtain a new refresh token",
            ) from None if status else exc
        self._token = str(answer.access_token)
        register_secret(self._token)
        if getattr(answer, "refresh_token", None):
            self._refresh_token = str(answer.refresh_token)
            register_secret(self._refresh_token)
        self._expires_at = self._clock.now() + timedelta(seconds=int(answer.expires_in))
        self.renewals += 1
