"""Heuristic models over touches: the reference's worked examples and edge-case rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from closedloop.revenue.attribution import (
    AttributionModel,
    TimeDecayModel,
    Touch,
    attribute,
    get_model,
    order_path,
)
from closedloop.revenue.credit import UNATTRIBUTED

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

# §4: nine paths, each converting once with value 3 (total 27).
WORKED_PATHS = ["A", "A>B", "A>B>C", "B", "B>A", "B>C>A", "C", "C>A", "C>B>A"]
WORKED_EXPECTED = {
    "first_touch": {"A": "9", "B": "9", "C": "9"},
    "last_touch": {"A": "15", "B": "6", "C": "6"},
    "linear": {"A": "10.5", "B": "9.0", "C": "7.5"},
    "u_shaped": {"A": "11.1", "B": "8.4", "C": "7.5"},
}


def path(*channels: str, flags: str = "") -> list[Touch]:
    """Touches one day apart; ``flags`` marks L (lead creation) / O (opportunity creation)."""
    marks = flags.ljust(len(channels), ".")
    return [
        Touch(
            id=f"t{i}",
            occurred_at=T0 + timedelta(days=i),
            channel=channel,
            is_lead_creation=marks[i] == "L",
            is_opportunity_creation=marks[i] == "O",
        )
        for i, channel in enumerate(channels)
    ]


def weights(model: str | AttributionModel, touches: list[Touch]) -> list[Fraction]:
    chosen = get_model(model) if isinstance(model, str) else model
    result = attribute(touches, Decimal("1.00"), chosen)
    return [credit.weight for credit in result.credits]


@pytest.mark.parametrize("model", sorted(WORKED_EXPECTED))
def test_worked_example(model: str) -> None:
    totals: dict[str, Decimal] = {}
    for journey in WORKED_PATHS:
        credit = attribute(path(*journey.split(">")), Decimal("3.00"), get_model(model))
        for channel, amount in credit.by_channel().items():
            totals[channel] = totals.get(channel, Decimal(0)) + amount
    assert totals == {channel: Decimal(v) for channel, v in WORKED_EXPECTED[model].items()}
    assert sum(totals.values()) == 27


def test_time_decay_hand_check() -> None:
    touches = [
        Touch("a", T0, "Email"),
        Touch("b", T0 + timedelta(days=7), "Paid Search"),
        Touch("c", T0 + timedelta(days=14), "Direct"),
    ]
    late = Touch("d", T0 + timedelta(days=15), "Referral")
    result = attribute(
        [late, *touches],
        Decimal("700.00"),
        get_model("time_decay"),
        converted_at=touches[2].occurred_at,
    )
    assert [c.weight for c in result.credits] == [Fraction(1, 7), Fraction(2, 7), Fraction(4, 7)]
    assert result.by_channel() == {
        "Email": Decimal("100.00"),
        "Paid Search": Decimal("200.00"),
        "Direct": Decimal("400.00"),
    }


def test_time_decay_half_life_is_configurable_and_measured_from_the_conversion() -> None:
    touches = [Touch("a", T0, "Email"), Touch("b", T0 + timedelta(days=30), "Direct")]
    model = get_model("time_decay", half_life=timedelta(days=30))
    result = attribute(touches, Decimal("3.00"), model, converted_at=T0 + timedelta(days=60))
    assert [c.weight for c in result.credits] == [Fraction(1, 3), Fraction(2, 3)]
    with pytest.raises(ValueError, match="positive"):
        TimeDecayModel(timedelta(0))


def test_time_decay_survives_ancient_touches() -> None:
    touches = [Touch("a", T0, "Email"), Touch("b", T0 + timedelta(days=1), "Direct")]
    model = get_model("time_decay", half_life=timedelta(seconds=1))
    result = attribute(touches, Decimal("5.00"), model, converted_at=T0 + timedelta(days=3650))
    assert result.by_channel() == {"Email": Decimal("0.00"), "Direct": Decimal("5.00")}


def test_w_shaped_small_cases() -> None:
    assert weights("w_shaped", path("a", "b", "c", flags=".LO")) == [Fraction(1, 3)] * 3
    third = Fraction(1, 30)
    expected = [Fraction(3, 10), third, Fraction(3, 10), third, third, Fraction(3, 10)]
    assert weights("w_shaped", path("ft", "m1", "lc", "m2", "m3", "oc", flags="..L..O")) == expected


def test_full_path_small_cases() -> None:
    assert weights("full_path", path("a", "b", "c", "d", flags=".LO")) == [Fraction(1, 4)] * 4
    z, m = Fraction(9, 40), Fraction(1, 20)
    assert weights("full_path", path("ft", "a", "lc", "oc", "b", "cw", flags="..LO")) == [
        z,
        m,
        z,
        z,
        m,
        z,
    ]


def test_collapsed_milestones_add_up() -> None:
    # FT is also LC: 0.3 + 0.3; OC 0.3; the two middle touches share 0.1.
    got = weights("w_shaped", path("a", "m1", "m2", "oc", flags="L..O"))
    assert got == [Fraction(6, 10), Fraction(1, 20), Fraction(1, 20), Fraction(3, 10)]


def test_missing_milestone_is_dropped_and_the_rest_renormalised() -> None:
    # No OC yet: FT 0.3, LC 0.3, middle 0.1 over 0.7.
    got = weights("w_shaped", path("a", "lc", "m", flags=".L"))
    assert got == [Fraction(3, 7), Fraction(3, 7), Fraction(1, 7)]


@pytest.mark.parametrize("model", ["u_shaped", "w_shaped", "full_path", "time_decay", "linear"])
def test_one_touch_takes_everything(model: str) -> None:
    assert weights(model, path("only", flags="LO")) == [Fraction(1)]


def test_u_shaped_positions() -> None:
    assert weights("u_shaped", path("a", "b")) == [Fraction(1, 2)] * 2
    assert weights("u_shaped", path("a", "b", "c", "d")) == [
        Fraction(2, 5),
        Fraction(1, 10),
        Fraction(1, 10),
        Fraction(2, 5),
    ]
    assert weights("u_shaped_lc", path("a", "b", "c", "d", flags="..L")) == [
        Fraction(2, 5),
        Fraction(1, 10),
        Fraction(2, 5),
        Fraction(1, 10),
    ]


def test_custom_weights_with_a_stage_and_missing_milestones() -> None:
    touches = path("a", "b", "c", "d")
    touches[1] = Touch("t1", touches[1].occurred_at, "b", stages=frozenset({"MQL"}))
    config = {"FT": 0.2, "lc": 0.2, "MQL": 0.15, "OC": 0.2, "CW": 0.15, "Middle": 0.1}
    result = attribute(touches, Decimal("100.00"), get_model("custom", custom_weights=config))
    # No LC and no OC: FT 0.2, MQL 0.15, CW 0.15, middle 0.1 (one touch), renormalised by 0.6.
    assert [c.weight for c in result.credits] == [
        Fraction(1, 3),
        Fraction(1, 4),
        Fraction(1, 6),
        Fraction(1, 4),
    ]
    assert sum(result.by_channel().values()) == Decimal("100.00")


def test_table_with_nothing_present_falls_back_to_equal_shares() -> None:
    model = get_model("custom", custom_weights={"LC": 1})
    assert weights(model, path("a", "b")) == [Fraction(1, 2)] * 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"FT": 0.5, "middle": 0.4}, "sum to 1"),
        ({"FT": 1.2, "middle": -0.2}, ">= 0"),
        ({"FT": "x", "middle": 1}, "must be a number"),
        ({"FT": float("nan"), "middle": 1}, "number|finite"),
        ({"FT": True}, "must be a number"),
        ({"FT": 0.5, "ft": 0.5}, "more than once"),
        ({"": 1}, "non-empty"),
        ({}, "sum to 1"),
    ],
)
def test_custom_weights_are_validated(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        get_model("custom", custom_weights=config)  # type: ignore[arg-type]


def test_custom_weights_tolerate_float_noise_only() -> None:
    get_model("custom", custom_weights={"FT": 0.1, "LC": 0.2, "middle": 0.7 + 5e-10})
    with pytest.raises(ValueError, match="sum to 1"):
        get_model("custom", custom_weights={"FT": 0.1, "LC": 0.2, "middle": 0.7 + 1e-8})
    with pytest.raises(ValueError, match="needs custom_weights"):
        get_model("custom")
    with pytest.raises(ValueError, match="unknown attribution model"):
        get_model("shapley")


def test_ties_are_ordered_by_timestamp_then_id() -> None:
    same = T0
    touches = [Touch("b", same, "Second"), Touch("a", same, "First"), Touch("c", same, "Third")]
    assert [t.id for t in order_path(touches)] == ["a", "b", "c"]
    result = attribute(reversed(touches), Decimal("1.00"), get_model("first_touch"))
    assert result.by_channel()["First"] == Decimal("1.00")


def test_timezones_compare_by_instant() -> None:
    paris = Touch("x", datetime(2024, 3, 1, 10, 30, tzinfo=ZoneInfo("Europe/Paris")), "Paris")
    utc = Touch("y", datetime(2024, 3, 1, 10, 0, tzinfo=UTC), "UTC")  # later instant
    assert [t.channel for t in order_path([utc, paris])] == ["Paris", "UTC"]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Touch("a", datetime(2024, 1, 1), "Email")  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        order_path(path("a"), datetime(2024, 1, 1))  # noqa: DTZ001


def test_no_touches_credits_the_unattributed_bucket() -> None:
    before = T0 - timedelta(days=1)
    result = attribute(path("a", "b"), Decimal("99.99"), get_model("linear"), converted_at=before)
    assert result.credits == ()
    assert result.by_channel() == {UNATTRIBUTED: Decimal("99.99")}
    assert attribute([], Decimal("5.00"), get_model("w_shaped")).by(lambda t: t.campaign) == {
        UNATTRIBUTED: Decimal("5.00")
    }


def test_grouping_by_campaign_puts_missing_campaigns_in_unattributed() -> None:
    touches = [Touch("a", T0, "Email", campaign="spring"), Touch("b", T0, "Direct")]
    result = attribute(touches, Decimal("10.00"), get_model("linear"))
    assert result.by(lambda t: t.campaign) == {
        "spring": Decimal("5.00"),
        UNATTRIBUTED: Decimal("5.00"),
    }
