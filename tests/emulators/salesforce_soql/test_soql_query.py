"""run_query: record shape, relationships, COUNT(), ordering, paging clauses and errors."""

# Building SOQL text from test data is what these tests do; nothing here reaches a database.

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from closedloop.emulators.salesforce.soql import SoqlError, parse_soql, run_query

Runner = Callable[..., Any]


def lead_numbers(records: list[dict[str, Any]], known: SimpleNamespace) -> list[int]:
    return [known.leads.index(record["Id"]) + 1 for record in records]


def test_records_have_attributes_then_selected_fields_in_canonical_case(
    run: Runner, known: SimpleNamespace
) -> None:
    first = known.leads[0]
    records = run(
        f"SELECT lastname, ID, first_touch_source__c, ANNUALREVENUE FROM lead WHERE Id = '{first}'"
    )
    assert records == [
        {
            "attributes": {"type": "Lead", "url": f"/services/data/v59.0/sobjects/Lead/{first}"},
            "LastName": "Lovelace",
            "Id": first,
            "First_Touch_Source__c": "google",
            "AnnualRevenue": 1500.5,
        }
    ]
    assert list(records[0]) == [
        "attributes",
        "LastName",
        "Id",
        "First_Touch_Source__c",
        "AnnualRevenue",
    ]


def test_values_are_returned_as_stored_and_missing_ones_as_null(
    run: Runner, known: SimpleNamespace
) -> None:
    [record] = run(
        "SELECT FirstName, Email, AnnualRevenue, IsConverted, CreatedDate, Interests__c "
        f"FROM Lead WHERE Id = '{known.leads[2]}'"
    )
    assert record["FirstName"] is None
    assert record["AnnualRevenue"] is None
    assert record["IsConverted"] is False
    assert record["CreatedDate"] == "2024-02-29T12:00:00.000+0000"
    assert record["Interests__c"] == ""
    assert "Id" not in record


def test_api_version_goes_into_the_record_url(catalog: Any, known: SimpleNamespace) -> None:
    query = parse_soql(f"SELECT Id FROM Lead WHERE Id = '{known.leads[0]}'")
    records = run_query(query, catalog, api_version="v60.0", now=known.now)
    assert isinstance(records, list)
    assert records[0]["attributes"]["url"].startswith("/services/data/v60.0/sobjects/Lead/")


def test_parent_fields_are_nested_at_their_first_position(
    run: Runner, known: SimpleNamespace
) -> None:
    records = run(
        "SELECT Id, Campaign__r.Name, LastName, campaign__r.id FROM Lead ORDER BY LastName"
    )
    by_id = {record["Id"]: record for record in records}
    ada = by_id[known.leads[0]]
    assert list(ada) == ["attributes", "Id", "Campaign__r", "LastName"]
    assert ada["Campaign__r"] == {
        "attributes": {
            "type": "Campaign",
            "url": f"/services/data/v59.0/sobjects/Campaign/{known.spring}",
        },
        "Name": "Spring Launch",
        "Id": known.spring,
    }
    assert by_id[known.leads[1]]["Campaign__r"] is None  # no campaign
    assert by_id[known.leads[4]]["Campaign__r"] is None  # dangling reference


def test_two_level_paths_and_polymorphic_parents(run: Runner, known: SimpleNamespace) -> None:
    contacts = run("SELECT LastName, Account.Parent.Name FROM Contact ORDER BY LastName DESC")
    assert [contact["LastName"] for contact in contacts] == ["Zed", "Young", "Xu"]
    zed, young, xu = contacts
    assert zed["Account"]["attributes"]["type"] == "Account"
    assert zed["Account"]["Parent"]["Name"] == "Globex"
    assert young["Account"] is None
    assert xu["Account"] == {
        "attributes": {
            "type": "Account",
            "url": f"/services/data/v59.0/sobjects/Account/{known.globex}",
        },
        "Parent": None,
    }
    owners = run(
        f"SELECT Owner.Name FROM Lead WHERE Id IN ('{known.leads[0]}', '{known.leads[1]}') "
        "ORDER BY Owner.Name"
    )
    assert [(owner["Owner"]["attributes"]["type"], owner["Owner"]["Name"]) for owner in owners] == [
        ("User", "Alice Admin"),
        ("Group", "Lead Queue"),
    ]


def test_parent_rows_are_fetched_once_per_query(run: Runner, catalog: Any) -> None:
    run("SELECT Account.Name FROM Contact WHERE Account.Name != null ORDER BY Account.Name")
    assert sorted(call for call in catalog.calls if call.startswith("get")) == ["get:Account"] * 2


def test_count(run: Runner) -> None:
    assert run("SELECT COUNT() FROM Lead") == 5
    assert run("SELECT COUNT() FROM Lead", include_deleted=True) == 6
    assert run("SELECT count() FROM Lead WHERE Status = 'Open'") == 2
    assert run("SELECT COUNT() FROM Lead WHERE Status = 'Open'", include_deleted=True) == 3
    assert run("SELECT COUNT() FROM Lead LIMIT 2") == 2
    assert run("SELECT COUNT() FROM Lead LIMIT 10 OFFSET 4") == 1
    assert run("SELECT COUNT() FROM Campaign WHERE Name = 'nothing'") == 0


def test_query_all_includes_soft_deleted_rows(
    run: Runner, catalog: Any, known: SimpleNamespace
) -> None:
    records = run("SELECT Id, IsDeleted FROM Lead WHERE IsDeleted = true", include_deleted=True)
    assert [record["Id"] for record in records] == [known.leads[5]]
    assert records[0]["IsDeleted"] is True
    assert run("SELECT Id FROM Lead WHERE IsDeleted = true") == []
    assert "records:Lead:True" in catalog.calls


def test_deleted_rows_are_dropped_even_if_the_catalog_returns_them(
    catalog: Any, known: SimpleNamespace
) -> None:
    catalog.records = lambda sobject, *, include_deleted: catalog.rows[sobject]
    query = parse_soql("SELECT COUNT() FROM Lead")
    assert run_query(query, catalog, api_version="59.0", now=known.now) == 5


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("FirstName", [3, 1, 4, 5, 2]),
        ("FirstName ASC NULLS FIRST", [3, 1, 4, 5, 2]),
        ("firstname DESC", [2, 5, 4, 1, 3]),
        ("FirstName NULLS LAST", [1, 4, 5, 2, 3]),
        ("FirstName DESC NULLS FIRST", [3, 2, 5, 4, 1]),
        ("Status, NumberOfEmployees DESC", [4, 1, 3, 2, 5]),
        ("Status DESC, NumberOfEmployees", [5, 2, 3, 1, 4]),
        ("AnnualRevenue DESC", [5, 1, 2, 4, 3]),
        ("AnnualRevenue", [3, 4, 2, 1, 5]),
        ("SystemModstamp", [4, 3, 2, 1, 5]),
        ("CreatedDate DESC", [1, 2, 5, 3, 4]),
        ("ConvertedDate NULLS LAST, Id DESC", [3, 2, 5, 4, 1]),
        ("IsConverted DESC, Id", [2, 1, 3, 4, 5]),
        ("Campaign__r.Name NULLS LAST, LastName", [1, 5, 2, 3, 4]),
        ("Id DESC", [5, 4, 3, 2, 1]),
    ],
)
def test_order_by(run: Runner, known: SimpleNamespace, order_by: str, expected: list[int]) -> None:
    assert lead_numbers(run(f"SELECT Id FROM Lead ORDER BY {order_by}"), known) == expected


def test_order_by_parent_field(run: Runner) -> None:
    contacts = run("SELECT LastName FROM Contact ORDER BY Account.Name NULLS LAST")
    assert [contact["LastName"] for contact in contacts] == ["Zed", "Xu", "Young"]


@pytest.mark.parametrize(
    ("clauses", "expected"),
    [
        ("LIMIT 2", [5, 2]),
        ("LIMIT 2 OFFSET 1", [2, 1]),
        ("OFFSET 3", [3, 4]),
        ("LIMIT 0", []),
        ("OFFSET 10", []),
        ("LIMIT 100 OFFSET 2000", []),
    ],
)
def test_offset_then_limit(
    run: Runner, known: SimpleNamespace, clauses: str, expected: list[int]
) -> None:
    records = run(f"SELECT Id FROM Lead ORDER BY LastName {clauses}")
    assert lead_numbers(records, known) == expected


def test_a_parsed_query_can_be_run_again(catalog: Any, known: SimpleNamespace) -> None:
    query = parse_soql("SELECT Id FROM Lead WHERE CreatedDate = TODAY")
    later = datetime(2024, 3, 14, 8, tzinfo=known.now.tzinfo)
    first = run_query(query, catalog, api_version="59.0", now=known.now)
    second = run_query(query, catalog, api_version="59.0", now=later)
    assert isinstance(first, list)
    assert isinstance(second, list)
    assert [record["Id"] for record in first] == [known.leads[0]]
    assert [record["Id"] for record in second] == [known.leads[1]]


_NO_COLUMN = (
    "No such column 'Foo' on entity 'Lead'. If you are attempting to use a custom field, be "
    "sure to append the '__c' after the custom field name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)


@pytest.mark.parametrize(
    ("soql", "code", "message"),
    [
        (
            "SELECT Id FROM Foo",
            "INVALID_TYPE",
            "sObject type 'Foo' is not supported. If you are attempting to use a custom object, "
            "be sure to append the '__c' after the entity name. Please reference your WSDL or "
            "the describe call for the appropriate names.",
        ),
        ("SELECT Id FROM Group", "INVALID_TYPE", "sObject type 'Group' is not supported."),
        ("SELECT Foo FROM Lead", "INVALID_FIELD", _NO_COLUMN),
        ("SELECT Id FROM Lead ORDER BY Foo", "INVALID_FIELD", _NO_COLUMN),
        ("SELECT Id, Secret__c FROM Lead", "INVALID_FIELD", "No such column 'Secret__c'"),
        ("SELECT Campaign__r FROM Lead", "INVALID_FIELD", "No such column 'Campaign__r'"),
        (
            "SELECT Foo__r.Name FROM Lead",
            "INVALID_FIELD",
            "Didn't understand relationship 'Foo__r' in field path. If you are attempting to "
            "use a custom relationship, be sure to append the '__r' after the custom "
            "relationship name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        ),
        ("SELECT Account.Nope FROM Contact", "INVALID_FIELD", "column 'Nope' on entity 'Account'"),
        (
            "SELECT Account.Parent.Parent.Parent.Parent.Parent.Name FROM Contact",
            "INVALID_FIELD",
            "Didn't understand relationship 'Parent'",
        ),
        ("SELECT Id, id FROM Lead", "INVALID_FIELD", "duplicate field selected: Id"),
        (
            "SELECT Id FROM Lead ORDER BY Interests__c",
            "INVALID_FIELD",
            "field 'Interests__c' can not be sorted in a query call",
        ),
        (
            "SELECT Campaign__r.Name, campaign__r.NAME FROM Lead",
            "INVALID_FIELD",
            "duplicate field selected: Name",
        ),
        (
            "SELECT Id FROM Lead OFFSET 2001",
            "NUMBER_OUTSIDE_VALID_RANGE",
            "Maximum SOQL offset allowed for apiName Lead is 2000",
        ),
    ],
)
def test_query_errors(run: Runner, soql: str, code: str, message: str) -> None:
    with pytest.raises(SoqlError) as caught:
        run(soql)
    assert caught.value.error_code == code
    assert message in caught.value.message
    assert str(caught.value) == f"{code}: {caught.value.message}"


def test_five_relationship_levels_are_allowed(run: Runner) -> None:
    records = run("SELECT Account.Parent.Parent.Parent.Parent.Name FROM Contact LIMIT 1")
    assert len(records) == 1


def test_naive_now_is_refused(catalog: Any) -> None:
    query = parse_soql("SELECT Id FROM Lead")
    with pytest.raises(ValueError, match="timezone-aware"):
        run_query(query, catalog, api_version="59.0", now=datetime(2024, 1, 1))  # noqa: DTZ001
