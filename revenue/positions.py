"""Position and milestone weights: U-shaped, W-shaped, full path and custom tables.

A table gives a weight to named *positions* and a shared weight to the *middle* touches:

=========  ===================================================================
``FT``     first touch
``LT``     last touch
``LC``     lead-creation touch
``OC``     opportunity-creation touch
``CW``     closed-won touch (the last touch of a revenue path)
other      a custom stage (e.g. ``MQL``): the touch flagged with that stage
``middle`` shared equally by every touch holding none of the table's positions
=========  ===================================================================

The edge-case rules of the attribution reference (§2.1) follow from one formula. With P the
positions present on the path, M the middle touches and pos(p) the touch holding p::

    raw(i) = Σ_{p ∈ P, pos(p) = i} w_p  +  (w_middle / |M|  if i ∈ M)
    weight(i) = raw(i) / Σ_j raw(j)

* collapsed milestones add up (one touch holding FT and LC gets both shares);
* with no middle touches the middle share vanishes from the sum, which spreads it over the
  positions in proportion to their weights (40/20/40 on two touches gives ½/½);
* a missing milestone (no OC yet) simply drops out and the rest is renormalised;
* a single touch gets everything;
* if nothing present carries any weight (say an LC-only table on a path without a
  lead-creation touch), the touches share equally rather than leaving revenue unassigned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

__all__ = [
    "CLOSED_WON",
    "FIRST_TOUCH",
    "FIRST_TOUCH_ONLY",
    "FULL_PATH",
    "LAST_TOUCH",
    "LAST_TOUCH_ONLY",
    "LEAD_CREATION",
    "MIDDLE",
    "OPPORTUNITY_CREATION",
    "U_SHAPED",
    "U_SHAPED_LC",
    "W_SHAPED",
    "ConfigWeight",
    "PositionWeights",
]

FIRST_TOUCH = "FT"
LAST_TOUCH = "LT"
LEAD_CREATION = "LC"
OPPORTUNITY_CREATION = "OC"
CLOSED_WON = "CW"
MIDDLE = "middle"
_BUILTIN = (FIRST_TOUCH, LAST_TOUCH, LEAD_CREATION, OPPORTUNITY_CREATION, CLOSED_WON)
_TOLERANCE = 1e-9

ConfigWeight = Fraction | Decimal | float | int | str


def _parse_weight(key: str, value: ConfigWeight) -> Fraction:
    """Read one configured weight exactly (``0.225`` means 225/1000, not its binary value)."""
    if isinstance(value, bool):
        raise ValueError(f"weight for {key!r} must be a number, got {value!r}")
    try:
        exact = Fraction(str(value)) if isinstance(value, float | str) else Fraction(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise ValueError(f"weight for {key!r} must be a number, got {value!r}") from exc
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"weight for {key!r} must be finite, got {value!r}")
    if exact < 0:
        raise ValueError(f"weight for {key!r} must be >= 0, got {value}")
    return exact


def _canonical_key(key: str) -> str:
    """Built-in position names are case-insensitive; custom stage names are kept verbatim."""
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"position names must be non-empty strings, got {key!r}")
    upper = key.strip().upper()
    if upper in _BUILTIN:
        return upper
    if upper == MIDDLE.upper():
        return MIDDLE
    return key.strip()


@dataclass(frozen=True)
class PositionWeights:
    """A validated weight table over positions plus the middle share.

    Attributes:
        positions: weight of each named position (``FT``, ``LC``, a custom stage, ...).
        middle: the share split equally over the middle touches.
    """

    positions: Mapping[str, Fraction]
    middle: Fraction = field(default=Fraction(0))

    @classmethod
    def from_config(cls, config: Mapping[str, ConfigWeight]) -> PositionWeights:
        """Validate a configured table such as ``{"FT": 0.2, "LC": 0.2, "middle": 0.1, ...}``.

        Args:
            config: position name to weight; ``middle`` is the shared middle weight.

        Returns:
            The table, with weights normalised exactly to sum to 1.

        Raises:
            ValueError: if a weight is negative or not a number, a name is repeated, or the
                weights do not sum to 1 within 1e-9.
        """
        parsed: dict[str, Fraction] = {}
        for raw_key, value in config.items():
            key = _canonical_key(raw_key)
            if key in parsed:
                raise ValueError(f"position {key!r} is given more than once")
            parsed[key] = _parse_weight(key, value)
        total = sum(parsed.values(), Fraction(0))
        if not parsed or abs(float(total) - 1.0) > _TOLERANCE:
            raise ValueError(f"weights must sum to 1 (within 1e-9), got {float(total):.12g}")
        middle = parsed.pop(MIDDLE, Fraction(0)) / total
        return cls({key: weight / total for key, weight in parsed.items()}, middle)

    def spread(self, length: int, holders: Mapping[str, int | None]) -> list[Fraction]:
        """Weights for a path of ``length`` touches, by the formula in the module docstring.

        Args:
            length: number of touches on the path.
            holders: index of the touch holding each position, or ``None`` when the path has
                no such milestone. Positions the table does not name are ignored.

        Returns:
            One exact weight per touch, summing to 1 (an empty list for an empty path).
        """
        if length <= 1:
            return [Fraction(1)] * length
        raw = [Fraction(0)] * length
        held: set[int] = set()
        for name, weight in self.positions.items():
            index = holders.get(name)
            if index is None:
                continue
            if not 0 <= index < length:
                raise ValueError(f"position {name} points at touch {index} of {length}")
            raw[index] += weight
            held.add(index)
        middle = [i for i in range(length) if i not in held]
        if middle and self.middle:
            each = self.middle / len(middle)
            for index in middle:
                raw[index] += each
        total = sum(raw, Fraction(0))
        if total == 0:
            return [Fraction(1, length)] * length
        return [value / total for value in raw]


FIRST_TOUCH_ONLY = PositionWeights({FIRST_TOUCH: Fraction(1)})
"""First touch: w₁ = 1."""

LAST_TOUCH_ONLY = PositionWeights({LAST_TOUCH: Fraction(1)})
"""Last touch: wₙ = 1."""

U_SHAPED = PositionWeights(
    {FIRST_TOUCH: Fraction(2, 5), LAST_TOUCH: Fraction(2, 5)}, middle=Fraction(1, 5)
)
"""Position-based 40/20/40: 1 touch → 1, 2 touches → ½/½."""

U_SHAPED_LC = PositionWeights(
    {FIRST_TOUCH: Fraction(2, 5), LEAD_CREATION: Fraction(2, 5)}, middle=Fraction(1, 5)
)
"""U-shaped anchored on first touch and lead creation (40/20/40)."""

W_SHAPED = PositionWeights(
    {k: Fraction(3, 10) for k in (FIRST_TOUCH, LEAD_CREATION, OPPORTUNITY_CREATION)},
    middle=Fraction(1, 10),
)
"""W-shaped: FT = LC = OC = 0.30, middle 0.10."""

FULL_PATH = PositionWeights(
    {k: Fraction(9, 40) for k in (FIRST_TOUCH, LEAD_CREATION, OPPORTUNITY_CREATION, CLOSED_WON)},
    middle=Fraction(1, 10),
)
"""Full path (Z-shaped): FT = LC = OC = CW = 0.225, middle 0.10."""
