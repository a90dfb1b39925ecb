"""Split an amount across attribution weights so the shares add up to the cent.

A model gives weights w₁…wₙ ≥ 0; touch i is owed the exact quota qᵢ = A·wᵢ / Σw. Money is
paid in whole units of a quantum (a cent by default), so each quota is rounded with the
*largest-remainder* (Hamilton) method:

1. every share starts at ⌊qᵢ / quantum⌋ quanta;
2. the quanta still missing, k = A/quantum - Σ⌊qᵢ/quantum⌋ (always 0 ≤ k < n), go one each to
   the k shares with the largest fractional remainders;
3. equal remainders are broken by position (earlier first), so the result is deterministic.

The arithmetic is exact (``fractions.Fraction``): float weights are taken at their exact binary
value, so ties such as ⅓/⅓/⅓ are real ties. The shares therefore always sum to exactly ``A``,
and no share is more than one quantum away from its quota. A negative amount (a refund or a
reversed closed-won) is split as its magnitude and negated, so the rounding mirrors the
positive case. Revenue with no touches at all belongs in :data:`UNATTRIBUTED`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

__all__ = ["CENT", "UNATTRIBUTED", "Weight", "normalise", "split_amount"]

UNATTRIBUTED = "(unattributed)"
"""The bucket that receives revenue whose conversion has no touches."""

CENT = Decimal("0.01")
"""The default rounding quantum."""

Weight = Fraction | float | int
"""A model weight: exact fractions from position models, floats from time decay or Markov."""


def _exact(weight: Weight) -> Fraction:
    """Convert a weight to an exact fraction, rejecting negative and non-finite values."""
    if isinstance(weight, float) and not math.isfinite(weight):
        raise ValueError(f"weights must be finite, got {weight!r}")
    value = Fraction(weight)
    if value < 0:
        raise ValueError(f"weights must be >= 0, got {weight!r}")
    return value


def normalise(weights: Sequence[Weight]) -> list[Fraction]:
    """Scale ``weights`` exactly so they sum to 1.

    Args:
        weights: one non-negative weight per touch; at least one must be positive.

    Returns:
        The weights divided by their sum, as exact fractions.

    Raises:
        ValueError: if a weight is negative or not finite, or all of them are zero.
    """
    exact = [_exact(weight) for weight in weights]
    total = sum(exact, Fraction(0))
    if total == 0:
        raise ValueError("cannot normalise weights that are all zero (or an empty list)")
    return [weight / total for weight in exact]


def split_amount(
    amount: Decimal, weights: Sequence[Weight], *, quantum: Decimal = CENT
) -> list[Decimal]:
    """Split ``amount`` in proportion to ``weights``, rounding by largest remainder.

    Args:
        amount: the money to split; must be a whole number of ``quantum`` units.
        weights: one non-negative weight per share; they need not sum to 1, only be
            non-zero in total.
        quantum: the smallest unit paid out (``Decimal("0.01")``, or ``Decimal("1")`` for
            currencies without minor units).

    Returns:
        One share per weight, each a multiple of ``quantum``, summing exactly to ``amount``.

    Raises:
        ValueError: if ``amount`` is not finite or not a multiple of ``quantum``, or the
            weights are invalid (see :func:`normalise`).

    Example:
        >>> split_amount(Decimal("100.00"), [1, 1, 1])
        [Decimal('33.34'), Decimal('33.33'), Decimal('33.33')]
    """
    if not amount.is_finite() or quantum <= 0:
        raise ValueError(f"cannot split {amount} in units of {quantum}")
    units = Fraction(amount) / Fraction(quantum)
    if units.denominator != 1:
        raise ValueError(f"{amount} is not a whole number of {quantum} units")
    shares = normalise(weights)
    sign = -1 if units < 0 else 1
    magnitude = abs(units.numerator)
    quotas = [magnitude * share for share in shares]
    floors = [math.floor(quota) for quota in quotas]
    missing = magnitude - sum(floors)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (floors[i] - quotas[i], i))
    for index in by_remainder[:missing]:
        floors[index] += 1
    return [(sign * count) * quantum for count in floors]
