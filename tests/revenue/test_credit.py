"""Largest-remainder splitting: shares are whole cents and add up exactly to the amount."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from closedloop.revenue.credit import CENT, normalise, split_amount


def test_thirds_round_the_first_share_up() -> None:
    assert split_amount(Decimal("100.00"), [1, 1, 1]) == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]


def test_largest_remainder_wins_over_position() -> None:
    # quotas 0.03 x (1/7, 2/7, 4/7) = 0.43, 0.86, 1.71 cents: floors 0/0/1, remainders .43 .86 .71
    assert split_amount(Decimal("0.03"), [Fraction(1, 7), Fraction(2, 7), Fraction(4, 7)]) == [
        Decimal("0.00"),
        Decimal("0.01"),
        Decimal("0.02"),
    ]


def test_weights_need_not_sum_to_one_and_zero_weights_get_nothing() -> None:
    assert split_amount(Decimal("10.00"), [0, 3, 1]) == [
        Decimal("0.00"),
        Decimal("7.50"),
        Decimal("2.50"),
    ]


def test_negative_amount_mirrors_the_positive_split() -> None:
    positive = split_amount(Decimal("100.00"), [1, 1, 1])
    assert split_amount(Decimal("-100.00"), [1, 1, 1]) == [-share for share in positive]


def test_whole_units_quantum() -> None:
    assert split_amount(Decimal("1000"), [1, 1, 1], quantum=Decimal("1")) == [
        Decimal("334"),
        Decimal("333"),
        Decimal("333"),
    ]


@pytest.mark.parametrize(
    ("amount", "weights", "message"),
    [
        (Decimal("1.005"), [1], "whole number"),
        (Decimal("NaN"), [1], "cannot split"),
        (Decimal("1.00"), [], "all zero"),
        (Decimal("1.00"), [0, 0], "all zero"),
        (Decimal("1.00"), [1, -0.5], ">= 0"),
        (Decimal("1.00"), [float("inf")], "finite"),
    ],
)
def test_invalid_input_is_refused(amount: Decimal, weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_amount(amount, weights)


def test_normalise_is_exact() -> None:
    assert normalise([0.25, 0.5, 1.0]) == [Fraction(1, 7), Fraction(2, 7), Fraction(4, 7)]
    assert sum(normalise([0.1, 0.2, 0.3])) == 1


amounts = st.integers(min_value=-(10**9), max_value=10**9).map(lambda cents: Decimal(cents) * CENT)
weight_lists = st.lists(
    st.one_of(
        st.floats(min_value=0, max_value=1e6, allow_nan=False),
        st.fractions(min_value=0, max_value=100),
        st.integers(min_value=0, max_value=10),
    ),
    min_size=1,
    max_size=30,
).filter(any)


@given(amount=amounts, weights=weight_lists)
def test_shares_are_cents_that_sum_exactly_and_stay_within_a_cent(
    amount: Decimal, weights: list[float]
) -> None:
    shares = split_amount(amount, weights)
    assert len(shares) == len(weights)
    assert sum(shares, Decimal(0)) == amount
    exact = normalise(weights)
    for share, weight in zip(shares, exact, strict=True):
        assert share == share.quantize(CENT)
        assert abs(Fraction(share) - Fraction(amount) * weight) < Fraction(CENT)
    assert split_amount(amount, weights) == shares  # deterministic
