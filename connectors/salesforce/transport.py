"""The HTTP session simple-salesforce runs on: timeouts, safe retries and emulator routing.

simple-salesforce has no default timeout and no retries, and it rebuilds every URL as
``https://<instance>/…`` (also the ``*.salesforce.com`` login hosts). :class:`SalesforceHTTP`
is passed as ``session=`` and fixes all three in one place:

* every request gets a ``(connect, read)`` timeout unless the caller set one;
* idempotent requests (GET, HEAD) are retried by the transport on 502/503/504 and
  connection errors; writes are never replayed here (the connector's retry policy decides);
* with ``emulator_url="http://127.0.0.1:PORT"`` every ``https://`` URL is sent to that
  plain-HTTP loopback emulator, keeping path and query, so instance and login hosts alike
  reach it. Only loopback ``http`` URLs are accepted, so production traffic can never be
  redirected to an unencrypted host by configuration.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 120.0)
RETRY_STATUSES = (502, 503, 504)


def _loopback_target(emulator_url: str) -> tuple[str, str]:
    parts = urlsplit(emulator_url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback:
        raise ValueError(f"emulator_url must be a loopback http:// URL, not {emulator_url!r}")
    return parts.scheme, parts.netloc


class SalesforceHTTP(requests.Session):
    """A ``requests.Session`` for simple-salesforce.

    Args:
        timeout: default ``(connect, read)`` seconds for every request.
        emulator_url: a loopback ``http://`` emulator base URL that receives every
            ``https://`` request (tests, demos); None in production.
        retries: transport-level retries of GET/HEAD requests.
    """

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        emulator_url: str | None = None,
        retries: int = 3,
    ) -> None:
        super().__init__()
        self.timeout = timeout
        self._target = _loopback_target(emulator_url) if emulator_url else None
        policy = Retry(
            total=retries,
            backoff_factor=0.5,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD"}),
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=policy, pool_maxsize=16)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        if self._target is not None:
            # A test emulator is local: proxies and CA bundles from the environment do not apply.
            self.trust_env = False

    def route(self, url: str) -> str:
        """The URL actually requested: ``https://`` URLs go to the emulator when one is set."""
        if self._target is None or not url.startswith("https://"):
            return url
        return urlunsplit(self._target + tuple(urlsplit(url)[2:]))

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send a request with the default timeout, routed to the emulator when configured."""
        target = self.route(url.decode() if isinstance(url, bytes) else url)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, target, *args, **kwargs)
