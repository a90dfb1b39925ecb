"""API allocations: the rolling-24-hour request allowance, ``Sforce-Limit-Info`` and ``/limits``.

Every authenticated call under ``/services/data/vXX.X/`` (REST, collections, Bulk API 2.0,
Tooling) uses one request from the org-wide daily allowance; the version list does not.
Once the allowance is spent, calls answer 403 ``REQUEST_LIMIT_EXCEEDED`` until old calls roll
out of the 24-hour window (on the emulator clock). Salesforce never answers 429 here.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from closedloop.emulators.clock import EmulatorClock

DAY = 86_400.0
EDITION_ALLOWANCE = {"developer": 15_000, "enterprise": 100_000, "unlimited": 100_000}
PER_LICENSE = {"developer": 0, "enterprise": 1_000, "unlimited": 5_000}
EDITION_NAMES = {
    "developer": "Developer Edition",
    "enterprise": "Enterprise Edition",
    "unlimited": "Unlimited Edition",
}


def daily_allowance(edition: str, licenses: int) -> int:
    """The daily API request allocation of an edition with ``licenses`` Salesforce licences.

    Raises:
        ValueError: for an unknown edition.
    """
    if edition not in EDITION_ALLOWANCE:
        raise ValueError(f"unknown edition {edition!r}; one of {sorted(EDITION_ALLOWANCE)}")
    return EDITION_ALLOWANCE[edition] + PER_LICENSE[edition] * licenses


class ApiUsage:
    """Rolling 24-hour counters of API requests, Bulk API batches and query jobs."""

    def __init__(self, clock: EmulatorClock, daily_max: int) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.daily_max = daily_max
        self._calls: deque[float] = deque()
        self._batches: deque[tuple[float, int]] = deque()
        self._query_jobs: deque[float] = deque()

    def _trim(self, now: float) -> None:
        cutoff = now - DAY
        while self._calls and self._calls[0] <= cutoff:
            self._calls.popleft()
        while self._batches and self._batches[0][0] <= cutoff:
            self._batches.popleft()
        while self._query_jobs and self._query_jobs[0] <= cutoff:
            self._query_jobs.popleft()

    def try_consume(self) -> bool:
        """Count one request; False (and nothing counted) when the allowance is spent."""
        now = self._clock.timestamp()
        with self._lock:
            self._trim(now)
            if len(self._calls) >= self.daily_max:
                return False
            self._calls.append(now)
            return True

    def used(self) -> int:
        """Requests in the last 24 hours."""
        with self._lock:
            self._trim(self._clock.timestamp())
            return len(self._calls)

    def set_used(self, used: int) -> None:
        """Pretend ``used`` requests were made just now (admin: start near the limit)."""
        now = self._clock.timestamp()
        with self._lock:
            self._calls = deque([now] * max(0, used))

    def add_batches(self, count: int) -> None:
        """Count Bulk API batches (one per 10,000 ingested records, at least one per job)."""
        with self._lock:
            self._batches.append((self._clock.timestamp(), count))

    def add_query_job(self) -> None:
        """Count one Bulk API 2.0 query job."""
        with self._lock:
            self._query_jobs.append(self._clock.timestamp())

    def header(self) -> str:
        """The ``Sforce-Limit-Info`` value, e.g. ``api-usage=18/15000``."""
        return f"api-usage={self.used()}/{self.daily_max}"

    def reset(self) -> None:
        """Forget every counted request."""
        with self._lock:
            self._calls.clear()
            self._batches.clear()
            self._query_jobs.clear()

    def limits_body(self) -> dict[str, Any]:
        """The body of ``GET /limits``."""
        used = self.used()
        with self._lock:
            batches = sum(count for _, count in self._batches)
            query_jobs = len(self._query_jobs)

        def entry(maximum: int, spent: int) -> dict[str, int]:
            return {"Max": maximum, "Remaining": max(0, maximum - spent)}

        return {
            "ConcurrentAsyncGetReportInstances": entry(200, 0),
            "DailyApiRequests": entry(self.daily_max, used),
            "DailyAsyncApexExecutions": entry(250_000, 0),
            "DailyBulkApiBatches": entry(15_000, batches),
            "DailyBulkV2QueryFileStorageMB": entry(976_562, 0),
            "DailyBulkV2QueryJobs": entry(10_000, query_jobs),
            "DailyStreamingApiEvents": entry(1_000_000, 0),
            "DataStorageMB": entry(1_024, 0),
            "FileStorageMB": entry(1_024, 0),
            "HourlyODataCallout": entry(10_000, 0),
            "HourlyTimeBasedWorkflow": entry(1_000, 0),
            "MassEmail": entry(5_000, 0),
            "SingleEmail": entry(5_000, 0),
        }
