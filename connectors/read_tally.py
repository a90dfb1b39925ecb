"""How many records each kind of read returned, per object: the basis of the API-call floor.

Every read a connector makes adds the records it returned under ``(object type, kind)``. The
kind decides how many records one vendor call can return at most (:data:`PAGE_MAX`):

* HubSpot: ``list`` (list paging, 100), ``history`` (list or batch read with property history,
  50), ``search`` (200), ``batch`` (batch read, 100), ``associations`` (v4 batch read, 1,000);
* Salesforce: ``soql`` (a query page, 2,000).

So ``ceil(records / PAGE_MAX[kind])`` summed over the tally is the fewest calls that could
have returned the same records (``closedloop demo`` reports its calls against it).
"""

from __future__ import annotations

import math
import threading
from collections import Counter

__all__ = ["PAGE_MAX", "ReadTally"]

PAGE_MAX = {
    "list": 100,
    "history": 50,
    "search": 200,
    "batch": 100,
    "associations": 1000,
    "soql": 2000,
}


class ReadTally:
    """Thread-safe counts of records read, by (object type, kind of read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, object_type: str, kind: str, records: int) -> None:
        """Count ``records`` returned by one read of ``kind`` on ``object_type``."""
        with self._lock:
            self._counts[(object_type, kind)] += records

    def counts(self) -> dict[tuple[str, str], int]:
        """Records read so far, by (object type, kind)."""
        with self._lock:
            return dict(self._counts)

    def floor_calls(self) -> int:
        """The fewest calls that could have read as much: Σ ceil(records / page maximum)."""
        return sum(math.ceil(n / PAGE_MAX.get(kind, 100)) for (_, kind), n in self.counts().items())

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()
