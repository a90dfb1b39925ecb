"""Writing through the connector: sObject Collections, per-row results, Bulk API 2.0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from closedloop.connectors.classification import Action
from closedloop.connectors.contract import RowWrite
from closedloop.connectors.salesforce.connector import SalesforceConnector
from closedloop.emulators.salesforce import SalesforceEmulator

Admin = Callable[..., Any]
EXTERNAL_ID = "closedloop_id__c"
UPSERT_ROUTE = "PATCH /services/data/v59.0/composite/sobjects/Lead/closedloop_id__c$"


def leads(n: int, prefix: str = "p", **fields: Any) -> list[RowWrite]:
    return [
        RowWrite(
            f"{prefix}-{i}",
            "Lead",
            {"LastName": f"L{i}", "Company": "Acme", **fields},
            match=(EXTERNAL_ID, f"{prefix}-{i}"),
        )
        for i in range(n)
    ]


def stored(emulator: SalesforceEmulator, sobject: str = "Lead") -> list[dict[str, Any]]:
    return [row for row in emulator.org.store.rows(sobject) if not row.get("IsDeleted")]


def test_1500_upserts_take_8_collection_calls_and_are_idempotent(
    provisioned: SalesforceConnector, emulator: SalesforceEmulator, calls: Callable[[str], int]
) -> None:
    rows = leads(1500, CL_First_Touch_Source__c="google")
    results = provisioned.write(rows)
    assert all(r.ok and r.created for r in results)
    assert [r.push_key for r in results] == [r.push_key for r in rows]
    assert calls(UPSERT_ROUTE) == 8  # ceil(1500 / 200)
    assert provisioned.describe()["write_calls"] == 8

    again = provisioned.write(rows)
    assert [r.record_id for r in again] == [r.record_id for r in results]
    assert not any(r.created for r in again)
    assert calls(UPSERT_ROUTE) == 16
    kept = stored(emulator)
    assert len(kept) == 1500
    assert {row["CL_First_Touch_Source__c"] for row in kept} == {"google"}


def test_failed_rows_carry_their_reason_and_never_fail_batch_mates(
    provisioned: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    created = provisioned.write(leads(5))
    bad_rows = [
        RowWrite("no-name", "Lead", {"Company": "Acme"}, match=(EXTERNAL_ID, "no-name")),
        RowWrite(
            "too-long",
            "Lead",
            {"LastName": "x", "Company": "Acme", "CL_First_Touch_Channel__c": "c" * 81},
            match=(EXTERNAL_ID, "too-long"),
        ),
        RowWrite("no-key", "Lead", {"LastName": "x"}),
    ]
    updates = [
        RowWrite(f"u{i}", "Lead", {"Status": "Working - Contacted"}, record_id=r.record_id)
        for i, r in enumerate(created)
    ]
    results = {r.push_key: r for r in provisioned.write([*updates[:2], *bad_rows, *updates[2:]])}
    assert all(results[f"u{i}"].ok for i in range(5))
    assert not results["no-name"].ok
    assert "REQUIRED_FIELD_MISSING" in (results["no-name"].reason or "")
    assert results["no-name"].action is Action.SKIP_ROW
    assert "STRING_TOO_LONG" in (results["too-long"].reason or "")
    assert "no record id and no match key" in (results["no-key"].reason or "")
    assert {row["Status"] for row in stored(emulator)} == {"Working - Contacted"}

    opportunity = provisioned.write(
        [
            RowWrite(
                "opp",
                "Opportunity",
                {"Name": "Deal", "StageName": "Closed Won", "CloseDate": "2026-01-15"},
                match=(EXTERNAL_ID, "opp-1"),
            )
        ]
    )[0]
    assert opportunity.ok
    assert opportunity.created
    picklist = provisioned.write(
        [
            RowWrite(
                "bad-stage",
                "Opportunity",
                {"StageName": "Won (really)"},
                record_id=opportunity.record_id,
            ),
            RowWrite(
                "good-amount", "Opportunity", {"Amount": 1200.5}, record_id=opportunity.record_id
            ),
        ]
    )
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in (picklist[0].reason or "")
    assert picklist[1].ok


def test_bulk_path_above_the_threshold_in_a_handful_of_calls(
    make_connector: Callable[..., SalesforceConnector],
    emulator: SalesforceEmulator,
    admin: Admin,
    calls: Callable[[str], int],
) -> None:
    connector = make_connector(bulk_threshold=1000)
    connector.provision(dry_run=False)
    admin("post", "stats/reset")
    rows = leads(2499)
    rows.append(RowWrite("bad", "Lead", {"Company": "Acme"}, match=(EXTERNAL_ID, "bad")))
    results = connector.write(rows)
    assert all(r.ok and r.created for r in results[:-1])
    assert not results[-1].ok
    assert "REQUIRED_FIELD_MISSING" in (results[-1].reason or "")
    total = admin("get", "stats")["total"]
    assert total <= 10, admin("get", "stats")  # create, upload, close, polls, three results
    assert calls("composite/sobjects") == 0
    assert connector.describe()["bulk_jobs"] == 1
    assert len(stored(emulator)) == 2499

    ids = {r.record_id for r in results[:-1]}
    updates = [
        RowWrite(f"u{i}", "Lead", {"Company": "Bulk", "LeadSource": None}, record_id=r.record_id)
        for i, r in enumerate(results[:1500])
    ]
    assert all(r.ok for r in connector.write(updates))
    by_company: dict[str, int] = {}
    for row in stored(emulator):
        assert row["Id"] in ids
        by_company[row["Company"]] = by_company.get(row["Company"], 0) + 1
    assert by_company == {"Bulk": 1500, "Acme": 999}


def test_only_the_given_fields_are_sent(
    provisioned: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    first = provisioned.write(leads(1, Email="a@example.com"))[0]
    provisioned.write([RowWrite("x", "Lead", {"Company": "Changed"}, record_id=first.record_id)])
    row = next(iter(stored(emulator)))
    assert (row["Company"], row["Email"], row["LastName"]) == ("Changed", "a@example.com", "L0")
