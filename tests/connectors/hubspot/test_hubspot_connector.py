"""The HubSpot connector on the emulator, through hubspot-api-client over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from closedloop.connectors.contract import RowWrite, Watermark
from closedloop.connectors.hubspot.connector import HubSpotConnector
from closedloop.runtime.errors import FatalSyncError

Admin = Callable[..., Any]


def upserts(n: int, prefix: str = "p", **fields: Any) -> list[RowWrite]:
    return [
        RowWrite(
            f"{prefix}-{i}",
            "contacts",
            {"firstname": f"F{i}", **fields},
            match=("email", f"{prefix}{i}@example.com"),
        )
        for i in range(n)
    ]


def test_check_provision_and_second_provision_creates_nothing(
    connector: HubSpotConnector, admin: Admin
) -> None:
    before = {i.topic: i for i in connector.check()}
    assert before["read contacts"].ok
    assert not before["closedloop properties"].ok
    assert "closedloop provision" in (before["closedloop properties"].fix or "")

    plan = connector.provision(dry_run=True)
    assert plan
    assert not any(step.exists for step in plan)
    assert (
        admin("get", "stats")["by_route"].get("POST /crm/v3/properties/contacts/batch/create")
        is None
    )

    connector.provision(dry_run=False)
    again = connector.provision(dry_run=False)
    assert all(step.exists for step in again)
    assert {i.topic: i.ok for i in connector.check()}["closedloop properties"]
    creates = admin("get", "stats")["by_route"]["POST /crm/v3/properties/contacts/batch/create"]
    assert creates == 1


def test_missing_scope_is_named_in_check(
    make_connector: Callable[..., HubSpotConnector], admin: Admin
) -> None:
    admin("post", "tokens", {"token": "pat-narrow", "scopes": ["crm.objects.contacts.read"]})
    narrow = make_connector(access_token="pat-narrow")
    items = {i.topic: i for i in narrow.check()}
    assert items["read contacts"].ok
    assert not items["read deals"].ok
    assert "scope" in items["read deals"].detail.lower()


def test_upsert_is_batched_idempotent_and_reports_bad_rows(
    connector: HubSpotConnector, admin: Admin
) -> None:
    rows = upserts(250)
    results = connector.write(rows)
    assert all(r.ok and r.created for r in results)
    stats = admin("get", "stats")["by_route"]
    assert stats["POST /crm/v3/objects/contacts/batch/upsert"] == 3  # ceil(250 / 100)

    again = connector.write(rows)
    assert [r.record_id for r in again] == [r.record_id for r in results]
    assert not any(r.created for r in again)

    mixed = [
        *upserts(5, prefix="ok"),
        RowWrite("bad", "contacts", {"no_such_property": "x"}, match=("email", "bad@example.com")),
    ]
    outcome = {r.push_key: r for r in connector.write(mixed)}
    assert not outcome["bad"].ok
    assert "no_such_property" in (outcome["bad"].reason or "")
    assert all(outcome[f"ok-{i}"].ok for i in range(5))


def test_update_by_id_and_read_by_ids(connector: HubSpotConnector) -> None:
    created = connector.write(upserts(3))
    ids = [r.record_id or "" for r in created]
    updates = [
        RowWrite(f"u{i}", "contacts", {"lastname": "Updated"}, record_id=rid)
        for i, rid in enumerate(ids)
    ]
    assert all(r.ok for r in connector.write(updates))
    found = connector.read_records("contacts", [*ids, "999999999"], ["lastname"])
    assert sorted(r.id for r in found) == sorted(ids)
    assert {r.fields["lastname"] for r in found} == {"Updated"}


def test_incremental_and_full_reads_see_every_record_once(
    connector: HubSpotConnector, admin: Admin
) -> None:
    connector.write(upserts(450))
    pages = list(connector.read_changes("contacts", Watermark(), ["email"]))
    ids = [r.id for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == 450
    assert pages[-1].watermark.modified_at is not None
    full = [r.id for p in connector.read_all("contacts", ["email"]) for r in p.records]
    assert sorted(full) == sorted(ids)


@pytest.mark.slow
def test_incremental_read_crosses_the_search_cap_on_one_millisecond(
    connector: HubSpotConnector, admin: Admin
) -> None:
    admin("post", "limits", {"burst": 100_000, "search_per_second": 100_000})
    written = connector.write(upserts(30_000))
    shared = [r.record_id for r in written[5_000:15_001]]  # 10,001 records on one millisecond
    admin(
        "post",
        "records/touch",
        {"objectType": "contacts", "ids": shared, "timestampMs": 1_900_000_000_000},
    )
    pages = list(connector.read_changes("contacts", Watermark(), ["email"]))
    seen = [r.id for p in pages for r in p.records]
    assert len(seen) == len(set(seen)) == 30_000
    searches = admin("get", "stats")["by_route"]["POST /crm/v3/objects/contacts/search"]
    assert searches <= 2 * 30_000 / 200  # re-anchoring re-reads at most one window per cap


def test_daily_share_stops_the_run_with_a_hint(
    make_connector: Callable[..., HubSpotConnector], admin: Admin
) -> None:
    admin("post", "limits", {"daily": 10})
    small = make_connector(daily_share=0.5)
    for i in range(4):  # a share of 5 calls: four single-row writes fit
        small.write(upserts(1, prefix=f"fits{i}"))
    small.write(upserts(1, prefix="last"))
    with pytest.raises(FatalSyncError) as caught:
        small.write(upserts(1, prefix="over"))
    assert caught.value.hint
