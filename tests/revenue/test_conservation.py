"""Every model conserves credit: per conversion, the credits sum exactly to its amount."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.revenue.attribution import MODEL_NAMES, Touch, attribute, get_model
from closedloop.revenue.credit import CENT, UNATTRIBUTED
from closedloop.revenue.markov import removal_effects

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CHANNELS = ["Paid Search", "Email", "Direct", "Organic Social", "Referral"]
CUSTOM = {"FT": 0.2, "LC": 0.2, "MQL": 0.15, "OC": 0.2, "CW": 0.15, "middle": 0.1}


@st.composite
def touches(draw: st.DrawFn) -> list[Touch]:
    count = draw(st.integers(min_value=0, max_value=12))
    return [
        Touch(
            id=draw(st.text(alphabet="abcdef", min_size=1, max_size=3)) + str(i),
            occurred_at=T0 + timedelta(hours=draw(st.integers(min_value=0, max_value=24 * 90))),
            channel=draw(st.sampled_from(CHANNELS)),
            campaign=draw(st.none() | st.sampled_from(["spring", "autumn"])),
            is_lead_creation=draw(st.booleans()),
            is_opportunity_creation=draw(st.booleans()),
            stages=frozenset(draw(st.sets(st.sampled_from(["MQL", "SQL"]), max_size=1))),
        )
        for i in range(count)
    ]


amounts = st.integers(min_value=-(10**8), max_value=10**10).map(lambda c: Decimal(c) * CENT)
conversion_times = st.none() | st.integers(min_value=0, max_value=24 * 100).map(
    lambda hours: T0 + timedelta(hours=hours)
)


@settings(max_examples=60, deadline=None)
@given(
    path=touches(),
    amount=amounts,
    converted_at=conversion_times,
    half_life_days=st.integers(min_value=1, max_value=60),
)
def test_every_model_conserves_credit(
    path: list[Touch], amount: Decimal, converted_at: datetime | None, half_life_days: int
) -> None:
    for name in MODEL_NAMES:
        model = get_model(name, half_life=timedelta(days=half_life_days), custom_weights=CUSTOM)
        result = attribute(path, amount, model, converted_at=converted_at)
        assert sum(c.weight for c in result.credits) in (0, 1), name
        assert sum(c.amount for c in result.credits) == (amount if result.credits else 0)
        for grouping in (result.by_channel(), result.by(lambda t: t.campaign)):
            assert sum(grouping.values(), Decimal(0)) == amount, name
        if not result.credits:
            assert result.by_channel() == {UNATTRIBUTED: amount}
        for credit in result.credits:
            assert credit.weight >= 0
            assert credit.amount == credit.amount.quantize(CENT)
            assert converted_at is None or credit.touch.occurred_at <= converted_at


journeys = st.lists(
    st.tuples(
        st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=6),
        st.integers(min_value=0, max_value=20),
        st.integers(min_value=0, max_value=20),
    ),
    min_size=1,
    max_size=25,
).filter(lambda rows: any(conversions for _, conversions, _ in rows))


@settings(max_examples=60, deadline=None)
@given(rows=journeys, amount=amounts.filter(bool), total=st.floats(min_value=0, max_value=1e9))
def test_markov_conserves_credit(
    rows: list[tuple[list[str], int, int]], amount: Decimal, total: float
) -> None:
    solved = removal_effects(rows)
    assert 0 < solved.conversion_probability <= 1
    assert all(0 <= effect <= 1 + 1e-12 for effect in solved.effects.values())
    split = solved.split(amount)
    assert sum(split.values(), Decimal(0)) == amount
    assert abs(sum(solved.distribute(total).values()) - total) <= 1e-9 * max(total, 1)
