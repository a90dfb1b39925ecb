"""One injectable source of time.

Code that needs the time takes a :class:`Clock` (defaulting to :data:`SYSTEM_CLOCK`) instead of
calling ``datetime.now`` or ``time.sleep`` itself, so tests move time (token expiry, retry
schedules, daily resets) with a :class:`ManualClock` instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What closedloop needs to know about time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a manual clock advances instead)."""
        ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return datetime.now(tz=UTC)

    def monotonic(self) -> float:
        """The process's monotonic clock."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to; ``sleep`` advances it at once.

    Args:
        start: the initial instant (timezone-aware); 2026-01-01T00:00:00Z when omitted.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._monotonic = 0.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        """The instant the clock shows."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Seconds advanced since the clock was made."""
        with self._lock:
            return self._monotonic

    def sleep(self, seconds: float) -> None:
        """Record the requested wait and advance by it."""
        with self._lock:
            self.slept.append(seconds)
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds


SYSTEM_CLOCK: Clock = SystemClock()
