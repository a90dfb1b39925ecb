"""WHERE semantics: operators, nulls, case, literals and type errors, on the sample leads.

Lead numbers refer to conftest.sample_rows(); lead 6 is soft-deleted and never matches
a plain query.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from closedloop.emulators.salesforce.soql import SoqlError

Select = Callable[..., list[int]]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("Status = 'open'", [1, 3]),
        ("Status != 'Open'", [2, 4, 5]),
        ("Status <> 'OPEN'", [2, 4, 5]),
        ("Email = 'grace@example.com'", [2]),
        ("Email != 'ada@example.com'", [2, 3, 4, 5]),
        ("FirstName = null", [3]),
        ("FirstName != NULL", [1, 2, 4, 5]),
        ("First_Touch_Source__c = null", [2, 3, 4, 5]),
        ("First_Touch_Source__c = ''", [2, 3, 4, 5]),
        ("First_Touch_Source__c != ''", [1]),
        ("LastName < 'h'", [5]),
        ("LastName >= 'LOVELACE'", [1, 3, 4]),
        ("LastName > 'turing'", []),
        ("LastName <= 'hopper'", [2, 5]),
    ],
)
def test_text_comparisons_are_case_insensitive_and_null_aware(
    ids: Select, condition: str, expected: list[int]
) -> None:
    assert ids(condition) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("AnnualRevenue > 99", [1, 5]),
        ("AnnualRevenue >= 99", [1, 2, 5]),
        ("AnnualRevenue < 99", [4]),
        ("AnnualRevenue <= 99", [2, 4]),
        ("AnnualRevenue = 0", [4]),
        ("AnnualRevenue = 1500.5", [1]),
        ("AnnualRevenue != 0", [1, 2, 3, 5]),
        ("AnnualRevenue < 1000000000", [1, 2, 4, 5]),
        ("NumberOfEmployees > -1", [1, 2, 3, 5]),
        ("NumberOfEmployees = null", [4]),
    ],
)
def test_number_comparisons(ids: Select, condition: str, expected: list[int]) -> None:
    assert ids(condition) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("Status IN ('open', 'Closed')", [1, 3, 4]),
        ("Status NOT IN ('Open')", [2, 4, 5]),
        ("FirstName IN ('ADA', null)", [1, 3]),
        ("FirstName NOT IN ('ada')", [2, 3, 4, 5]),
        ("FirstName NOT IN ('ada', null)", [2, 4, 5]),
        ("NumberOfEmployees IN (3, 10)", [1, 3]),
        ("ConvertedDate IN (2024-03-01, 2024-02-29)", [2, 3]),
        ("ConvertedDate IN (LAST_MONTH, TODAY)", [3]),
    ],
)
def test_in_and_not_in(ids: Select, condition: str, expected: list[int]) -> None:
    assert ids(condition) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("LastName LIKE 'd%'", [5]),
        ("LastName LIKE '%O%'", [1, 2, 3]),
        ("Email LIKE '%@EXAMPLE.COM'", [1, 2, 5]),
        ("LastName LIKE '_uring'", [4]),
        ("LastName LIKE 'uring'", []),
        ("LastName LIKE 'o\\'brien'", [3]),
        ("Company LIKE '50\\% Off\\_Shop'", [3]),
        ("Company LIKE '50_ Off%'", [3]),
        ("Company LIKE '50\\%%'", [3]),
        ("Company LIKE '5\\%%'", []),
        ("Company LIKE 'Acme\\\\Labs'", [4]),
        ("Company LIKE 'line%break'", [5]),
        ("Company LIKE 'Line\\nBreak'", [5]),
        ("Company LIKE 'a.me'", []),
        ("FirstName LIKE '%'", [1, 2, 4, 5]),
        ("NOT LastName LIKE 'd%'", [1, 2, 3, 4]),
        ("Status LIKE 'w%'", [2, 5]),
    ],
)
def test_like(ids: Select, condition: str, expected: list[int]) -> None:
    assert ids(condition) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("IsConverted = true", [2]),
        ("IsConverted = FALSE", [1, 3, 4, 5]),
        ("IsConverted != true", [1, 3, 4, 5]),
        ("IsConverted = null", []),
        ("IsConverted IN (true, false)", [1, 2, 3, 4, 5]),
        ("Interests__c INCLUDES ('email')", [1, 5]),
        ("Interests__c INCLUDES ('Webinar;Email')", [1, 5]),
        ("Interests__c INCLUDES ('Events', 'webinar')", [1, 2, 5]),
        ("Interests__c EXCLUDES ('Webinar')", [3, 4]),
        ("Interests__c = 'webinar;email'", [1]),
        ("Interests__c = null", [3, 4]),
    ],
)
def test_booleans_and_multipicklists(ids: Select, condition: str, expected: list[int]) -> None:
    assert ids(condition) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("Status = 'Open' AND NumberOfEmployees > 5", [1]),
        ("Status = 'Closed' OR NumberOfEmployees > 100", [2, 4]),
        ("Status = 'Open' AND (NumberOfEmployees < 5 OR AnnualRevenue > 1000)", [1, 3]),
        ("(Status = 'Open' AND NumberOfEmployees < 5) OR AnnualRevenue > 1000", [1, 3, 5]),
        ("NOT (Status = 'Open' OR Status = 'Working')", [4]),
        ("NOT NOT Status = 'Closed'", [4]),
        ("NOT Status = 'Open' AND NOT Status = 'Closed'", [2, 5]),
        ("((Status = 'Open'))", [1, 3]),
        ("Status = 'Open' AND Status = 'Closed' AND Status = 'Working'", []),
        ("Status = 'Open' OR Status = 'Closed' OR Status = 'Working'", [1, 2, 3, 4, 5]),
    ],
)
def test_logical_operators_and_precedence(ids: Select, condition: str, expected: list[int]) -> None:
    assert ids(condition) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("CreatedDate > 2024-03-14T23:59:59Z", [1, 2]),
        ("CreatedDate > 2024-03-14T23:59:59.999Z", [1]),
        ("CreatedDate = 2024-03-14T23:59:59.999Z", [2]),
        ("CreatedDate = 2024-01-01T01:00:00Z", [4]),
        ("CreatedDate = 2024-01-01T03:00:00+02:00", [4]),
        ("CreatedDate < 2024-01-01T01:00:00.000Z", []),
        ("CreatedDate <= 2024-01-01T01:00:00Z", [4]),
        ("SystemModstamp >= 2024-03-10T08:00:00Z", [1, 2, 3, 5]),
        ("SystemModstamp > 2024-03-10T09:00:00+01:00", [1, 2, 5]),
        ("ConvertedDate = 2024-03-01", [2]),
        ("ConvertedDate < 2024-03-01", [3]),
        ("ConvertedDate != null", [2, 3]),
    ],
)
def test_date_and_datetime_values(ids: Select, condition: str, expected: list[int]) -> None:
    assert ids(condition) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("CreatedDate = TODAY", [1]),
        ("CreatedDate = YESTERDAY", [2]),
        ("CreatedDate > YESTERDAY", [1]),
        ("CreatedDate >= YESTERDAY", [1, 2]),
        ("CreatedDate < YESTERDAY", [3, 4, 5]),
        ("CreatedDate <= YESTERDAY", [2, 3, 4, 5]),
        ("CreatedDate != TODAY", [2, 3, 4, 5]),
        ("CreatedDate = TOMORROW", []),
        ("CreatedDate = THIS_WEEK", [1, 2]),
        ("CreatedDate = LAST_WEEK", [5]),
        ("CreatedDate = THIS_MONTH", [1, 2, 5]),
        ("CreatedDate = LAST_MONTH", [3]),
        ("CreatedDate = THIS_YEAR", [1, 2, 3, 4, 5]),
        ("CreatedDate = LAST_YEAR", []),
        ("CreatedDate = LAST_N_DAYS:7", [1, 2, 5]),
        ("CreatedDate = LAST_N_DAYS:6", [1, 2]),
        ("CreatedDate = N_DAYS_AGO:1", [2]),
        ("CreatedDate = NEXT_N_DAYS:3", []),
        ("CreatedDate = LAST_N_MONTHS:2", [3, 4]),
        ("ConvertedDate = LAST_MONTH", [3]),
        ("ConvertedDate = THIS_QUARTER", [2, 3]),
        ("ConvertedDate < THIS_MONTH", [3]),
        ("ConvertedDate = LAST_90_DAYS", [2, 3]),
    ],
)
def test_relative_date_literals(ids: Select, condition: str, expected: list[int]) -> None:
    assert ids(condition) == expected


def test_ids_match_in_15_and_18_character_forms_and_any_case(
    ids: Select, known: SimpleNamespace
) -> None:
    leads = known.leads
    first = leads[0]
    assert ids(f"Id = '{first}'") == [1]
    assert ids(f"Id = '{first[:15]}'") == [1]
    assert ids(f"Id = '{first.lower()}'") == [1]
    assert ids(f"Id IN ('{leads[1]}', '{leads[3][:15]}')") == [2, 4]
    assert ids(f"Id != '{first}'") == [2, 3, 4, 5]
    assert ids(f"Id > '{leads[2]}'") == [4, 5]
    assert ids(f"OwnerId = '{known.alice[:15]}'") == [1]
    assert ids("Campaign__c = null") == [2, 3, 4]


def test_relationship_fields_in_where(ids: Select, known: SimpleNamespace) -> None:
    assert ids("Campaign__r.Name = 'spring launch'") == [1]
    assert ids("Campaign__r.Name = null") == [2, 3, 4, 5]
    assert ids("Campaign__r.Name != null OR Status = 'Closed'") == [1, 4]
    assert ids("Owner.Name LIKE 'lead%'") == [2]
    assert ids(f"Campaign__r.Id = '{known.spring}'") == [1]


_STRING = "must be of type string and should be enclosed in quotes"


@pytest.mark.parametrize(
    ("condition", "code", "message"),
    [
        (
            "CreatedDate > 2024-01-01",
            "INVALID_FIELD",
            "value of filter criterion for field 'CreatedDate' must be of type dateTime "
            "and should not be enclosed in quotes",
        ),
        (
            "ConvertedDate = 2024-01-01T00:00:00Z",
            "INVALID_FIELD",
            "value of filter criterion for field 'ConvertedDate' must be of type date "
            "and should not be enclosed in quotes",
        ),
        ("CreatedDate = '2024-01-01T00:00:00Z'", "INVALID_FIELD", "type dateTime"),
        ("lastname = 5", "INVALID_FIELD", f"field 'LastName' {_STRING}"),
        ("Status = true", "INVALID_FIELD", f"field 'Status' {_STRING}"),
        ("LastName LIKE 5", "INVALID_FIELD", _STRING),
        ("LastName IN ('a', 1)", "INVALID_FIELD", _STRING),
        ("AnnualRevenue = '5'", "INVALID_FIELD", "must be of type double and should not be"),
        ("NumberOfEmployees = true", "INVALID_FIELD", "must be of type int and"),
        ("IsConverted = 'true'", "INVALID_FIELD", "must be of type boolean and"),
        ("Id = 5", "INVALID_FIELD", "must be of type id and should be enclosed in quotes"),
        ("Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc"),
        ("Campaign__c IN (null, 'bad!')", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field"),
        ("Id LIKE '00Q%'", "INVALID_QUERY_FILTER_OPERATOR", "invalid operator on id field"),
        ("AnnualRevenue LIKE '1%'", "INVALID_QUERY_FILTER_OPERATOR", "on double field"),
        ("Interests__c LIKE 'a%'", "INVALID_QUERY_FILTER_OPERATOR", "on multipicklist field"),
        ("IsConverted > false", "INVALID_QUERY_FILTER_OPERATOR", "on boolean field"),
        ("Interests__c < 'a'", "INVALID_QUERY_FILTER_OPERATOR", "on multipicklist field"),
        ("Interests__c = 1", "INVALID_FIELD", f"field 'Interests__c' {_STRING}"),
        ("CreatedDate LIKE '2024%'", "INVALID_QUERY_FILTER_OPERATOR", "on dateTime field"),
        (
            "Status INCLUDES ('Open')",
            "INVALID_QUERY_FILTER_OPERATOR",
            "includes or excludes operator only valid on multipicklist field",
        ),
        ("Nope__c = 1", "INVALID_FIELD", "No such column 'Nope__c' on entity 'Lead'."),
        ("Secret__c = 'x'", "INVALID_FIELD", "No such column 'Secret__c' on entity 'Lead'."),
        ("Campaign__c.Name = 'x'", "INVALID_FIELD", "relationship 'Campaign__c' in field path"),
        ("Campaign__r.Nope = 'x'", "INVALID_FIELD", "No such column 'Nope' on entity 'Campaign'"),
    ],
)
def test_filter_errors(ids: Select, condition: str, code: str, message: str) -> None:
    with pytest.raises(SoqlError) as caught:
        ids(condition)
    assert caught.value.error_code == code
    assert message in caught.value.message
