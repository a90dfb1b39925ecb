"""A small in-memory SoqlCatalog and fixtures for the SOQL parser/evaluator tests."""

# Building SOQL text from test data is what these tests do; nothing here reaches a database.

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from closedloop.emulators.salesforce.soql import FieldInfo, parse_soql, run_query

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)  # a Friday

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def make_id(prefix: str, number: int) -> str:
    """An 18-character Salesforce id with a correct case-checksum suffix."""
    id15 = f"{prefix}{'0' * (12 - len(str(number)))}{number}"
    assert len(id15) == 15
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if char.isupper())
        suffix += _SUFFIX_ALPHABET[bits]
    return id15 + suffix


def _field(name: str, kind: str, *targets: str, rel: str | None = None) -> FieldInfo:
    return FieldInfo(name, kind, tuple(targets), rel)


SCHEMA: dict[str, list[FieldInfo]] = {
    "Lead": [
        _field("Id", "id"),
        _field("FirstName", "string"),
        _field("LastName", "string"),
        _field("Email", "email"),
        _field("Company", "string"),
        _field("Status", "picklist"),
        _field("IsDeleted", "boolean"),
        _field("IsConverted", "boolean"),
        _field("AnnualRevenue", "currency"),
        _field("NumberOfEmployees", "int"),
        _field("CreatedDate", "datetime"),
        _field("SystemModstamp", "datetime"),
        _field("ConvertedDate", "date"),
        _field("Interests__c", "multipicklist"),
        _field("First_Touch_Source__c", "string"),
        _field("Campaign__c", "reference", "Campaign", rel="Campaign__r"),
        _field("OwnerId", "reference", "User", "Group", rel="Owner"),
        _field("Secret__c", "string"),
    ],
    "Contact": [
        _field("Id", "id"),
        _field("LastName", "string"),
        _field("Birthdate", "date"),
        _field("AccountId", "reference", "Account", rel="Account"),
    ],
    "Account": [
        _field("Id", "id"),
        _field("Name", "string"),
        _field("Industry", "picklist"),
        _field("ParentId", "reference", "Account", rel="Parent"),
    ],
    "Campaign": [_field("Id", "id"), _field("Name", "string")],
    "User": [_field("Id", "id"), _field("Name", "string")],
    "Group": [_field("Id", "id"), _field("Name", "string")],
}

HIDDEN_FIELDS = {("Lead", "Secret__c")}
HIDDEN_SOBJECTS = {"Group"}


class MemoryCatalog:
    """Schema and rows held in dictionaries; case-insensitive lookups as Salesforce does."""

    def __init__(self, rows: Mapping[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self.calls: list[str] = []
        self._by_id = {row["Id"]: row for table in rows.values() for row in table}

    def sobject_name(self, name: str) -> str | None:
        for sobject in SCHEMA:
            if sobject.lower() == name.lower() and sobject not in HIDDEN_SOBJECTS:
                return sobject
        return None

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        for info in SCHEMA.get(sobject, []):
            if info.name.lower() == name.lower() and (sobject, info.name) not in HIDDEN_FIELDS:
                return info
        return None

    def relationship(self, sobject: str, relationship_name: str) -> FieldInfo | None:
        for info in SCHEMA.get(sobject, []):
            if (info.relationship_name or "").lower() == relationship_name.lower():
                return info
        return None

    def records(self, sobject: str, *, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        self.calls.append(f"records:{sobject}:{include_deleted}")
        return [
            row for row in self.rows.get(sobject, []) if include_deleted or not row.get("IsDeleted")
        ]

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        self.calls.append(f"get:{sobject}")
        row = self._by_id.get(record_id)
        if row is None or not row["Id"].startswith(PREFIXES[sobject]):
            return None
        return row


PREFIXES = {
    "Lead": "00Q",
    "Contact": "003",
    "Account": "001",
    "Campaign": "701",
    "User": "005",
    "Group": "00G",
}

ACME = make_id("001", 1)
GLOBEX = make_id("001", 2)
SPRING = make_id("701", 1)
ALICE = make_id("005", 1)
QUEUE = make_id("00G", 1)
LEADS = [make_id("00Q", number) for number in range(1, 7)]


def sample_rows() -> dict[str, list[dict[str, Any]]]:
    """Six leads with varied values (nulls included), plus parents and contacts."""
    leads: list[dict[str, Any]] = [
        {
            "Id": LEADS[0], "FirstName": "Ada", "LastName": "Lovelace",
            "Email": "ada@example.com", "Company": "Acme", "Status": "Open",
            "AnnualRevenue": 1500.5, "NumberOfEmployees": 10,
            "CreatedDate": "2024-03-15T09:30:00.000+0000",
            "SystemModstamp": "2024-03-15T09:30:00.000+0000",
            "Interests__c": "Email;Webinar", "First_Touch_Source__c": "google",
            "Campaign__c": SPRING, "OwnerId": ALICE, "IsConverted": False,
            "Secret__c": "hidden",
        },
        {
            "Id": LEADS[1], "FirstName": "Grace", "LastName": "Hopper",
            "Email": "GRACE@Example.com", "Company": "Globex", "Status": "Working",
            "AnnualRevenue": 99, "NumberOfEmployees": 250,
            "CreatedDate": "2024-03-14T23:59:59.999+0000",
            "SystemModstamp": "2024-03-14T23:59:59.999+0000",
            "ConvertedDate": "2024-03-01", "IsConverted": True,
            "Interests__c": "Webinar", "OwnerId": QUEUE,
        },
        {
            "Id": LEADS[2], "FirstName": None, "LastName": "O'Brien",
            "Email": None, "Company": "50% Off_Shop", "Status": "Open",
            "NumberOfEmployees": 3,
            "CreatedDate": "2024-02-29T12:00:00.000+0000",
            "SystemModstamp": "2024-03-10T08:00:00Z",
            "ConvertedDate": "2024-02-29", "Interests__c": "",
        },
        {
            "Id": LEADS[3], "FirstName": "alan", "LastName": "Turing",
            "Email": "alan@example.org", "Company": "Acme\\Labs", "Status": "Closed",
            "AnnualRevenue": 0, "NumberOfEmployees": None,
            "CreatedDate": "2023-12-31T23:00:00.000-0200",
            "SystemModstamp": "2024-01-01T01:00:00.000+0000",
            "First_Touch_Source__c": "",
        },
        {
            "Id": LEADS[4], "FirstName": "Edsger", "LastName": "Dijkstra",
            "Email": "edsger@example.com", "Company": "Line\nBreak", "Status": "Working",
            "AnnualRevenue": 2500, "NumberOfEmployees": 40,
            "CreatedDate": "2024-03-08T10:00:00.000+0000",
            "SystemModstamp": "2024-03-15T11:59:59.000+0000",
            "Interests__c": "Events;Email;Webinar", "Campaign__c": make_id("701", 99),
        },
        {
            "Id": LEADS[5], "FirstName": "Gone", "LastName": "Deleted", "IsDeleted": True,
            "Company": "Acme", "Status": "Open",
            "CreatedDate": "2024-03-01T00:00:00.000+0000",
            "SystemModstamp": "2024-03-02T00:00:00.000+0000",
        },
    ]  # fmt: skip
    return {
        "Lead": leads,
        "Account": [
            {"Id": ACME, "Name": "Acme", "Industry": "Tech", "ParentId": GLOBEX},
            {"Id": GLOBEX, "Name": "Globex", "Industry": None},
        ],
        "Contact": [
            {"Id": make_id("003", 1), "LastName": "Zed", "AccountId": ACME},
            {"Id": make_id("003", 2), "LastName": "Young", "AccountId": None},
            {"Id": make_id("003", 3), "LastName": "Xu", "AccountId": GLOBEX},
        ],
        "Campaign": [{"Id": SPRING, "Name": "Spring Launch"}],
        "User": [{"Id": ALICE, "Name": "Alice Admin"}],
        "Group": [{"Id": QUEUE, "Name": "Lead Queue"}],
    }


Runner = Callable[..., Any]


@pytest.fixture
def known() -> SimpleNamespace:
    """The sample data's ids, for building queries and checking results."""
    return SimpleNamespace(
        leads=LEADS, acme=ACME, globex=GLOBEX, spring=SPRING, alice=ALICE, queue=QUEUE,
        contacts=[make_id("003", number) for number in (1, 2, 3)], make_id=make_id, now=NOW,
    )  # fmt: skip


@pytest.fixture
def catalog() -> MemoryCatalog:
    return MemoryCatalog(sample_rows())


@pytest.fixture
def run(catalog: MemoryCatalog) -> Runner:
    """Parse and run a query against the sample catalog at NOW."""

    def runner(soql: str, *, include_deleted: bool = False, now: datetime = NOW) -> Any:
        query = parse_soql(soql)
        return run_query(
            query, catalog, api_version="59.0", include_deleted=include_deleted, now=now
        )

    return runner


@pytest.fixture
def ids(run: Runner) -> Callable[..., list[int]]:
    """Run ``SELECT Id FROM Lead WHERE <condition>`` and return lead numbers (1-based)."""

    def select(condition: str) -> list[int]:
        records = run(f"SELECT Id FROM Lead WHERE {condition}")
        return [LEADS.index(record["Id"]) + 1 for record in records]

    return select
