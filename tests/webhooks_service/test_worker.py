"""Inbox workers: poison isolation, back-off, dead letters, stale claims, replay from the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine
from support import CliResult
from webhook_support import ListenerFactory, hubspot_event

from closedloop.connectors.contract import RowWrite
from closedloop.runtime.clock import ManualClock
from closedloop.webhooks.inbox import Inbox, InboxEvent

Systems = Any


def _deal(n: int) -> dict[str, Any]:
    return hubspot_event(n, subscriptionType="deal.propertyChange", propertyName="dealstage")


def test_a_poison_event_is_isolated_retried_and_dead_lettered(listener: ListenerFactory) -> None:
    clock = ManualClock(datetime.now(tz=UTC))
    handled: list[list[str]] = []

    def on_deals(system: str, object_type: str, ids: list[str]) -> None:
        if "5001" in ids:
            raise ValueError("deal 5001 cannot be attributed")
        handled.append(ids)

    run = listener(clock=clock, on_deals=on_deals, max_attempts=2)
    stamp = int(clock.now().timestamp() * 1000)
    assert run.post_hubspot([_deal(n) for n in range(3)], timestamp_ms=stamp).status_code == 200
    first = run.worker.process_once()
    assert (first.claimed, first.done, first.retried, first.dead) == (3, 2, 1, 0)
    assert sorted(handled) == [["5000"], ["5002"]]
    assert run.worker.process_once().claimed == 0  # backing off
    clock.advance(6)
    second = run.worker.process_once()
    assert (second.claimed, second.dead) == (1, 1)
    (dead,) = run.services.inbox.events("dead")
    assert dead.record_id == "5001"
    assert dead.attempts == 2
    assert dead.last_error == "ValueError: deal 5001 cannot be attributed"


def test_a_claim_left_by_a_dead_worker_is_released(store: Engine) -> None:
    clock = ManualClock()
    inbox = Inbox(store, clock)
    event = InboxEvent(
        source="test",
        dedupe_key="k1",
        system="hubspot",
        object_type="companies",
        record_id="1",
        event_type="company.creation",
        occurred_at=None,
        payload={},
    )
    assert inbox.add([event, event]) == 1
    assert len(inbox.claim(10)) == 1
    assert inbox.claim(10) == []
    assert inbox.release_stale(clock.now() - timedelta(seconds=60), max_attempts=3) == 0
    clock.advance(120)
    assert inbox.release_stale(clock.now() - timedelta(seconds=60), max_attempts=3) == 1
    (again,) = inbox.claim(10)
    assert again.attempts == 2


def test_concurrent_claims_never_share_an_event(store: Engine) -> None:
    inbox = Inbox(store)
    inbox.add(
        [
            InboxEvent(
                source="test",
                dedupe_key=f"k{n}",
                system="hubspot",
                object_type="companies",
                record_id=str(n),
                event_type="company.creation",
                occurred_at=None,
                payload={"n": n},
            )
            for n in range(200)
        ]
    )
    claimed: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        while batch := inbox.claim(7):
            with lock:
                claimed.extend(e.id for e in batch)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 200


def _config(tmp_path: Path, run: Systems, max_attempts: int) -> Path:
    settings = run.settings
    path = tmp_path / "closedloop.yaml"
    document = {
        "database": {"url": settings.database.url},
        "hubspot": {
            "base_url": settings.hubspot.base_url,
            "access_token": settings.hubspot.access_token.get_secret_value(),
        },
        "salesforce": {
            "instance_url": settings.salesforce.instance_url,
            "login_url": settings.salesforce.login_url,
            "client_id": settings.salesforce.client_id,
            "client_secret": settings.salesforce.client_secret.get_secret_value(),
        },
        "webhooks": {"max_attempts": max_attempts},
    }
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def test_replay_reprocesses_a_dead_event_from_the_cli(
    systems: Callable[..., Systems],
    listener: ListenerFactory,
    run_cli: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    run = systems(contacts=10, seed=5)
    run.engine.run(allow_blast=True)
    hook = listener(base=run.settings, sync_engine=run.engine, max_attempts=1)
    hubspot = run.engine.connectors["hubspot"]
    contact = next(r for page in hubspot.read_all("contacts", ["email"]) for r in page.records)
    hubspot.write([RowWrite("p", "contacts", {"phone": "+1 555 0142"}, record_id=contact.id)])
    fault = {
        "path_pattern": "/crm/v3/objects/contacts/batch/read",
        "method": "POST",
        "status": 400,
        "count": 1,
        "body": {"status": "error", "message": "bad input", "category": "VALIDATION_ERROR"},
    }
    run.admin("hubspot", "post", "faults", fault)
    event = hubspot_event(1, objectId=int(contact.id), propertyValue="+1 555 0142")
    assert hook.post_hubspot([event]).status_code == 200
    result = hook.worker.process_once()
    assert result.dead == 1
    (dead,) = hook.services.inbox.events("dead")
    assert dead.last_error is not None
    assert "bad input" in dead.last_error
    config = _config(tmp_path, run, max_attempts=1)
    listed = run_cli("replay", "--format", "json", "--config", str(config))
    assert listed.code == 0, listed.stderr
    assert [e["id"] for e in json.loads(listed.stdout)["events"]] == [dead.id]
    answer = run_cli("replay", "--id", str(dead.id), "--format", "json", "--config", str(config))
    assert answer.code == 0, answer.stderr
    (replayed,) = json.loads(answer.stdout)["events"]
    assert (replayed["id"], replayed["state"], replayed["queue"]) == (dead.id, "done", "inbox")
    assert hook.services.inbox.events("dead") == []
    lead_phones = [
        r.fields.get("Phone")
        for page in run.engine.connectors["salesforce"].read_all("Lead", ["Phone"])
        for r in page.records
    ]
    assert "+1 555 0142" in lead_phones
    everything = run_cli("replay", "--all", "--format", "json", "--config", str(config))
    assert everything.code == 0, everything.stderr
    assert json.loads(everything.stdout) == {"replayed": True, "events": []}
    missing = run_cli("replay", "--id", "999999", "--config", str(config))
    assert missing.code == 2
