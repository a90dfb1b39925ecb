"""Daily API allowance, Sforce-Limit-Info, /limits, fault plans and reset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.server import RunningServer


def test_usage_header_and_limits_resource(sf: Salesforce) -> None:
    sf.query("SELECT Id FROM Lead")
    usage = sf.api_usage["api-usage"]
    assert usage.total == 105_000
    assert usage.used == 1
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 105_000, "Remaining": 105_000 - 2}
    assert "DailyBulkV2QueryJobs" in limits


def test_request_limit_exceeded_is_403_until_the_window_rolls(
    sf: Salesforce,
    connect: Callable[..., Salesforce],
    admin: Callable[..., Any],
    server: RunningServer,
    clock: EmulatorClock,
) -> None:
    admin("post", "limits", {"daily_api_requests": 3})
    for _ in range(3):
        sf.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.Lead.create({"LastName": "L", "Company": "C"})
    assert refused.value.status == 403
    assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    stats = requests.get(f"{server.url}/__emulator__/stats", timeout=5).json()
    assert stats["rate_limited"] == 1
    assert stats["by_status"].get("429") is None
    clock.advance(86_401)
    assert admin("get", "limits")["used"] == 0
    assert connect().query("SELECT COUNT() FROM Lead")["totalSize"] == 0


def test_unable_to_lock_row_through_a_fault_plan(sf: Salesforce, admin: Callable[..., Any]) -> None:
    lead = sf.Lead.create({"LastName": "L", "Company": "C"})["id"]
    admin(
        "post",
        "faults",
        {
            "path_pattern": "/sobjects/Lead/",
            "method": "PATCH",
            "status": 400,
            "count": 1,
            "body": [
                {
                    "errorCode": "UNABLE_TO_LOCK_ROW",
                    "message": f"unable to obtain exclusive access to this record: {lead}",
                }
            ],
        },
    )
    with pytest.raises(SalesforceMalformedRequest) as locked:
        sf.Lead.update(lead, {"Title": "x"})
    assert locked.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert sf.Lead.update(lead, {"Title": "x"}) == 204


def test_reset_clears_data_counters_and_cursors(sf: Salesforce, admin: Callable[..., Any]) -> None:
    admin("post", "seed", {"leads": 2001})
    page = sf.query("SELECT Id FROM Lead")
    admin("post", "reset")
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    assert sf.api_usage["api-usage"].used == 1
    with pytest.raises(SalesforceMalformedRequest) as gone:
        sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert gone.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_uri_and_header_budget_of_16384_bytes(sf: Salesforce) -> None:
    ids = ",".join(f"'00Q{n:015d}'" for n in range(550))  # a URI of 14,915 bytes: fine
    assert sf.query(f"SELECT Id FROM Lead WHERE Id IN ({ids})")["totalSize"] == 0
    longer = ",".join(f"'00Q{n:015d}'" for n in range(620))  # 16,805 bytes
    with pytest.raises(SalesforceGeneralError) as too_long:
        sf.query(f"SELECT Id FROM Lead WHERE Id IN ({longer})")
    assert too_long.value.status == 414
    near = ",".join(f"'00Q{n:015d}'" for n in range(602))  # 16,319: the headers push it over
    with pytest.raises(SalesforceGeneralError) as too_large:
        sf.query(f"SELECT Id FROM Lead WHERE Id IN ({near})")
    assert too_large.value.status == 431
