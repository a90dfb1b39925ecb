"""Salesforce access tokens: OAuth client credentials or the JWT bearer flow.

Neither flow returns a refresh token, so renewing a session means asking for a new token
with the same credentials. Tokens are requested through the connector's own HTTP session
(:class:`~closedloop.connectors.salesforce.transport.SalesforceHTTP`), which gives them the
same timeouts and, in tests, the same routing to the emulator as every other call.

Client credentials go to the org's My Domain token URL (``instance_url``, else
``login_url``); the JWT assertion goes to ``login_url``, whose host is also its audience.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import requests

from closedloop.config.schema import SalesforceSettings
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import ConfigError, ConfigProblem, FatalSyncError, RetriableSyncError
from closedloop.runtime.logging import register_secret

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180  # Salesforce accepts assertions that expire within 3 minutes
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105  (a URL path, not a secret)


@dataclass(frozen=True)
class SalesforceSession:
    """One access token and what the token endpoint said about it.

    Attributes:
        access_token: the bearer token (``<org id>!<secret>``).
        instance_url: the org's instance URL to call.
        identity_url: ``…/id/<org id>/<user id>``: names the integration user.
    """

    access_token: str
    instance_url: str
    identity_url: str

    @property
    def user_id(self) -> str | None:
        """The integration user's id: the last segment of the identity URL."""
        parts = [p for p in urlsplit(self.identity_url).path.split("/") if p]
        return parts[-1] if len(parts) >= 3 and parts[-3] == "id" else None

    @property
    def organization_id(self) -> str | None:
        """The org id: the segment before the user id in the identity URL."""
        parts = [p for p in urlsplit(self.identity_url).path.split("/") if p]
        return parts[-2] if len(parts) >= 3 and parts[-3] == "id" else None


class TokenIssuer:
    """Obtains Salesforce sessions for one org with the configured OAuth flow.

    Args:
        settings: the ``salesforce`` settings section.
        http: the HTTP session every call goes through.
        public_url: maps a configured URL to the ``https://`` URL to request (identity
            for real orgs; the emulator's loopback address is presented as https).
        clock: time source for the JWT expiry.
    """

    def __init__(
        self,
        settings: SalesforceSettings,
        http: requests.Session,
        public_url: Callable[[str], str],
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._settings = settings
        self._http = http
        self._public_url = public_url
        self._clock = clock
        self._lock = threading.Lock()
        self._private_key: str | None = None
        self._validate()
        self.issued = 0

    def _validate(self) -> None:
        s = self._settings
        problems = []
        if not s.client_id:
            problems.append(ConfigProblem("salesforce.client_id", "the consumer key is missing"))
        if s.auth_flow == "client_credentials" and s.client_secret is None:
            problems.append(ConfigProblem("salesforce.client_secret", "needed for this flow"))
        if s.auth_flow == "jwt":
            if not s.username:
                problems.append(ConfigProblem("salesforce.username", "needed for the JWT flow"))
            if not s.private_key_file:
                problems.append(
                    ConfigProblem("salesforce.private_key_file", "needed for the JWT flow")
                )
        if problems:
            raise ConfigError(problems, hint="complete the salesforce section of the config")
        if s.client_secret is not None:
            register_secret(s.client_secret.get_secret_value())

    def issue(self) -> SalesforceSession:
        """A new session from the token endpoint.

        Raises:
            FatalSyncError: when Salesforce refuses the credentials.
            RetriableSyncError: when the token endpoint cannot be reached.
        """
        with self._lock:
            s = self._settings
            if s.auth_flow == "jwt":
                base = self._public_url(s.login_url)
                form = {"grant_type": JWT_GRANT, "assertion": self._assertion(base)}
                auth = None
            else:
                base = self._public_url(s.instance_url or s.login_url)
                form = {"grant_type": "client_credentials"}
                secret = s.client_secret.get_secret_value() if s.client_secret else ""
                auth = (s.client_id or "", secret)
            try:
                answer = self._http.post(f"{base}{TOKEN_PATH}", data=form, auth=auth)
            except requests.RequestException as exc:
                raise RetriableSyncError(
                    f"Salesforce token endpoint unreachable: {type(exc).__name__}"
                ) from None
            return self._session(answer)

    def _session(self, answer: requests.Response) -> SalesforceSession:
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code >= 500:
            raise RetriableSyncError(f"Salesforce token endpoint answered {answer.status_code}")
        if answer.status_code != 200 or "access_token" not in body:
            error = body.get("error_description") or body.get("error") or answer.status_code
            raise FatalSyncError(
                f"Salesforce refused closedloop's credentials ({error})",
                hint=(
                    "check salesforce.client_id, client_secret or the JWT key and user, and "
                    "that the connected app is installed and pre-authorised for the user"
                ),
            )
        token = str(body["access_token"])
        register_secret(token)
        self.issued += 1
        return SalesforceSession(
            token, str(body.get("instance_url") or ""), str(body.get("id") or "")
        )

    def _assertion(self, audience: str) -> str:
        if self._private_key is None:
            path = Path(self._settings.private_key_file or "")
            try:
                self._private_key = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    [ConfigProblem("salesforce.private_key_file", f"cannot read: {exc}")],
                    hint="point private_key_file at the PEM key of the connected app",
                ) from None
        claims = {
            "iss": self._settings.client_id,
            "sub": self._settings.username,
            "aud": audience,
            "exp": int(self._clock.now().timestamp()) + JWT_LIFETIME_SECONDS,
        }
        return jwt.encode(claims, self._private_key, algorithm="RS256")
