"""Watermarks never move backwards; the run log records starts, heartbeats and outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from closedloop.connectors.contract import Watermark
from closedloop.runtime.clock import ManualClock
from closedloop.sync.runs import RunCounts, RunLog, Watermarks

T0 = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def marks(engine: Engine, clock: ManualClock) -> Watermarks:
    return Watermarks(engine, clock)


@pytest.fixture
def log(engine: Engine, clock: ManualClock) -> RunLog:
    return RunLog(engine, clock)


def test_a_new_watermark_is_empty(marks: Watermarks) -> None:
    assert marks.get("hubspot", "contacts") == Watermark()


def test_watermarks_never_move_backwards(marks: Watermarks) -> None:
    assert marks.advance("hubspot", "contacts", Watermark(T0, "50")) is True
    assert marks.advance("hubspot", "contacts", Watermark(T0 - timedelta(seconds=1), "99")) is False
    assert marks.advance("hubspot", "contacts", Watermark(T0, "40")) is False
    assert marks.advance("hubspot", "contacts", Watermark(None, "")) is False
    assert marks.advance("hubspot", "contacts", Watermark(T0, "50")) is False
    assert marks.get("hubspot", "contacts") == Watermark(T0, "50")
    assert marks.advance("hubspot", "contacts", Watermark(T0, "60")) is True
    assert marks.advance("hubspot", "contacts", Watermark(T0 + timedelta(hours=1), "")) is True
    assert marks.get("hubspot", "contacts") == Watermark(T0 + timedelta(hours=1), "")
    assert marks.get("hubspot", "deals") == Watermark()


def test_watermarks_keep_the_instant_across_offsets(marks: Watermarks) -> None:
    local = T0.astimezone(datetime.now(UTC).astimezone().tzinfo)
    marks.advance("salesforce", "Lead", Watermark(local, "00Q1"))
    stored = marks.get("salesforce", "Lead")
    assert stored.modified_at == T0
    assert stored.modified_at is not None
    assert stored.modified_at.tzinfo == UTC


def test_run_life(log: RunLog, clock: ManualClock) -> None:
    run_id = log.start("incremental", dry_run=True)
    started = log.get(run_id)
    assert started is not None
    assert (started.status, started.dry_run, started.counts) == ("running", True, RunCounts())
    clock.advance(30)
    log.heartbeat(run_id)
    assert log.get(run_id).heartbeat_at == clock.now()  # type: ignore[union-attr]
    counts = RunCounts(read=10, changed=3, written=2, failed=1)
    counts.skip("echo", 4)
    counts.skip("echo")
    clock.advance(30)
    log.finish(run_id, "ok", counts)
    done = log.get(run_id)
    assert done is not None
    assert (done.status, done.finished_at, done.error) == ("ok", clock.now(), None)
    assert done.counts == counts
    assert done.counts.skipped_total == 5
    assert log.get(run_id + 1000) is None


def test_finish_accepts_plain_counts_and_rejects_running(log: RunLog) -> None:
    run_id = log.start("full")
    log.finish(run_id, "failed", {"read": 5, "skipped": {"no_email": 2}}, error="boom")
    failed = log.get(run_id)
    assert failed is not None
    assert (failed.status, failed.error, failed.counts.skipped) == (
        "failed",
        "boom",
        {"no_email": 2},
    )
    with pytest.raises(ValueError, match="not 'running'"):
        log.finish(run_id, "running", RunCounts())


def test_last_runs_shows_the_latest_run_of_each_job(log: RunLog, clock: ManualClock) -> None:
    assert log.last_runs() == {}
    first = log.start("incremental")
    log.finish(first, "ok", RunCounts(read=1))
    second = log.start("incremental")
    outbox = log.start("outbox")
    latest = log.last_runs()
    assert sorted(latest) == ["incremental", "outbox"]
    assert latest["incremental"].id == second
    assert latest["incremental"].status == "running"
    assert latest["outbox"].id == outbox


def test_silent_runs_are_aborted(log: RunLog, clock: ManualClock) -> None:
    quiet = log.start("full")
    clock.advance(600)
    alive = log.start("incremental")
    assert log.abort_stale(clock.now() - timedelta(minutes=5)) == 1
    assert log.get(quiet).status == "aborted"  # type: ignore[union-attr]
    assert log.get(alive).status == "running"  # type: ignore[union-attr]
