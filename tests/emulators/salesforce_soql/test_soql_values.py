"""Comparison keys and relative date ranges, tested directly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from closedloop.emulators.salesforce.soql_values import (
    date_key,
    date_literal_range,
    datetime_key,
    id_key,
    id_literal_key,
    id_suffix,
    multipicklist_key,
    number_key,
    range_keys,
    string_key,
)

WEDNESDAY = date(2024, 12, 18)
SUNDAY = date(2024, 12, 15)


@pytest.mark.parametrize(
    "stored",
    [
        "2024-01-31T10:00:00.000+0000",
        "2024-01-31T10:00:00Z",
        "2024-01-31T10:00:00.000Z",
        "2024-01-31T11:00:00+01:00",
        "2024-01-31T05:00:00.000-0500",
        "2024-01-31T10:00:00",
        datetime(2024, 1, 31, 10, tzinfo=UTC),
        datetime(2024, 1, 31, 12, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_datetime_keys_agree_across_stored_shapes(stored: object) -> None:
    assert datetime_key(stored) == "2024-01-31T10:00:00.000000"


def test_datetime_key_order_is_instant_order() -> None:
    earlier = datetime_key("2024-01-31T23:59:59.999+0000")
    later = datetime_key("2024-02-01T00:30:00+01:00")  # 23:30 UTC: earlier than `earlier`
    assert later is not None
    assert earlier is not None
    assert later < earlier


@pytest.mark.parametrize("stored", [None, "", "not a date", 12])
def test_unusable_datetimes_are_null(stored: object) -> None:
    assert datetime_key(stored) is None


def test_simple_keys() -> None:
    assert date_key("2024-02-29") == "2024-02-29"
    assert date_key(date(2024, 2, 29)) == "2024-02-29"
    assert date_key(None) is None
    assert string_key("ÉCOLE") == string_key("école")
    assert string_key("") is None
    assert number_key(3) == 3
    assert number_key("2.5") == 2.5
    assert number_key(True) is None
    assert number_key("x") is None
    assert multipicklist_key("A; b ;") == frozenset({"a", "b"})
    assert multipicklist_key("") is None


def test_id_suffix_and_forms() -> None:
    assert id_suffix("001000000000001") == "AAA"
    assert id_suffix("001A0000006Vm9r") == "IAC"
    assert id_key("001A0000006Vm9r") == "001a0000006vm9riac"
    assert id_key("001A0000006Vm9rIAC") == "001a0000006vm9riac"
    assert id_literal_key("001a0000006vm9riac") == "001a0000006vm9riac"
    assert id_literal_key("001A0000006Vm9") is None
    assert id_literal_key("001A0000006Vm9r-AE") is None
    assert id_key(None) is None


@pytest.mark.parametrize(
    ("literal", "amount", "start", "end"),
    [
        ("TODAY", None, date(2024, 12, 18), date(2024, 12, 19)),
        ("YESTERDAY", None, date(2024, 12, 17), date(2024, 12, 18)),
        ("TOMORROW", None, date(2024, 12, 19), date(2024, 12, 20)),
        ("THIS_WEEK", None, date(2024, 12, 15), date(2024, 12, 22)),
        ("LAST_WEEK", None, date(2024, 12, 8), date(2024, 12, 15)),
        ("NEXT_WEEK", None, date(2024, 12, 22), date(2024, 12, 29)),
        ("THIS_MONTH", None, date(2024, 12, 1), date(2025, 1, 1)),
        ("LAST_MONTH", None, date(2024, 11, 1), date(2024, 12, 1)),
        ("NEXT_MONTH", None, date(2025, 1, 1), date(2025, 2, 1)),
        ("THIS_QUARTER", None, date(2024, 10, 1), date(2025, 1, 1)),
        ("LAST_QUARTER", None, date(2024, 7, 1), date(2024, 10, 1)),
        ("NEXT_QUARTER", None, date(2025, 1, 1), date(2025, 4, 1)),
        ("THIS_YEAR", None, date(2024, 1, 1), date(2025, 1, 1)),
        ("LAST_YEAR", None, date(2023, 1, 1), date(2024, 1, 1)),
        ("NEXT_YEAR", None, date(2025, 1, 1), date(2026, 1, 1)),
        ("LAST_90_DAYS", None, date(2024, 9, 19), date(2024, 12, 19)),
        ("NEXT_90_DAYS", None, date(2024, 12, 19), date(2025, 3, 19)),
        ("LAST_N_DAYS", 1, date(2024, 12, 17), date(2024, 12, 19)),
        ("NEXT_N_DAYS", 2, date(2024, 12, 19), date(2024, 12, 21)),
        ("N_DAYS_AGO", 3, date(2024, 12, 15), date(2024, 12, 16)),
        ("LAST_N_WEEKS", 2, date(2024, 12, 1), date(2024, 12, 15)),
        ("NEXT_N_WEEKS", 1, date(2024, 12, 22), date(2024, 12, 29)),
        ("N_WEEKS_AGO", 1, date(2024, 12, 8), date(2024, 12, 15)),
        ("LAST_N_MONTHS", 13, date(2023, 11, 1), date(2024, 12, 1)),
        ("NEXT_N_MONTHS", 2, date(2025, 1, 1), date(2025, 3, 1)),
        ("N_MONTHS_AGO", 12, date(2023, 12, 1), date(2024, 1, 1)),
        ("LAST_N_QUARTERS", 2, date(2024, 4, 1), date(2024, 10, 1)),
        ("NEXT_N_QUARTERS", 1, date(2025, 1, 1), date(2025, 4, 1)),
        ("N_QUARTERS_AGO", 4, date(2023, 10, 1), date(2024, 1, 1)),
        ("LAST_N_YEARS", 2, date(2022, 1, 1), date(2024, 1, 1)),
        ("NEXT_N_YEARS", 1, date(2025, 1, 1), date(2026, 1, 1)),
        ("N_YEARS_AGO", 1, date(2023, 1, 1), date(2024, 1, 1)),
    ],
)
def test_date_literal_ranges(literal: str, amount: int | None, start: date, end: date) -> None:
    assert date_literal_range(literal, amount, WEDNESDAY) == (start, end)


def test_weeks_start_on_sunday() -> None:
    assert date_literal_range("THIS_WEEK", None, SUNDAY) == (SUNDAY, date(2024, 12, 22))


def test_range_keys_match_field_keys() -> None:
    span = (date(2024, 3, 1), date(2024, 4, 1))
    assert range_keys("date", span) == ("2024-03-01", "2024-04-01")
    assert range_keys("datetime", span) == (
        "2024-03-01T00:00:00.000000",
        "2024-04-01T00:00:00.000000",
    )
