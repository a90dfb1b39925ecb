"""The emulators' own clock.

Every time-dependent behaviour of an emulator (rate-limit windows, daily allowances, token
expiry, webhook retry schedules, record timestamps) reads this clock, never the wall clock,
so a test can move a day forward in a millisecond through ``POST /__emulator__/clock``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any


class EmulatorClock:
    """Wall-clock time plus an adjustable offset; can be frozen at one instant.

    Args:
        start: the instant the clock shows now; the real time when omitted.
        frozen: when true, the clock stands still until advanced or unfrozen.
    """

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None
        if start is not None:
            self.set(start)
        if frozen:
            self.freeze()

    def _real(self) -> float:
        return time.time()

    def timestamp(self) -> float:
        """Seconds since the epoch, as the emulator sees them."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._real() + self._offset

    def now(self) -> datetime:
        """The emulator's current time, timezone-aware UTC."""
        return datetime.fromtimestamp(self.timestamp(), tz=UTC)

    def now_ms(self) -> int:
        """Milliseconds since the epoch, as HubSpot timestamps are written."""
        return int(self.timestamp() * 1000)

    def monotonic(self) -> float:
        """Seconds on the emulator's clock; suitable for rolling windows."""
        return self.timestamp()

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (must be timezone-aware)."""
        if instant.tzinfo is None:
            raise ValueError("the emulator clock needs a timezone-aware datetime")
        target = instant.timestamp()
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = target
            else:
                self._offset = target - self._real()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or backward, with a negative value)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def freeze(self) -> None:
        """Stop the clock at the current instant."""
        now = self.timestamp()
        with self._lock:
            self._frozen_at = now

    def unfreeze(self) -> None:
        """Let the clock run again from the instant it shows."""
        now = self.timestamp()
        with self._lock:
            self._frozen_at = None
            self._offset = now - self._real()

    def apply(self, command: dict[str, Any]) -> dict[str, Any]:
        """Apply an admin command (``set``, ``advance_seconds``, ``frozen``) and describe the clock.

        Raises:
            ValueError: when a value has the wrong type or ``set`` is not ISO 8601.
        """
        if "set" in command:
            instant = datetime.fromisoformat(str(command["set"]).replace("Z", "+00:00"))
            self.set(instant if instant.tzinfo else instant.replace(tzinfo=UTC))
        if "advance_seconds" in command:
            self.advance(float(command["advance_seconds"]))
        if "frozen" in command:
            if bool(command["frozen"]):
                self.freeze()
            else:
                self.unfreeze()
        return self.describe()

    def describe(self) -> dict[str, Any]:
        """The clock as JSON: ISO time, epoch milliseconds and whether it is frozen."""
        now = self.now()
        return {
            "now": now.isoformat().replace("+00:00", "Z"),
            "epoch_ms": int(now.timestamp() * 1000),
            "frozen": self._frozen_at is not None,
        }

    def window_start(self, seconds: float) -> float:
        """The start of a rolling window of ``seconds`` that ends now."""
        return self.timestamp() - seconds

    def later(self, seconds: float) -> datetime:
        """The instant ``seconds`` from now."""
        return self.now() + timedelta(seconds=seconds)
