"""Markov removal effects: the reference's hand examples, an independent oracle, a simulation."""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.revenue.markov import CONVERSION, NULL, START, removal_effects

EXAMPLE_1 = [(["google_ads"], 2, 1), (["mailing"], 1, 0), (["google_ads", "mailing"], 1, 0)]
EXAMPLE_2 = [(["c1", "c2", "c3"], 1, 0), (["c1"], 0, 1), (["c2", "c3"], 0, 1)]
Rows = Sequence[tuple[Sequence[str], int, int]]


def test_example_1_exactly() -> None:
    solved = removal_effects(EXAMPLE_1, exact=True)
    assert solved.conversion_probability == Fraction(4, 5)
    assert solved.effects == {"google_ads": Fraction(3, 4), "mailing": Fraction(1, 2)}
    assert solved.distribute(4) == {"google_ads": 2.4, "mailing": 1.6}


def test_example_2_exactly() -> None:
    solved = removal_effects(EXAMPLE_2, exact=True)
    assert solved.conversion_probability == Fraction(1, 3)
    assert solved.effects == {"c1": Fraction(1, 2), "c2": Fraction(1), "c3": Fraction(1)}
    assert solved.distribute(1) == {"c1": 0.2, "c2": 0.4, "c3": 0.4}
    assert solved.split(Decimal("1.00")) == {
        "c1": Decimal("0.20"),
        "c2": Decimal("0.40"),
        "c3": Decimal("0.40"),
    }


def test_float_solution_matches_the_exact_one() -> None:
    for rows in (EXAMPLE_1, EXAMPLE_2):
        exact = removal_effects(rows, exact=True)
        approx = removal_effects(rows)
        assert approx.conversion_probability == pytest.approx(float(exact.conversion_probability))
        for channel, effect in exact.effects.items():
            assert approx.effects[channel] == pytest.approx(float(effect), abs=1e-12)


def test_repeated_channels_are_kept_as_self_loops() -> None:
    # A > A converts once, A fails once: A→A 1/3, A→conv 1/3, A→null 1/3, so
    # x_A = 1/3 + x_A/3 = 1/2 and P = start→A (1/2) · 1/2. B only ever fails: RE(B) = 0.
    solved = removal_effects([(["A", "A"], 1, 0), (["A"], 0, 1), (["B"], 0, 2)], exact=True)
    assert solved.conversion_probability == Fraction(1, 4)
    assert solved.effects == {"A": Fraction(1), "B": Fraction(0)}


def test_nothing_converts() -> None:
    solved = removal_effects([(["A", "B"], 0, 3)])
    assert solved.conversion_probability == 0
    assert solved.shares() == {"A": 0.0, "B": 0.0}
    with pytest.raises(ValueError, match="all zero"):
        solved.split(Decimal("1.00"))


def test_bad_journeys_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one channel"):
        removal_effects([([], 1, 0)])
    with pytest.raises(ValueError, match="negative"):
        removal_effects([(["A"], -1, 0)])


# --- an independent oracle: solve P(conv) again for every removal (the reference's method) ---


def transitions(rows: Rows) -> dict[str, dict[str, Fraction]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for channels, conversions, nulls in rows:
        for end, weight in ((CONVERSION, conversions), (NULL, nulls)):
            walk = [START, *channels, end]
            for here, there in itertools.pairwise(walk):
                counts[here][there] += weight
    return {
        here: {there: Fraction(n, sum(row.values())) for there, n in row.items() if n}
        for here, row in counts.items()
        if sum(row.values())
    }


def p_conv(chain: dict[str, dict[str, Fraction]], removed: str | None = None) -> Fraction:
    """Absorption probability by Gauss-Jordan over Fractions, with pivoting."""
    states = [s for s in chain if s != removed]
    where = {s: i for i, s in enumerate(states)}
    size = len(states)
    system = [[Fraction(0)] * (size + 1) for _ in range(size)]
    for s in states:
        system[where[s]][where[s]] += 1
        for target, p in chain[s].items():
            if target == CONVERSION:
                system[where[s]][size] += p
            elif target in where:
                system[where[s]][where[target]] -= p
    for col in range(size):
        pivot = next(r for r in range(col, size) if system[r][col])
        system[col], system[pivot] = system[pivot], system[col]
        for r in range(size):
            if r != col and system[r][col]:
                f = system[r][col] / system[col][col]
                system[r] = [a - f * b for a, b in zip(system[r], system[col], strict=True)]
    return system[where[START]][size] / system[where[START]][where[START]]


small_rows = st.lists(
    st.tuples(
        st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=5),
        st.integers(min_value=0, max_value=5),
        st.integers(min_value=0, max_value=5),
    ),
    min_size=1,
    max_size=8,
).filter(lambda rows: any(c for _, c, _ in rows))


@settings(max_examples=40, deadline=None)
@given(rows=small_rows)
def test_closed_form_equals_resolving_for_each_removal(rows: Rows) -> None:
    chain = transitions(rows)
    base = p_conv(chain)
    solved = removal_effects(rows, exact=True)
    assert solved.conversion_probability == base
    for channel, effect in solved.effects.items():
        removed = p_conv(chain, channel) if channel in chain else base
        assert effect == 1 - removed / base, channel


# --- a seeded Monte-Carlo simulation of the same chain ---


def simulate(rows: Rows, walks: int, seed: int) -> dict[str, float]:
    """Credit shares estimated by random walks; removing c = walks that never visit c."""
    chain = transitions(rows)
    table = {
        here: ([float(p) for p in itertools.accumulate(row.values())], list(row))
        for here, row in chain.items()
    }
    rng = random.Random(seed)
    converted = 0
    survived: Counter[str] = Counter()
    channels = {c for channels, _, _ in rows for c in channels}
    for _ in range(walks):
        state, seen = START, set()
        while state not in (CONVERSION, NULL):
            cumulative, targets = table[state]
            state = targets[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]
            seen.add(state)
        if state == CONVERSION:
            converted += 1
            survived.update(channels - seen)
    effects = {c: 1 - survived[c] / converted for c in channels}
    total = sum(effects.values())
    return {c: e / total for c, e in effects.items()}


def test_exact_credit_is_within_three_percent_of_a_converged_simulation() -> None:
    rows = [
        (["search", "email", "direct"], 30, 20),
        (["social", "search"], 12, 40),
        (["email", "email", "direct"], 18, 9),
        (["direct"], 25, 60),
        (["social", "email", "search", "direct"], 9, 6),
        (["search"], 20, 35),
        (["social", "direct", "social"], 4, 30),
    ]
    exact = removal_effects(rows).shares()
    simulated = simulate(rows, walks=400_000, seed=20240301)
    assert set(exact) == set(simulated)
    for channel, share in exact.items():
        assert simulated[channel] == pytest.approx(share, rel=0.03), channel


def test_hundreds_of_channels_and_thousands_of_paths_solve_quickly() -> None:
    rng = random.Random(7)
    channels = [f"channel {i:03d}" for i in range(200)]
    rows = []
    for _ in range(3000):
        length = rng.randint(1, 8)
        converts = rng.random() < 0.3
        rows.append(([rng.choice(channels) for _ in range(length)], int(converts), 1 - converts))
    started = time.perf_counter()
    solved = removal_effects(rows)
    assert time.perf_counter() - started < 5
    assert sum(solved.shares().values()) == pytest.approx(1)
    assert set(solved.effects) == {c for path, _, _ in rows for c in path}
