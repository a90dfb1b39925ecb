"""HubSpot's API allowances: 10-second rolling window per app, search per second, daily quota.

Windows read the emulator clock, so a test spends a window quickly or advances the clock
to empty it. Answers carry ``X-HubSpot-RateLimit-*`` headers, except search answers.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.hubspot.errors import new_correlation_id

WINDOW_SECONDS = 10.0
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class Allowance:
    """The limits of one subscription tier."""

    burst: int
    daily: int
    associations_burst: int
    search_per_second: int = 5
    oauth_burst: int = 110


TIERS: dict[str, Allowance] = {
    "free": Allowance(burst=100, daily=250_000, associations_burst=100),
    "starter": Allowance(burst=100, daily=250_000, associations_burst=100),
    "pro": Allowance(burst=190, daily=625_000, associations_burst=150),
    "enterprise": Allowance(burst=190, daily=1_000_000, associations_burst=150),
    "api-addon": Allowance(burst=250, daily=1_625_000, associations_burst=200),
}
OVERRIDABLE = ("burst", "daily", "associations_burst", "search_per_second", "oauth_burst")


@dataclass
class Verdict:
    """Whether a call may proceed, the headers to send, and the 429 body if not."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


class RateLimiter:
    """Rolling windows and the daily counter of one portal.

    Args:
        clock: the emulator clock.
        tier: one of :data:`TIERS`.
    """

    def __init__(self, clock: EmulatorClock, tier: str) -> None:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; choose one of {sorted(TIERS)}")
        self._lock = threading.Lock()
        self._clock = clock
        self._factory_tier = tier
        self.tier = tier
        self.allowance = TIERS[tier]
        self.retry_after_seconds: int | None = None
        self._windows: dict[str, deque[float]] = {}
        self._daily: dict[int, int] = {}

    def reset(self) -> None:
        """Empty every window and counter and restore the factory tier."""
        with self._lock:
            self.tier = self._factory_tier
            self.allowance = TIERS[self.tier]
            self.retry_after_seconds = None
            self._windows, self._daily = {}, {}

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply an admin request: ``tier``, limit overrides, ``retry_after_seconds``.

        Raises:
            ValueError: for an unknown tier or key.
        """
        unknown = set(body) - {"tier", "retry_after_seconds", "reset_windows", *OVERRIDABLE}
        if unknown:
            raise ValueError(f"unknown limit keys: {sorted(unknown)}")
        with self._lock:
            if "tier" in body:
                if body["tier"] not in TIERS:
                    raise ValueError(f"unknown tier {body['tier']!r}")
                self.tier = str(body["tier"])
                self.allowance = TIERS[self.tier]
            overrides = {k: int(body[k]) for k in OVERRIDABLE if k in body}
            self.allowance = replace(self.allowance, **overrides)
            if "retry_after_seconds" in body:
                value = body["retry_after_seconds"]
                self.retry_after_seconds = None if value is None else int(value)
            if body.get("reset_windows"):
                self._windows, self._daily = {}, {}
        return self.describe()

    def describe(self) -> dict[str, Any]:
        """The tier, limits and today's usage."""
        with self._lock:
            return {
                "tier": self.tier,
                **{k: getattr(self.allowance, k) for k in OVERRIDABLE},
                "retry_after_seconds": self.retry_after_seconds,
                "daily_used": self._daily.get(self._day(), 0),
            }

    def check(self, kind: str, app_id: int, *, oauth: bool) -> Verdict:
        """Count one call of ``kind`` (``standard``, ``associations`` or ``search``)."""
        now = self._clock.timestamp()
        with self._lock:
            day = self._day()
            used_today = self._daily.get(day, 0)
            if not oauth and used_today >= self.allowance.daily:
                return self._refuse("DAILY", "daily")
            if kind == "search":
                window = self._window("search", now, 1.0)
                if len(window) >= self.allowance.search_per_second:
                    return self._refuse("SECONDLY", "secondly")
                window.append(now)
                self._daily[day] = used_today + 1
                return Verdict(True)
            limit = self._burst(kind, oauth)
            window = self._window(f"{kind}:{app_id}", now, WINDOW_SECONDS)
            if len(window) >= limit:
                verdict = self._refuse("TEN_SECONDLY_ROLLING", "ten_secondly_rolling")
                verdict.body = {
                    **(verdict.body or {}),
                    "groupName": f"publicapi:private-app-api-calls-ten-secondly:{app_id}",
                }
                verdict.headers.update(self._headers(limit, 0, now, window, oauth, used_today))
                return verdict
            window.append(now)
            self._daily[day] = used_today + 1
            return Verdict(
                True, self._headers(limit, limit - len(window), now, window, oauth, used_today + 1)
            )

    def _burst(self, kind: str, oauth: bool) -> int:
        if kind == "associations":
            return self.allowance.associations_burst
        return self.allowance.oauth_burst if oauth else self.allowance.burst

    def _window(self, key: str, now: float, seconds: float) -> deque[float]:
        window = self._windows.setdefault(key, deque())
        while window and window[0] <= now - seconds:
            window.popleft()
        return window

    def _headers(
        self, limit: int, remaining: int, now: float, window: deque[float], oauth: bool, used: int
    ) -> dict[str, str]:
        secondly = max(1, limit // 10)
        last_second = sum(1 for t in window if t > now - 1.0)
        headers = {
            "X-HubSpot-RateLimit-Max": str(limit),
            "X-HubSpot-RateLimit-Remaining": str(max(0, remaining)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_SECONDS * 1000)),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - last_second)),
        }
        if not oauth:
            headers["X-HubSpot-RateLimit-Daily"] = str(self.allowance.daily)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.allowance.daily - used)
            )
        return headers

    def _refuse(self, policy: str, word: str) -> Verdict:
        body = {
            "status": "error",
            "message": f"You have reached your {word} limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": new_correlation_id(),
            "policyName": policy,
            "requestId": new_correlation_id(),
        }
        verdict = Verdict(False, {}, body)
        if self.retry_after_seconds is not None:
            verdict.headers["Retry-After"] = str(self.retry_after_seconds)
        return verdict

    def _day(self) -> int:
        return self._clock.now_ms() // MS_PER_DAY
