"""Performance smoke: the incremental-sync query over 50,000 rows (no timed assertion)."""

# Building SOQL text from test data is what these tests do; nothing here reaches a database.

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from closedloop.emulators.salesforce.soql import FieldInfo, parse_soql, run_query

ROWS = 50_000
START = datetime(2024, 1, 1, tzinfo=UTC)


class BigLeadTable:
    """50,000 leads, several per SystemModstamp, some with an account."""

    def __init__(self, make_id: Any) -> None:
        self.account_id = make_id("001", 1)
        self.leads = [
            {
                "Id": make_id("00Q", number),
                "LastName": f"Lead {number}",
                "Status": ("Open", "Working", "Closed")[number % 3],
                "AccountId": self.account_id if number % 2 else None,
                "SystemModstamp": (START + timedelta(seconds=number // 3)).strftime(
                    "%Y-%m-%dT%H:%M:%S.000+0000"
                ),
            }
            for number in range(ROWS, 0, -1)
        ]
        self.account = FieldInfo("AccountId", "reference", ("Account",), "Account")
        self.schema = {
            "Lead": {
                info.name.lower(): info
                for info in (
                    FieldInfo("Id", "id"),
                    FieldInfo("LastName", "string"),
                    FieldInfo("Status", "picklist"),
                    FieldInfo("SystemModstamp", "datetime"),
                    self.account,
                )
            },
            "Account": {"id": FieldInfo("Id", "id"), "name": FieldInfo("Name", "string")},
        }

    def sobject_name(self, name: str) -> str | None:
        return {"lead": "Lead", "account": "Account"}.get(name.lower())

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        return self.schema[sobject].get(name.lower())

    def relationship(self, sobject: str, relationship_name: str) -> FieldInfo | None:
        return self.account if relationship_name.lower() == "account" else None

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        return self.leads if sobject == "Lead" else []

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        return {"Id": self.account_id, "Name": "Acme"} if record_id == self.account_id else None


def test_incremental_sync_query_over_50k_rows(known: SimpleNamespace) -> None:
    table = BigLeadTable(known.make_id)
    watermark = (START + timedelta(seconds=1000)).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = parse_soql(
        "SELECT Id, LastName, SystemModstamp, Account.Name FROM Lead "
        f"WHERE SystemModstamp > {watermark} AND Status != 'Closed' "
        "ORDER BY SystemModstamp, Id LIMIT 2000"
    )
    records = run_query(query, table, api_version="59.0", now=known.now)
    assert isinstance(records, list)
    assert len(records) == 2000
    stamps = [(record["SystemModstamp"], record["Id"].lower()) for record in records]
    assert stamps == sorted(stamps)
    assert stamps[0][0] == "2024-01-01T00:16:41.000+0000"
    assert {record["Account"] and record["Account"]["Name"] for record in records} == {
        "Acme",
        None,
    }
    count = parse_soql(f"SELECT COUNT() FROM Lead WHERE SystemModstamp > {watermark}")
    assert run_query(count, table, api_version="59.0", now=known.now) == ROWS - 3002
