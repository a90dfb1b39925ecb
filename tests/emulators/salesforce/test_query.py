"""SOQL through query/queryAll, 2,000-row pages and the nextRecordsUrl locator route."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from closedloop.emulators.clock import EmulatorClock


def test_paging_over_5000_records(sf: Salesforce, admin: Callable[..., Any]) -> None:
    assert admin("post", "seed", {"leads": 5000, "seed": 3})["leads"] == 5000
    first = sf.query("SELECT Id, Name, LeadSource FROM Lead ORDER BY Id")
    assert first["done"] is False
    assert first["totalSize"] == 5000
    assert len(first["records"]) == 2000
    assert re.fullmatch(
        r"/services/data/v59\.0/query/01g[A-Za-z0-9]{15}-2000", first["nextRecordsUrl"]
    )
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (len(second["records"]), second["done"]) == (2000, False)
    assert second["nextRecordsUrl"].endswith("-4000")
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert (len(third["records"]), third["done"]) == (1000, True)
    assert "nextRecordsUrl" not in third
    ids = [r["Id"] for page in (first, second, third) for r in page["records"]]
    assert len(set(ids)) == 5000
    everything = sf.query_all("SELECT Id FROM Lead ORDER BY Id")["records"]
    assert [r["Id"] for r in everything] == ids
    small = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=500"})
    assert len(small["records"]) == 500


def test_query_errors_count_relationships_and_query_all(
    sf: Salesforce, clock: EmulatorClock
) -> None:
    account = sf.Account.create({"Name": "Globex"})["id"]
    sf.Contact.create({"LastName": "Simpson", "AccountId": account})
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    rows = sf.query("SELECT LastName, Account.Name FROM Contact WHERE Account.Name = 'Globex'")[
        "records"
    ]
    assert rows[0]["Account"]["Name"] == "Globex"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1
    deleted = sf.query_all(
        "SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true", include_deleted=True
    )
    assert [r["Id"] for r in deleted["records"]] == [gone]
    with pytest.raises(SalesforceMalformedRequest) as malformed:
        sf.query("SELECT FROM Contact")
    assert malformed.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.query("SELECT Id FROM Nope__c")
    assert unknown.value.content[0]["errorCode"] == "INVALID_TYPE"


def test_expired_cursor_is_invalid_query_locator(
    sf: Salesforce,
    connect: Callable[..., Salesforce],
    admin: Callable[..., Any],
    clock: EmulatorClock,
) -> None:
    admin("post", "seed", {"leads": 2001})
    first = sf.query("SELECT Id FROM Lead")
    clock.advance(2 * 86_400 + 1)
    with pytest.raises(SalesforceMalformedRequest) as expired:
        connect().query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert expired.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
