"""Verify on recovery: a row a dead relay left in ``sending`` is never written twice.

The crash is real in effect: rows are claimed (``sending``), some of them reach the Salesforce
emulator through the real connector, and the relay "dies" (nobody completes them or refreshes
their claim). A later flush must complete the written ones without writing and send the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import Engine

from closedloop.config.schema import SalesforceSettings, Settings
from closedloop.connectors.contract import Connector
from closedloop.connectors.salesforce.connector import SalesforceConnector
from closedloop.emulators.salesforce import create_emulator
from closedloop.emulators.server import RunningServer
from closedloop.runtime.clock import ManualClock
from closedloop.sync.completion import EXTERNAL_ID
from closedloop.sync.flush import flush_outbox
from closedloop.sync.identity import IdentityStore
from closedloop.sync.outbox import Outbox, OutboxItem
from closedloop.sync.outbox_recovery import STALE_SENDING, SendingClaims
from closedloop.sync.shadow import ShadowStore


@pytest.fixture
def salesforce() -> Iterator[tuple[str, Connector]]:
    emulator = create_emulator(outbound_background=False)
    with RunningServer(emulator.app) as server:
        settings = Settings(
            salesforce=SalesforceSettings(
                instance_url=server.url,
                login_url=server.url,
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
            )
        )
        connector = SalesforceConnector.from_settings(settings)
        connector.provision(dry_run=False)  # the external id field creations upsert by
        yield server.url, connector
        connector.close()
    emulator.close()


def _lead(url: str, n: int) -> str:
    body = {"LastName": f"Lead {n}", "Company": "Acme", "Email": f"lead{n}@example.com"}
    answer = requests.post(f"{url}/__emulator__/records/Lead", json=body, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["id"])


def _api_writes(url: str) -> list[dict[str, Any]]:
    entries = requests.get(f"{url}/__emulator__/write-log?object=Lead", timeout=10).json()
    return [e for e in entries["entries"] if e["by"] == "api"]


def _write(key: str, fields: dict[str, Any], **target: Any) -> OutboxItem:
    return OutboxItem(
        push_key=key, system="salesforce", object_type="Lead", fields=fields, **target
    )


def _flush(box: Outbox, connector: Connector, engine: Engine, clock: ManualClock) -> Any:
    return flush_outbox(
        box,
        {"salesforce": connector},
        ShadowStore(engine, clock),
        IdentityStore(engine, clock),
        clock=clock,
    )


def test_a_crash_between_send_and_complete_does_not_send_twice(
    engine: Engine, clock: ManualClock, salesforce: tuple[str, Connector]
) -> None:
    url, connector = salesforce
    first, second = _lead(url, 1), _lead(url, 2)
    box = Outbox(engine, clock)
    items = [
        _write("phone-1", {"Phone": "+1 555 0101"}, record_id=first),
        _write("phone-2", {"Phone": "+1 555 0102"}, record_id=second),
        _write(
            "new-lead",
            {"LastName": "New", "Company": "Acme", EXTERNAL_ID: "person-9"},
            match=(EXTERNAL_ID, "person-9"),
        ),
    ]
    box.enqueue(items)
    claimed = box.claim("salesforce", 10)
    assert [item.state for item in claimed] == ["sending"] * 3
    # The relay sends two of its rows, then dies before completing anything.
    answers = connector.write([claimed[0].to_row_write(), claimed[2].to_row_write()])
    assert all(answer.ok for answer in answers), answers
    assert len(_api_writes(url)) == 2

    clock.advance(STALE_SENDING.total_seconds() - 1)
    assert _flush(box, connector, engine, clock).recovered == 0  # the claims may still be alive
    assert [box.get(key).state for key in ("phone-1", "phone-2")] == ["sending", "sending"]  # type: ignore[union-attr]

    clock.advance(2)
    result = _flush(box, connector, engine, clock)
    assert (result.recovered, result.written, result.failed) == (2, 1, 0)
    assert {key: box.get(key).state for key in ("phone-1", "phone-2", "new-lead")} == {  # type: ignore[union-attr]
        "phone-1": "done",
        "phone-2": "done",
        "new-lead": "done",
    }
    created = box.get("new-lead")
    assert created is not None
    assert created.record_id == answers[1].record_id  # the verification found the created Lead
    writes = _api_writes(url)
    assert [(w["id"], w["fields"].get("Phone")) for w in writes[2:]] == [(second, "+1 555 0102")]
    assert len(writes) == 3  # each intended write reached Salesforce exactly once
    assert _flush(box, connector, engine, clock).written == 0


def test_an_abandoned_row_whose_value_is_not_there_is_sent_and_live_claims_are_left_alone(
    engine: Engine, clock: ManualClock, salesforce: tuple[str, Connector]
) -> None:
    url, connector = salesforce
    lead = _lead(url, 3)
    box = Outbox(engine, clock)
    box.enqueue([_write("title", {"Title": "CTO"}, record_id=lead)])
    (item,) = box.claim("salesforce", 10)
    claims = SendingClaims.of(box)
    assert item.id is not None

    clock.advance(STALE_SENDING.total_seconds() + 1)
    assert claims.touch([item.id]) == 1  # a heartbeat: the relay is alive after all
    assert claims.abandoned_count(clock.now() - STALE_SENDING) == 0
    assert claims.reclaim("salesforce", clock.now() - STALE_SENDING, 10) == []

    clock.advance(timedelta(seconds=STALE_SENDING.total_seconds() + 1).total_seconds())
    assert claims.abandoned_count(clock.now() - STALE_SENDING) == 1
    result = _flush(box, connector, engine, clock)  # the relay died before sending
    assert (result.recovered, result.written) == (0, 1)
    assert [(w["id"], w["fields"]) for w in _api_writes(url)] == [(lead, {"Title": "CTO"})]
    done = box.get("title")
    assert done is not None
    assert done.state == "done"
