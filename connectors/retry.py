"""Retries with tenacity: full-jitter exponential back-off that honours ``Retry-After``.

Only :class:`~closedloop.runtime.errors.RetriableSyncError` is retried; an expired token
(:class:`~closedloop.runtime.errors.ReauthenticateError`) is handled by
:func:`call_with_reauth`, which obtains a new token and replays the call exactly once.
Waiting goes through the injected clock, so tests assert the delays without sleeping.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import ReauthenticateError, RetriableSyncError

T = TypeVar("T")
log = logging.getLogger("closedloop.connectors.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.

    Attributes:
        max_attempts: total tries of one call, the first included.
        base_seconds: the back-off cap of the first retry; it doubles each time.
        max_seconds: the largest back-off cap.
        max_retry_after: a vendor ``Retry-After`` longer than this is not waited out in-call.
    """

    max_attempts: int = 5
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    max_retry_after: float = 120.0


class RetryCounter:
    """Counts retries across threads (benchmarks and run reports read it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.retries = 0
        self.reauthentications = 0

    def add_retry(self) -> None:
        """Count one retry."""
        with self._lock:
            self.retries += 1

    def add_reauthentication(self) -> None:
        """Count one token renewal."""
        with self._lock:
            self.reauthentications += 1


def backoff_seconds(
    policy: RetryPolicy, attempt: int, retry_after: float | None, rng: random.Random
) -> float:
    """The wait before retry number ``attempt`` (1-based).

    ``Retry-After`` wins when the vendor sent it (capped at ``max_retry_after``); otherwise a
    full-jitter draw from ``[0, min(max_seconds, base_seconds * 2**(attempt-1))]``.
    """
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    cap = min(policy.max_seconds, policy.base_seconds * 2 ** (attempt - 1))
    return rng.uniform(0, cap)


def call_with_retries(
    call: Callable[[], T],
    *,
    policy: RetryPolicy | None = None,
    clock: Clock = SYSTEM_CLOCK,
    rng: random.Random | None = None,
    counter: RetryCounter | None = None,
    what: str = "call",
) -> T:
    """Run ``call``, retrying :class:`RetriableSyncError` per ``policy``; re-raise the last one."""
    policy = policy or RetryPolicy()
    draw = rng or random.Random()

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, RetriableSyncError) else None
        return backoff_seconds(policy, state.attempt_number, retry_after, draw)

    def before_sleep(state: RetryCallState) -> None:
        if counter is not None:
            counter.add_retry()
        exc = state.outcome.exception() if state.outcome else None
        log.info("retrying %s (attempt %d): %s", what, state.attempt_number + 1, exc)

    retrying = Retrying(
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait,
        retry=retry_if_exception_type(RetriableSyncError),
        sleep=clock.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(call)


def call_with_reauth(
    call: Callable[[], T], reauthenticate: Callable[[], None], counter: RetryCounter | None = None
) -> T:
    """Run ``call``; on :class:`ReauthenticateError` renew the token and replay it once."""
    try:
        return call()
    except ReauthenticateError:
        reauthenticate()
        if counter is not None:
            counter.add_reauthentication()
        return call()
