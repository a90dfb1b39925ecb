"""Every HubSpot call goes through :meth:`HubSpotApi.call`: budget, timeout, retry, renewal.

The official client's own urllib3 retries are switched off (``Retry(total=0)``) so that
closedloop alone decides: the proactive :class:`~closedloop.connectors.budget.RateBudget` keeps
calls under the 10-second, search and associations windows and the daily share; failures are
classified by :func:`~closedloop.connectors.classification.classify_hubspot` and retried with
full jitter (honouring ``Retry-After``) or re-authenticated once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import urllib3
from hubspot import HubSpot
from urllib3.util.retry import Retry

from closedloop.connectors.budget import DailyPolicy, RateBudget, WindowPolicy
from closedloop.connectors.classification import Action, classify_hubspot
from closedloop.connectors.hubspot.auth import TokenSource
from closedloop.connectors.retry import (
    RetryCounter,
    RetryPolicy,
    call_with_reauth,
    call_with_retries,
)
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import (
    ConnectorError,
    FatalSyncError,
    ReauthenticateError,
    RetriableSyncError,
    SkippableSyncError,
)

log = logging.getLogger("closedloop.connectors.hubspot")

BURST = {"free": 100, "starter": 100, "pro": 190, "enterprise": 190, "api-addon": 250}
DAILY = {
    "free": 250_000,
    "starter": 250_000,
    "pro": 625_000,
    "enterprise": 1_000_000,
    "api-addon": 2_000_000,
}
ASSOCIATIONS_BURST = {"free": 100, "starter": 100, "pro": 150, "enterprise": 150, "api-addon": 200}
SEARCH_PER_SECOND = 5

STANDARD = ("burst",)
SEARCH = ("search",)
ASSOCIATIONS = ("associations",)


def hubspot_budget(tier: str, daily_share: float, clock: Clock = SYSTEM_CLOCK) -> RateBudget:
    """The proactive budget for a portal of ``tier`` using ``daily_share`` of its allowance."""
    return RateBudget(
        [
            WindowPolicy("burst", BURST[tier], 10.0),
            WindowPolicy("search", SEARCH_PER_SECOND, 1.0),
            WindowPolicy("associations", ASSOCIATIONS_BURST[tier], 10.0),
        ],
        DailyPolicy("hubspot-daily", DAILY[tier], daily_share),
        clock=clock,
    )


class HubSpotApi:
    """The official client plus closedloop's call discipline, for one portal.

    Args:
        base_url: API host (the real one, or an emulator).
        tokens: where bearer tokens come from.
        budget: the portal's rate budget.
        timeout: seconds allowed for every call (connect and read).
        retry_policy: how hard to retry.
        clock: time source (waits, expiry).
    """

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        budget: RateBudget,
        *,
        timeout: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._tokens = tokens
        self._token = tokens.current()
        self.client = HubSpot(
            access_token=self._token,
            host=base_url,
            base_url=base_url,
            retry=Retry(total=0, raise_on_status=False),
        )
        self.budget = budget
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy()
        self.clock = clock
        self.counter = RetryCounter()
        self._renewal_lock = threading.Lock()
        self._apis: dict[str, Any] = {}

    def api(self, dotted: str) -> Any:
        """A cached sub-API such as ``crm.objects.batch_api`` (each access builds a pool)."""
        if dotted not in self._apis:
            target: Any = self.client
            for part in dotted.split("."):
                target = getattr(target, part)
            _parse_datetimes_natively(getattr(target, "api_client", None))
            self._apis[dotted] = target
        return self._apis[dotted]

    def call(
        self, policies: tuple[str, ...], method: Callable[..., Any], *args: Any, **kw: Any
    ) -> Any:
        """Call ``method`` (a ``*_with_http_info`` operation) and return ``(data, status)``.

        With ``_preload_content=False`` among the keyword arguments, ``data`` is the response
        body as plain JSON (dicts and lists) instead of the client's models: much cheaper for
        large reads.

        Raises:
            FatalSyncError: on configuration or permission problems, or after retries run out
                of a pause-worthy condition.
            SkippableSyncError: when HubSpot rejects the data itself (400, 409...).
            RetriableSyncError: when retries are exhausted.
        """
        used: list[str] = []

        def attempt() -> Any:
            self._sync_token()
            used.append(self._token)
            self.budget.acquire(*policies)
            try:
                answer = method(*args, _request_timeout=self.timeout, **kw)
                if isinstance(answer, tuple):
                    data, status, headers = answer
                else:  # asked with ``_preload_content=False``: the body as plain JSON
                    data, status, headers = json.loads(answer.data), answer.status, answer.headers
                    answer.release_conn()
            except urllib3.exceptions.HTTPError as exc:
                raise RetriableSyncError(f"HubSpot unreachable: {type(exc).__name__}") from None
            except Exception as exc:
                if not hasattr(exc, "status"):
                    raise
                raise self._translate(exc) from None
            finally:
                self.budget.release(*policies)
            self._observe(headers)
            return data, status

        def with_retries() -> Any:
            return call_with_retries(
                attempt,
                policy=self.retry_policy,
                clock=self.clock,
                counter=self.counter,
                what=getattr(method, "__name__", "HubSpot call"),
            )

        return call_with_reauth(with_retries, lambda: self._renew(used[-1] if used else None))

    def _translate(self, exc: Any) -> ConnectorError:
        body = exc.body.decode() if isinstance(exc.body, bytes) else exc.body
        headers = dict(exc.headers or {})
        resolution = classify_hubspot(int(exc.status), body, headers)
        reason = resolution.reason
        wait = resolution.retry_after
        short_pause = (
            resolution.action is Action.PAUSE
            and wait is not None
            and wait <= self.retry_policy.max_retry_after
        )
        if resolution.action is Action.RETRY or short_pause:
            return RetriableSyncError(reason, retry_after=wait)
        if resolution.action is Action.REAUTHENTICATE:
            return ReauthenticateError(reason)
        if resolution.action in (Action.SKIP_ROW, Action.IGNORE):
            return SkippableSyncError(reason, status=int(exc.status), body=body)
        return FatalSyncError(reason, hint=_hint(int(exc.status)))

    def _observe(self, headers: Any) -> None:
        if not headers:
            return
        remaining = str(headers.get("X-HubSpot-RateLimit-Daily-Remaining", ""))
        allowance = str(headers.get("X-HubSpot-RateLimit-Daily", ""))
        self.budget.observe_daily_remaining(
            int(remaining) if remaining.isdigit() else None,
            int(allowance) if allowance.isdigit() else None,
        )

    def _sync_token(self) -> None:
        token = self._tokens.current()
        if token != self._token:
            self._use(token)

    def _renew(self, stale: str | None) -> None:
        """Renew the token once, however many concurrent calls saw it rejected."""
        with self._renewal_lock:
            if stale is not None and stale != self._token:
                return  # another call already renewed it
            self._use(self._tokens.renew())
            self.counter.add_reauthentication()

    def _use(self, token: str) -> None:
        """Switch every cached sub-API (and any built later) to ``token``."""
        self._token = token
        self.client.access_token = token
        for api in self._apis.values():
            api.api_client.configuration.access_token = token


def _parse_datetimes_natively(client: Any) -> None:
    """Have the official client parse HubSpot's ISO 8601 timestamps with the standard library.

    The generated client parses every datetime of a response (each property-history entry
    has one) with ``dateutil``, which costs more than the rest of a full read together.
    HubSpot sends ISO 8601 (``2024-05-01T10:00:00.123Z``), which
    :meth:`datetime.fromisoformat` reads exactly (``Z`` included, Python 3.11+); anything
    else still goes to the client's own parser.
    """
    mangled = f"_{type(client).__name__}__deserialize_datetime"
    original = getattr(client, mangled, None)
    if original is None:
        return

    def parse(text: Any) -> Any:
        try:
            return datetime.fromisoformat(text)
        except (TypeError, ValueError):
            return original(text)

    setattr(client, mangled, parse)


def _hint(status: int) -> str | None:
    if status == 403:
        return "grant the missing scopes to the private app, then run `closedloop check`"
    if status == 429:
        return "the portal's daily API limit is spent; closedloop resumes after the reset"
    if status == 477:
        return "HubSpot is migrating the portal; closedloop resumes when it answers again"
    return None
