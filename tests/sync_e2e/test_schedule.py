"""The scheduled sync jobs: configured from settings, recorded in the run log, never fatal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from closedloop.sync.outbox import OutboxItem
from closedloop.sync.schedule import JOB_NAMES, SyncScheduler

Loop = Any


def test_jobs_follow_the_settings_and_record_their_runs(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=20, seed=12)
    scheduler = SyncScheduler(run.engine, run.settings)
    jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
    assert set(jobs) == set(JOB_NAMES)
    incremental = jobs["incremental"].trigger
    assert isinstance(incremental, IntervalTrigger)
    assert incremental.interval.total_seconds() == run.settings.sync.incremental_minutes * 60
    assert isinstance(jobs["full"].trigger, CronTrigger)
    assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())

    run.engine.settings = run.settings.model_copy(
        update={"sync": run.settings.sync.model_copy(update={"blast_radius": 1.0})}
    )
    scheduler.job("incremental")()
    scheduler.job("full")()
    state = run.engine.state
    state.outbox.enqueue(
        [
            OutboxItem(
                push_key="broken",
                system="salesforce",
                object_type="Lead",
                fields={"No_Such__c": "x"},
                match=("closedloop_id__c", "nobody"),
            )
        ]
    )
    scheduler.job("outbox")()
    assert state.outbox.dead_count() == 1
    scheduler.job("dead_letters")()
    runs = state.runs.last_runs()
    assert {name: runs[name].status for name in JOB_NAMES} == {
        "incremental": "ok",
        "full": "ok",
        "outbox": "ok",
        "dead_letters": "ok",
    }
    assert runs["incremental"].counts.written > 0
    assert state.outbox.dead_count() == 1  # tried again, still refused, with its reason
    assert state.outbox.dead_letters()[0].last_error


def test_a_failing_job_is_logged_not_fatal(loop: Callable[..., Loop]) -> None:
    run = loop(contacts=5, seed=13)
    scheduler = SyncScheduler(run.engine, run.settings)
    run.engine.connectors = {}  # every job now fails inside
    scheduler.job("incremental")()
    assert run.engine.state.runs.last_runs()["incremental"].status == "failed"
    scheduler.start()
    assert scheduler.scheduler.running
    scheduler.shutdown()
    assert not scheduler.scheduler.running
