"""An in-memory token bucket per client key (the collector's per-address rate limit).

Each key (a truncated client address, never a full one) owns a bucket of ``per_minute``
tokens that refills continuously at ``per_minute / 60`` tokens a second. A request takes one
token; an empty bucket answers with the seconds until the next token, which the collector sends
as ``Retry-After``. Buckets are kept in memory: a restart forgets them, and several server
processes each enforce the limit on their own (documented in docs/collector.md).

Memory stays bounded: beyond ``max_keys`` buckets the least recently used ones are dropped
(a dropped bucket comes back full, which only ever errs towards letting a request through).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock

__all__ = ["TokenBucketLimiter"]

DEFAULT_MAX_KEYS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Per-key token buckets refilled from a monotonic clock.

    Args:
        per_minute: tokens per key per minute; also the burst size.
        clock: the time source (``monotonic`` is used, so wall-clock jumps do not matter).
        max_keys: how many buckets to keep before the least recently used are dropped.

    Raises:
        ValueError: ``per_minute`` or ``max_keys`` is not positive.
    """

    def __init__(
        self, per_minute: int, clock: Clock = SYSTEM_CLOCK, *, max_keys: int = DEFAULT_MAX_KEYS
    ) -> None:
        if per_minute < 1 or max_keys < 1:
            raise ValueError("per_minute and max_keys must be positive")
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Take one token for ``key``.

        Returns:
            None when the request may proceed; otherwise the whole seconds (at least 1) after
            which the next token is available, for ``Retry-After``.
        """
        now = self._clock.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(self._capacity, now)
                self._buckets[key] = bucket
                while len(self._buckets) > self._max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self._capacity, bucket.tokens + elapsed * self._per_second)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / self._per_second))

    def __len__(self) -> int:
        """How many buckets are held."""
        with self._lock:
            return len(self._buckets)
