"""Surviving Salesforce: expired sessions, transient faults, locks, the daily allocation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from closedloop.connectors.budget import BudgetExhaustedError
from closedloop.connectors.contract import RowWrite, Watermark
from closedloop.connectors.salesforce.connector import SalesforceConnector
from closedloop.emulators.salesforce import SalesforceEmulator
from closedloop.runtime.clock import ManualClock
from closedloop.runtime.errors import FatalSyncError

Admin = Callable[..., Any]
EXTERNAL_ID = "closedloop_id__c"
UPSERTS = "/composite/sobjects/Lead/closedloop_id__c"
LOCKED = [{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access"}]
LIMIT = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]


def leads(n: int, prefix: str = "p") -> list[RowWrite]:
    return [
        RowWrite(
            f"{prefix}-{i}",
            "Lead",
            {"LastName": f"L{i}", "Company": "Acme"},
            match=(EXTERNAL_ID, f"{prefix}-{i}"),
        )
        for i in range(n)
    ]


def live(emulator: SalesforceEmulator) -> list[dict[str, Any]]:
    return [row for row in emulator.org.store.rows("Lead") if not row.get("IsDeleted")]


def test_session_expiring_mid_run_is_renewed_and_no_row_is_lost_or_doubled(
    provisioned: SalesforceConnector, emulator: SalesforceEmulator, admin: Admin
) -> None:
    assert all(r.ok for r in provisioned.write(leads(4200)))  # Bulk API 2.0
    expired = {
        "path_pattern": "/composite/sobjects",
        "status": 401,
        "count": 1,
        "body": [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}],
    }
    touched = 0
    for number, page in enumerate(provisioned.read_changes("Lead", Watermark(), ["LastName"])):
        if number == 0:
            emulator.clock.advance(7300)  # past the 2-hour timeout: the next write meets it
        if number == 1:
            admin("post", "faults", expired)  # the session dies at the write of this page
        rows = [
            RowWrite(f"t-{r.id}", "Lead", {"CL_Touch_Count__c": 1}, record_id=r.id)
            for r in page.records[:500]
        ]
        assert all(r.ok for r in provisioned.write(rows))
        touched += len(rows)
        if number == 1:
            emulator.clock.advance(7300)  # expires before the next page is fetched
    emulator.clock.advance(7300)
    bulk = provisioned.write(leads(4200))  # the same keys again: updates, no new record
    assert all(r.ok and not r.created for r in bulk)

    stored = live(emulator)
    assert len(stored) == 4200 == len({row[EXTERNAL_ID] for row in stored})
    assert sum(1 for row in stored if row.get("CL_Touch_Count__c") == 1) == touched == 1200
    assert provisioned.describe()["reauthentications"] == 4  # three pages, then the bulk job


def test_transient_faults_are_retried_and_every_record_arrives_exactly_once(
    provisioned: SalesforceConnector,
    emulator: SalesforceEmulator,
    admin: Admin,
    calls: Callable[[str], int],
    clock: ManualClock,
) -> None:
    row_locks = [
        {
            "id": None,
            "success": False,
            "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}],
        }
    ] * 200
    faults = [
        {
            "path_pattern": UPSERTS,
            "method": "PATCH",
            "status": 503,
            "body": [{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}],
            "count": 2,
        },
        {"path_pattern": UPSERTS, "method": "PATCH", "status": 400, "body": LOCKED, "count": 2},
        {"path_pattern": UPSERTS, "method": "PATCH", "status": 200, "body": row_locks, "count": 1},
        {"path_pattern": "/queryAll", "method": "GET", "status": 503, "count": 2},
    ]
    admin("post", "faults", {"faults": faults})
    base = calls(UPSERTS)
    slept_before = len(clock.slept)
    results = provisioned.write(leads(600))
    assert all(r.ok for r in results)
    read = [r.id for p in provisioned.read_changes("Lead", Watermark(), []) for r in p.records]

    injected = 2 + 2 + 1 + 2
    retries = provisioned.describe()["retries"]
    assert injected <= retries <= 1.2 * injected
    assert len(clock.slept) - slept_before == retries  # every retry backed off (no real sleep)
    assert calls(UPSERTS) - base == 3 + 5  # 3 batches; the first one was tried 5 times
    stored = live(emulator)
    assert len(stored) == 600 == len({row[EXTERNAL_ID] for row in stored})
    assert sorted(read) == sorted(row["Id"] for row in stored)


def test_request_limit_exceeded_stops_the_run_with_a_clear_error(
    provisioned: SalesforceConnector, admin: Admin, calls: Callable[[str], int]
) -> None:
    admin("post", "faults", {"path_pattern": UPSERTS, "status": 403, "body": LIMIT, "count": 1})
    with pytest.raises(FatalSyncError) as stopped:
        provisioned.write(leads(10))
    assert "API request limit exceeded" in str(stopped.value)
    assert "allocation" in (stopped.value.hint or "")
    assert calls(UPSERTS) == 1  # not retried: the org must rest


def test_org_allocation_used_up_by_others_stops_before_calling(
    connector: SalesforceConnector, admin: Admin, calls: Callable[[str], int]
) -> None:
    admin("post", "limits", {"daily_api_requests": 1000, "used": 998})
    connector.read_records("Lead", ["00Q000000000001AAA"], ["LastName"])
    connector.read_records("Lead", ["00Q000000000001AAA"], ["LastName"])  # now 1000 of 1000
    before = calls("GET")
    with pytest.raises(BudgetExhaustedError):
        connector.read_records("Lead", ["00Q000000000001AAA"], ["LastName"])
    assert calls("GET") == before  # the header said nothing is left: no call was made
    snapshot = connector.budget()
    assert snapshot.vendor_daily_remaining == {"salesforce-daily": 0}
    assert snapshot.daily == {"salesforce-daily": (2, 200)}  # 20 % of the org's real 1,000


def test_daily_share_is_enforced_on_the_allocation_the_org_reports(
    make_connector: Callable[..., SalesforceConnector], admin: Admin
) -> None:
    admin("post", "limits", {"daily_api_requests": 50})
    connector = make_connector(daily_share=0.1, daily_allowance=100_000)
    for _ in range(5):  # 10 % of the 50 the org reports (not of the configured 100,000)
        connector.read_records("Lead", ["00Q000000000001AAA"], ["LastName"])
    with pytest.raises(BudgetExhaustedError) as spent:
        connector.read_records("Lead", ["00Q000000000001AAA"], ["LastName"])
    assert "share of the daily API allowance is spent" in str(spent.value)
    assert spent.value.hint


def test_daily_limit_refused_by_the_org_is_not_retried(
    connector: SalesforceConnector, admin: Admin, calls: Callable[[str], int]
) -> None:
    connector.check()
    admin("post", "limits", {"daily_api_requests": 10, "used": 10})
    before = calls("GET")
    with pytest.raises(FatalSyncError) as refused:
        list(connector.read_all("Lead", ["LastName"]))
    assert "limit" in str(refused.value).lower()
    assert calls("GET") - before <= 1
