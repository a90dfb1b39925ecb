"""Proactive API budgets: stay under vendor limits instead of bouncing off them.

A :class:`RateBudget` holds one or more policies per portal or org:

- :class:`WindowPolicy`: at most ``limit`` calls in any rolling ``seconds`` window (HubSpot's
  10-second burst limit, search's 5 per second, the associations API's own window);
- :class:`DailyPolicy`: at most ``share`` of a daily ``allowance`` (HubSpot's daily quota,
  Salesforce's rolling 24-hour allocation, which every integration in the org shares).

A call first :meth:`RateBudget.acquire` s a slot, waiting on the injected clock while a window is
full, and :meth:`RateBudget.release` s it when the answer arrives. A window counts a call from
its *completion*, which is never earlier than its arrival at the vendor, so the vendor's own
window never sees more than ``limit`` calls however long requests take in flight.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import date

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import FatalSyncError


class BudgetExhaustedError(FatalSyncError):
    """The configured share of a daily allowance is spent: stop until it resets."""


@dataclass
class WindowPolicy:
    """At most ``limit`` calls in any rolling window of ``seconds``."""

    name: str
    limit: int
    seconds: float
    _done: deque[float] = field(default_factory=deque, repr=False)
    _in_flight: int = field(default=0, repr=False)

    def _expire(self, now: float) -> None:
        while self._done and self._done[0] <= now - self.seconds:
            self._done.popleft()

    def wait_needed(self, now: float) -> float:
        """Seconds to wait before another call fits in the window (0 when it fits now)."""
        self._expire(now)
        if len(self._done) + self._in_flight < self.limit:
            return 0.0
        if not self._done:
            return self.seconds / self.limit  # only in-flight calls: wait for one to finish
        return max(self._done[0] + self.seconds - now, 0.0) + 1e-3

    def used(self, now: float) -> int:
        """Calls counted in the current window, in flight included."""
        self._expire(now)
        return len(self._done) + self._in_flight


@dataclass
class DailyPolicy:
    """At most ``share`` x ``allowance`` calls per day (UTC day unless told otherwise)."""

    name: str
    allowance: int
    share: float
    used: int = 0
    day: date | None = None
    vendor_remaining: int | None = None

    @property
    def limit(self) -> int:
        """The calls closedloop may make today."""
        return int(self.allowance * self.share)


@dataclass(frozen=True)
class BudgetSnapshot:
    """What ``closedloop status`` shows: per policy, used and limit."""

    windows: dict[str, tuple[int, int]]
    daily: dict[str, tuple[int, int]]
    vendor_daily_remaining: dict[str, int | None]


class RateBudget:
    """The budget of one portal or org, shared by every thread that calls it.

    Args:
        windows: rolling-window policies by name.
        daily: the daily-allowance policy, if the vendor has one.
        clock: time source; tests pass a ManualClock so waiting costs nothing.
    """

    def __init__(
        self,
        windows: list[WindowPolicy],
        daily: DailyPolicy | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._windows = {w.name: w for w in windows}
        self._daily = daily
        self._clock = clock
        self._lock = threading.Condition()
        self.waited_seconds = 0.0

    def acquire(self, *policies: str) -> None:
        """Block until a call fits every named window and the daily share; reserve it.

        Raises:
            BudgetExhaustedError: when the daily share is spent.
            KeyError: when a policy name is unknown.
        """
        windows = [self._windows[name] for name in policies]
        while True:
            with self._lock:
                self._check_daily()
                now = self._clock.monotonic()
                wait = max((w.wait_needed(now) for w in windows), default=0.0)
                if wait <= 0:
                    for window in windows:
                        window._in_flight += 1
                    if self._daily is not None:
                        self._daily.used += 1
                    return
            self.waited_seconds += wait
            self._clock.sleep(wait)

    def release(self, *policies: str) -> None:
        """Record that a call reserved with :meth:`acquire` has been answered."""
        with self._lock:
            now = self._clock.monotonic()
            for name in policies:
                window = self._windows[name]
                window._in_flight = max(window._in_flight - 1, 0)
                window._done.append(now)
            self._lock.notify_all()

    def observe_daily_remaining(self, remaining: int | None, allowance: int | None = None) -> None:
        """Note what the vendor says: what is left of the shared allowance, and its size.

        The vendor's figure of the allowance wins over the configured one, so closedloop's
        share follows the portal's or org's real limit.
        """
        if self._daily is None:
            return
        with self._lock:
            if remaining is not None:
                self._daily.vendor_remaining = remaining
            if allowance is not None and allowance > 0:
                self._daily.allowance = allowance

    def _check_daily(self) -> None:
        daily = self._daily
        if daily is None:
            return
        today = self._clock.now().date()
        if daily.day != today:
            daily.day, daily.used, daily.vendor_remaining = today, 0, None
        if daily.used >= daily.limit or daily.vendor_remaining == 0:
            raise BudgetExhaustedError(
                f"{daily.name}: closedloop's share of the daily API allowance is spent "
                f"({daily.used} of {daily.limit} calls, {daily.share:.0%} of {daily.allowance})",
                hint="raise the daily share in the config, or wait for the daily reset",
            )

    def snapshot(self) -> BudgetSnapshot:
        """Current use of every policy."""
        with self._lock:
            now = self._clock.monotonic()
            windows = {n: (w.used(now), w.limit) for n, w in self._windows.items()}
            daily = {}
            remaining: dict[str, int | None] = {}
            if self._daily is not None:
                daily[self._daily.name] = (self._daily.used, self._daily.limit)
                remaining[self._daily.name] = self._daily.vendor_remaining
            return BudgetSnapshot(windows, daily, remaining)
