"""One contract suite, run against every built-in connector on its emulator.

Each system gets an adapter that knows only what differs: how to point settings at the
emulator, which object holds people, the upsert key, the required fields and one of
closedloop's own fields. Everything asserted is the shared contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flask import Flask

from closedloop.config.schema import HubSpotSettings, SalesforceSettings, Settings
from closedloop.connectors.contract import Connector, RowWrite, Watermark
from closedloop.connectors.registry import connector_class
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer
from closedloop.runtime.clock import ManualClock


@dataclass(frozen=True)
class Adapter:
    """What one system needs for the shared suite."""

    name: str
    make_app: Callable[[], Flask]
    settings: Callable[[str], Settings]
    person_object: str
    match_field: str
    required: dict[str, str]
    own_field: str
    unknown_field: str

    def row(self, key: str, **fields: Any) -> RowWrite:
        value = f"{key}@example.com" if self.match_field == "email" else key
        return RowWrite(
            key, self.person_object, {**self.required, **fields}, match=(self.match_field, value)
        )


ADAPTERS = [
    Adapter(
        name="hubspot",
        make_app=lambda: hubspot_emulator(token="contract-token").app,
        settings=lambda url: Settings(
            hubspot=HubSpotSettings(base_url=url, access_token="contract-token")
        ),
        person_object="contacts",
        match_field="email",
        required={},
        own_field="cl_first_touch_source",
        unknown_field="no_such_property",
    ),
    Adapter(
        name="salesforce",
        make_app=lambda: salesforce_emulator(outbound_background=False).app,
        settings=lambda url: Settings(
            salesforce=SalesforceSettings(
                instance_url=url,
                login_url=url,
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
            )
        ),
        person_object="Lead",
        match_field="closedloop_id__c",
        required={"LastName": "Contract", "Company": "Acme"},
        own_field="CL_First_Touch_Source__c",
        unknown_field="No_Such_Field__c",
    ),
]


@pytest.fixture(params=ADAPTERS, ids=[a.name for a in ADAPTERS])
def system(request: pytest.FixtureRequest) -> Iterator[tuple[Adapter, Connector, str]]:
    adapter: Adapter = request.param
    with RunningServer(adapter.make_app()) as server:
        cls = connector_class(adapter.name)
        connector = cls.from_settings(adapter.settings(server.url), clock=ManualClock())
        yield adapter, connector, server.url
        connector.close()


def keys(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(n)]


def test_check_then_provision_then_nothing_left(system: tuple[Adapter, Connector, str]) -> None:
    _, connector, _ = system
    assert not all(item.ok for item in connector.check())
    plan = connector.provision(dry_run=True)
    assert any(not step.exists for step in plan)
    connector.provision(dry_run=False)
    assert all(step.exists for step in connector.provision(dry_run=False))
    failing = [item for item in connector.check() if not item.ok]
    assert failing == []


def test_upsert_is_idempotent_and_reports_every_row(system: tuple[Adapter, Connector, str]) -> None:
    adapter, connector, _ = system
    connector.provision(dry_run=False)
    rows = [adapter.row(k, **{adapter.own_field: "google"}) for k in keys("c", 250)]
    first = connector.write(rows)
    assert [r.push_key for r in first] == [r.push_key for r in rows]
    assert all(r.ok and r.created and r.record_id for r in first)
    second = connector.write(rows)
    assert all(r.ok and not r.created for r in second)
    assert [r.record_id for r in second] == [r.record_id for r in first]


def test_a_bad_row_fails_alone_with_its_reason(system: tuple[Adapter, Connector, str]) -> None:
    adapter, connector, _ = system
    connector.provision(dry_run=False)
    rows = [adapter.row(k) for k in keys("g", 5)]
    bad = adapter.row("bad0001", **{adapter.unknown_field: "x"})
    results = {r.push_key: r for r in connector.write([*rows[:2], bad, *rows[2:]])}
    assert not results["bad0001"].ok
    assert results["bad0001"].reason
    assert all(results[r.push_key].ok for r in rows)


def test_reads_see_each_record_once(system: tuple[Adapter, Connector, str]) -> None:
    adapter, connector, _ = system
    connector.provision(dry_run=False)
    written = connector.write([adapter.row(k) for k in keys("r", 300)])
    ids = {r.record_id for r in written}
    pages = list(connector.read_changes(adapter.person_object, Watermark(), [adapter.own_field]))
    seen = [r.id for p in pages for r in p.records if r.id in ids]
    assert len(seen) == len(set(seen)) == 300
    marks = [p.watermark for p in pages if p.watermark.modified_at is not None]
    assert [m.modified_at for m in marks] == sorted(m.modified_at for m in marks)
    full = {
        r.id
        for p in connector.read_all(adapter.person_object, [adapter.own_field])
        for r in p.records
    }
    assert ids <= full


def test_update_by_id_and_read_by_ids(system: tuple[Adapter, Connector, str]) -> None:
    adapter, connector, _ = system
    connector.provision(dry_run=False)
    written = connector.write([adapter.row(k) for k in keys("u", 3)])
    ids = [r.record_id or "" for r in written]
    updates = [
        RowWrite(f"upd{i}", adapter.person_object, {adapter.own_field: "newsletter"}, record_id=rid)
        for i, rid in enumerate(ids)
    ]
    assert all(r.ok for r in connector.write(updates))
    found = connector.read_records(adapter.person_object, ids, [adapter.own_field])
    assert sorted(r.id for r in found) == sorted(ids)
    assert {r.fields[adapter.own_field] for r in found} == {"newsletter"}


def test_budget_counts_what_was_spent(system: tuple[Adapter, Connector, str]) -> None:
    adapter, connector, url = system
    connector.write([adapter.row("b0001")])
    snapshot = connector.budget()
    used = sum(used for used, _limit in snapshot.daily.values())
    assert used >= 1
    assert requests.get(f"{url}/__emulator__/stats", timeout=10).json()["total"] >= 1


def test_find_matches_by_field_value(system: tuple[Adapter, Connector, str]) -> None:
    adapter, connector, _ = system
    connector.provision(dry_run=False)
    written = connector.write([adapter.row(k) for k in keys("f", 3)])
    values = [f"{k}@example.com" if adapter.match_field == "email" else k for k in keys("f", 3)]
    found = connector.find(adapter.person_object, adapter.match_field, [*values, "absent"], [])
    assert sorted(r.id for r in found) == sorted(r.record_id or "" for r in written)
