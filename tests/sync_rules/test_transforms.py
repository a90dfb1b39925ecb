"""Wire transforms: text, truncation, picklists, numbers, booleans, dates on both systems."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from closedloop.mappings.field_types import SystemField
from closedloop.mappings.fields import default_field_mappings
from closedloop.sync.transforms import TransformError, from_wire, same_value, to_wire, truncate


def hs(value_type: str = "string", **kwargs: object) -> SystemField:
    return SystemField("hubspot", ("contacts",), "x", value_type=value_type, **kwargs)  # type: ignore[arg-type]


def sf(value_type: str = "string", **kwargs: object) -> SystemField:
    return SystemField("salesforce", ("Lead",), "X__c", value_type=value_type, **kwargs)  # type: ignore[arg-type]


AT = datetime(2024, 1, 31, 10, 0, 0, 123456, tzinfo=UTC)


# --- text -------------------------------------------------------------------------------------


def test_text_transforms_apply_in_order() -> None:
    field = sf(transforms=("trim", "lower"))
    assert to_wire(field, "  Ann@Example.COM ") == "ann@example.com"
    assert to_wire(sf(transforms=("upper",)), "de") == "DE"
    assert to_wire(sf(transforms=("trim",)), "   ") is None  # blank after trimming clears
    assert to_wire(hs(transforms=("trim",)), "   ") == ""


def test_blank_clears_on_each_system() -> None:
    assert to_wire(hs(), None) == ""
    assert to_wire(hs("number"), "") == ""
    assert to_wire(sf(), None) is None
    assert to_wire(sf("datetime"), "") is None
    assert from_wire(hs(), "") is None
    assert from_wire(sf("number"), None) is None


def test_required_fields_are_never_cleared() -> None:
    last_name = default_field_mappings().get("last_name").targets["salesforce"]
    assert last_name.required
    assert to_wire(last_name, "Lovelace") == "Lovelace"
    for blank in (None, ""):
        with pytest.raises(TransformError, match="LastName is required, so it is never cleared"):
            to_wire(last_name, blank)
    with pytest.raises(TransformError, match="X__c is required"):
        to_wire(sf(required=True, transforms=("trim",)), "   ")  # blank once trimmed


def test_non_text_values_in_text_fields() -> None:
    assert to_wire(sf(), 5.0) == "5"
    assert to_wire(sf(), True) == "true"
    assert to_wire(hs(), AT) == AT.isoformat()


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abcdef", 4, "abcd"),
        ("abc", 3, "abc"),
        ("ab😀cd", 3, "ab"),  # the emoji is two UTF-16 units: never half of it
        ("ab😀cd", 4, "ab😀"),
        ("😀😀", 1, ""),
        ("cafe\u0301s", 4, "caf"),  # e + combining acute stay together
        ("cafe\u0301s", 5, "cafe\u0301"),
        ("👍\U0001f3fd!", 3, ""),  # thumbs + skin tone modifier is 4 units
        ("a\u2764\ufe0fb", 2, "a"),  # heart + variation selector stay together
        ("a👩\u200d💻b", 4, "a"),  # a ZWJ sequence is not cut after the joiner
        ("ab\ud83d\ude00", 3, "ab"),  # surrogate halves held as code points
    ],
)
def test_truncate_never_splits_a_character(text: str, limit: int, expected: str) -> None:
    assert truncate(text, limit) == expected


@given(st.text(), st.integers(min_value=1, max_value=40))
def test_truncate_is_a_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = truncate(text, limit)
    assert text.startswith(cut)
    assert len(cut.encode("utf-16-le", "surrogatepass")) <= 2 * limit
    cut.encode("utf-8")  # no lone surrogate left behind
    assert truncate(cut, limit) == cut


def test_salesforce_text_is_truncated_to_its_length() -> None:
    first_name = default_field_mappings().get("first_name").targets["salesforce"]
    assert to_wire(first_name, "x" * 60) == "x" * 40
    assert same_value(first_name, "x" * 40, "x" * 60)


# --- picklists --------------------------------------------------------------------------------


def test_lead_source_map_default_and_reverse() -> None:
    field = default_field_mappings().get("lead_source").targets["salesforce"]
    assert to_wire(field, "Organic Search") == "Web"
    assert to_wire(field, "organic search") == "Web"
    assert to_wire(field, "Affiliates") == "Partner Referral"
    assert to_wire(field, "Offline") == "Other"  # unmapped: the default
    assert from_wire(field, "Partner Referral") == "Affiliates"
    assert from_wire(field, "Trade Show") == "Trade Show"
    assert same_value(field, "web", "Web")  # Salesforce picklists ignore case


def test_unmapped_value_without_default_is_refused() -> None:
    field = default_field_mappings().get("lifecycle_stage").targets["salesforce"]
    assert to_wire(field, "salesqualifiedlead") == "Working - Contacted"
    with pytest.raises(TransformError) as caught:
        to_wire(field, "customer")
    assert caught.value.reason == "no Status value is mapped for 'customer'"
    assert isinstance(caught.value, ValueError)


def test_hubspot_enumerations_are_case_sensitive() -> None:
    field = hs(picklist={"Paid Search": "PAID_SEARCH"})
    assert to_wire(field, "Paid Search") == "PAID_SEARCH"
    assert not same_value(field, "paid_search", "PAID_SEARCH")


# --- numbers and booleans ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "hubspot", "salesforce"),
    [
        (5, "5", 5),
        (5.0, "5", 5),
        (2.5, "2.5", 2.5),
        ("7", "7", 7),
        (1e20, "100000000000000000000", 10**20),
    ],
)
def test_numbers(value: object, hubspot: str, salesforce: object) -> None:
    assert to_wire(hs("number"), value) == hubspot  # type: ignore[arg-type]
    assert to_wire(sf("number"), value) == salesforce  # type: ignore[arg-type]
    assert from_wire(hs("number"), hubspot) == from_wire(sf("number"), salesforce)


def test_number_equality_across_representations() -> None:
    assert same_value(hs("number"), "5", 5.0)
    assert same_value(sf("number"), "5.00", 5)
    assert not same_value(hs("number"), "5", "5.5")
    assert same_value(hs("number"), "abc", "abc")  # unreadable: compared verbatim


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", True, [1]])
def test_bad_numbers_are_refused(bad: object) -> None:
    with pytest.raises(TransformError, match="number"):
        to_wire(sf("number"), bad)  # type: ignore[arg-type]


def test_booleans() -> None:
    assert to_wire(hs("bool"), True) == "true"
    assert to_wire(hs("bool"), "FALSE") == "false"
    assert to_wire(sf("bool"), "true") is True
    assert from_wire(hs("bool"), "true") is True
    assert same_value(hs("bool"), "true", True)
    with pytest.raises(TransformError, match="not true or false"):
        to_wire(sf("bool"), "maybe")


# --- dates and datetimes ----------------------------------------------------------------------


def test_datetime_formats_on_both_systems() -> None:
    assert to_wire(hs("datetime"), AT) == "2024-01-31T10:00:00.123Z"
    assert to_wire(sf("datetime"), AT) == "2024-01-31T10:00:00.123Z"
    assert from_wire(sf("datetime"), "2024-01-31T10:00:00.123+0000") == AT.replace(
        microsecond=123000
    )
    assert from_wire(hs("datetime"), "1706695200123") == AT.replace(microsecond=123000)
    assert from_wire(hs("datetime"), "2024-01-31T10:00:00.123Z") == AT.replace(microsecond=123000)
    paris = timezone(timedelta(hours=1))
    assert to_wire(sf("datetime"), AT.astimezone(paris)) == "2024-01-31T10:00:00.123Z"
    assert to_wire(hs("datetime"), datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000Z"


def test_datetimes_compare_as_instants() -> None:
    field = sf("datetime")
    assert same_value(field, "2024-01-31T10:00:00.000+0000", "2024-01-31T11:00:00+01:00")
    assert same_value(hs("datetime"), "1706695200000", "2024-01-31T10:00:00Z")
    assert same_value(field, to_wire(field, AT), "2024-01-31T10:00:00.123+0000")
    assert not same_value(field, "2024-01-31T10:00:00.000+0000", "2024-01-31T10:00:01Z")


def test_naive_and_bad_datetimes_are_refused() -> None:
    with pytest.raises(TransformError, match="no time zone"):
        to_wire(sf("datetime"), AT.replace(tzinfo=None))
    with pytest.raises(TransformError, match="not a date and time"):
        from_wire(hs("datetime"), "yesterday")


def test_dates_are_midnight_utc() -> None:
    assert to_wire(hs("date"), AT) == "2024-01-31"
    assert to_wire(sf("date"), "2024-01-31") == "2024-01-31"
    assert to_wire(sf("date"), date(2024, 2, 1)) == "2024-02-01"  # type: ignore[arg-type]
    midnight = datetime(2024, 1, 31, tzinfo=UTC)
    assert from_wire(hs("date"), "2024-01-31") == midnight
    assert from_wire(hs("date"), str(int(midnight.timestamp() * 1000))) == midnight
    assert from_wire(sf("date"), "2024-01-31") == midnight
    assert same_value(sf("date"), "2024-01-31", "2024-01-31T00:00:00Z")
    with pytest.raises(TransformError, match="not a date"):
        from_wire(sf("date"), "2024-13-45")


INSTANTS = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001
    max_value=datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@given(INSTANTS)
def test_datetime_round_trip_on_both_systems(instant: datetime) -> None:
    millis = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    for field in (hs("datetime"), sf("datetime")):
        wire = to_wire(field, instant)
        assert from_wire(field, wire) == millis
        assert same_value(field, wire, to_wire(field, millis))
    salesforce_read = (
        millis.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis.microsecond // 1000:03d}+0000"
    )
    assert from_wire(sf("datetime"), salesforce_read) == millis
    epoch_ms = str((millis - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1))
    assert from_wire(hs("datetime"), epoch_ms) == millis


@given(INSTANTS)
def test_date_round_trip_on_both_systems(instant: datetime) -> None:
    midnight = datetime.combine(instant.date(), datetime.min.time(), tzinfo=UTC)
    for field in (hs("date"), sf("date")):
        wire = to_wire(field, instant)
        assert wire == instant.date().isoformat()
        assert from_wire(field, wire) == midnight


@given(st.one_of(st.integers(-(10**12), 10**12), st.floats(-1e9, 1e9, allow_nan=False)))
def test_number_round_trip(number: float) -> None:
    for field in (hs("number"), sf("number")):
        wire = to_wire(field, number)
        assert from_wire(field, wire) == number
        assert same_value(field, wire, number)
