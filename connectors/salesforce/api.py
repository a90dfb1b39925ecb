"""Every Salesforce call goes through :meth:`SalesforceApi.call`: budget, retry, renewal.

simple-salesforce runs on :class:`~closedloop.connectors.salesforce.transport.SalesforceHTTP`
with its transport retries switched off, so closedloop alone decides what is retried: the
proactive daily budget is checked before each call, failures are classified by ``errorCode``
with :func:`~closedloop.connectors.classification.classify_salesforce`, transient ones are
retried with full jitter, and an expired session is renewed once and the call replayed.

A response hook on the session sees every HTTP answer, Bulk API polls included: it charges
each request to the budget and reads ``Sforce-Limit-Info: api-usage=N/M``, which corrects
the allowance (M) and tells how much of the org-wide allocation every integration has left.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession

from closedloop.config.schema import SalesforceSettings
from closedloop.connectors.budget import BudgetExhaustedError, DailyPolicy, RateBudget
from closedloop.connectors.classification import Action, classify_salesforce
from closedloop.connectors.retry import (
    RetryCounter,
    RetryPolicy,
    call_with_reauth,
    call_with_retries,
)
from closedloop.connectors.salesforce.auth import SalesforceSession, TokenIssuer
from closedloop.connectors.salesforce.transport import SalesforceHTTP
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import (
    ConnectorError,
    FatalSyncError,
    ReauthenticateError,
    RetriableSyncError,
    SkippableSyncError,
)

T = TypeVar("T")
log = logging.getLogger("closedloop.connectors.salesforce")

LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
CALL_HEADERS = {"Sforce-Call-Options": "client=closedloop", "Sforce-Auto-Assign": "FALSE"}
LIMIT_HINT = (
    "the org's API allocation (shared by every integration) is used up, or too many "
    "long-running requests are open; closedloop resumes on its next run. Check Setup > "
    "Company Information > API Requests, or lower other integrations' use"
)


def emulator_url(settings: SalesforceSettings) -> str | None:
    """The instance URL when it is a plain-HTTP loopback emulator, else None."""
    url = settings.instance_url
    if not url or not url.startswith("http://"):
        return None
    host = urlsplit(url).hostname or ""
    return url if host in ("localhost", "127.0.0.1", "::1") else None


def public_url(url: str) -> str:
    """``url`` as simple-salesforce must see it: https, same host and port."""
    parts = urlsplit(url)
    return urlunsplit(("https", parts.netloc, parts.path.rstrip("/"), "", ""))


class SalesforceApi:
    """simple-salesforce plus closedloop's call discipline, for one org.

    Args:
        settings: the ``salesforce`` settings section.
        clock: time source (back-off waits, daily reset, JWT expiry).
        retry_policy: how hard to retry transient failures.
    """

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        clock: Clock = SYSTEM_CLOCK,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.emulated = emulator_url(settings) is not None
        timeout = settings.timeout_seconds
        self.http = SalesforceHTTP(
            timeout=(min(10.0, timeout), timeout), emulator_url=emulator_url(settings), retries=0
        )
        self.http.hooks["response"].append(self._observe)
        self.tokens = TokenIssuer(settings, self.http, public_url, clock=clock)
        # closedloop's share of the org's rolling daily allocation; Salesforce has no burst
        # window. The allowance is corrected from Sforce-Limit-Info as answers arrive.
        daily = DailyPolicy("salesforce-daily", settings.daily_allowance, settings.daily_share)
        self.budget = RateBudget([], daily, clock=clock)
        self.retry_policy = retry_policy or RetryPolicy()
        self.clock = clock
        self.counter = RetryCounter()
        self.calls: Counter[str] = Counter()
        self.api_usage: tuple[int, int] | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._session: SalesforceSession | None = None
        self._client: Salesforce | None = None
        self._describes: dict[str, dict[str, Any]] = {}

    @property
    def session(self) -> SalesforceSession:
        """The current session, obtained on first use."""
        with self._lock:
            if self._session is None:
                self._install(self.tokens.issue())
            assert self._session is not None  # noqa: S101  (set by _install)
            return self._session

    @property
    def client(self) -> Salesforce:
        """The simple-salesforce client bound to the current session."""
        _ = self.session
        assert self._client is not None  # noqa: S101  (built with the session)
        return self._client

    def call(self, what: str, operation: Callable[[Salesforce], T], *, kind: str = "") -> T:
        """Run ``operation(client)`` with the budget, retries and one session renewal.

        Args:
            what: a short name for logs and error messages.
            operation: the simple-salesforce call to make.
            kind: when set, counted in :attr:`calls` once per attempt (``collections``...).

        Raises:
            FatalSyncError: configuration, permission or allocation problems (stop the run).
            SkippableSyncError: Salesforce refused the request's data.
            RetriableSyncError: when retries are exhausted.
        """

        def attempt() -> T:
            client = self.client
            self.budget.acquire()
            self._local.requests = 0
            if kind:
                self.calls[kind] += 1
            try:
                return operation(client)
            except SalesforceError as exc:
                raise self._translate(exc, what) from None
            except requests.RequestException as exc:
                raise RetriableSyncError(f"{what}: Salesforce unreachable ({exc})") from None
            finally:
                self.budget.release()
                self._charge_extra(getattr(self._local, "requests", 1) - 1)

        def with_retries() -> T:
            return call_with_retries(
                attempt, policy=self.retry_policy, clock=self.clock, counter=self.counter, what=what
            )

        return call_with_reauth(with_retries, self.renew, self.counter)

    def renew(self) -> None:
        """Obtain a new session (no refresh tokens exist) and rebind the client to it."""
        with self._lock:
            self._install(self.tokens.issue())
        log.info("Salesforce session renewed")

    def query(self, soql: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """The first page of a SOQL query (``queryAll`` with ``include_deleted``)."""
        page: dict[str, Any] = self.call(
            "query", lambda sf: sf.query(soql, include_deleted=include_deleted), kind="query"
        )
        return page

    def query_more(self, next_url: str) -> dict[str, Any]:
        """The page a ``nextRecordsUrl`` points at."""
        page: dict[str, Any] = self.call(
            "query_more", lambda sf: sf.query_more(next_url, identifier_is_url=True), kind="query"
        )
        return page

    def restful(self, path: str, *, method: str = "GET", kind: str = "", **kw: Any) -> Any:
        """A REST call relative to ``/services/data/vXX.X/`` (None on 204)."""
        return self.call(path, lambda sf: sf.restful(path, method=method, **kw), kind=kind)

    def describe(self, object_type: str, *, fresh: bool = False) -> dict[str, Any]:
        """The describe of ``object_type``, cached until :meth:`forget_describes`."""
        if fresh or object_type not in self._describes:
            self._describes[object_type] = self.restful(f"sobjects/{object_type}/describe")
        return self._describes[object_type]

    def forget_describes(self) -> None:
        """Drop cached describes (after fields or permissions changed)."""
        self._describes.clear()

    def _install(self, session: SalesforceSession) -> None:
        instance = public_url(session.instance_url or self.settings.instance_url or "")
        client = Salesforce(
            instance_url=instance,
            session_id=session.access_token,
            session=self.http,
            version=self.settings.api_version,
        )
        client.headers.update(CALL_HEADERS)
        self._session, self._client = session, client

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = urlsplit(response.url).path
        if not re.match(r"/services/data/v\d", path):
            return
        self._local.requests = getattr(self._local, "requests", 0) + 1
        match = LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match is None:
            return
        used, total = int(match.group(1)), int(match.group(2))
        self.api_usage = (used, total)
        self.budget.observe_daily_remaining(max(total - used, 0), allowance=total)

    def _charge_extra(self, count: int) -> None:
        """Charge requests beyond the first that one call made (bulk polls, result files)."""
        for _ in range(max(count, 0)):
            try:
                self.budget.acquire()
            except BudgetExhaustedError:
                return  # the next call stops the run; this one already happened
            self.budget.release()

    def _translate(self, exc: SalesforceError, what: str) -> ConnectorError:
        if isinstance(exc, SalesforceExpiredSession):
            return ReauthenticateError(f"{what}: Salesforce session expired or invalid")
        code, message = error_code(exc.content)
        resolution = classify_salesforce(int(exc.status), code, message)
        reason = f"{what}: {resolution.reason}"
        if resolution.action is Action.RETRY:
            return RetriableSyncError(reason)
        if resolution.action is Action.REAUTHENTICATE:
            return ReauthenticateError(reason)
        if resolution.action is Action.PAUSE:
            return BudgetExhaustedError(reason, hint=LIMIT_HINT)
        if resolution.action in (Action.SKIP_ROW, Action.IGNORE):
            body = exc.content if isinstance(exc.content, str) else json.dumps(exc.content)
            return SkippableSyncError(reason, status=int(exc.status), body=body)
        return FatalSyncError(reason, hint=_hint(code))


def error_code(content: Any) -> tuple[str | None, str]:
    """The ``errorCode`` (or ``statusCode``) and message of a parsed Salesforce error body."""
    entry = content[0] if isinstance(content, list) and content else content
    if not isinstance(entry, dict):
        return None, str(content or "")
    code = entry.get("errorCode") or entry.get("statusCode")
    return (str(code) if code else None), str(entry.get("message", ""))


def _hint(code: str | None) -> str | None:
    if code == "API_DISABLED_FOR_ORG":
        return "the org's edition or the user's profile must have API Enabled"
    if code and code.startswith("INSUFFICIENT_ACCESS"):
        return "assign the closedloop_integration permission set (run `closedloop provision`)"
    return None
