"""A full reconciliation streams: closedloop's peak memory does not grow with the records.

Measured with ``bench/sync_scale.py`` (emulators in one child process, closedloop's two full
runs in another, which reports its own peak RSS). A run over 200,000 records takes too long for
a test (see docs/benchmarks.md); here three times the records must not move the peak by more
than a chunk's worth, and both runs stay far below the 300 MB budget.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BUDGET_MB = 300
FLAT_MB = 30  # three times the records may not cost more than this


def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The benchmark as an importable module (spawned children import it by name)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "bench"))
    return importlib.import_module("sync_scale")


@pytest.mark.slow
def test_peak_memory_stays_flat_as_records_grow(monkeypatch: pytest.MonkeyPatch) -> None:
    scale = bench(monkeypatch)
    small = scale.measure(2_000)
    large = scale.measure(6_000)
    for figures in (small, large):
        assert figures["first_failed"] == 0
        assert figures["second_changed"] == 0  # the reconciliation after the load is clean
        assert figures["staged_left"] == 0  # the guarded run released what it staged
    assert large["first_read"] == 6_000
    assert large["peak_rss_mb"] < BUDGET_MB
    assert large["peak_rss_mb"] - small["peak_rss_mb"] < FLAT_MB, (small, large)
