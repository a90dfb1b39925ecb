"""Attribution models over the touches of one conversion, and credit that adds up to the cent.

A *path* is the touches of one person (or of one opportunity's buying group) up to a
conversion worth V, ordered by ``(occurred_at, id)`` so ties are deterministic. Touches after
the conversion are not part of the path. A model gives weights wᵢ ≥ 0 with Σwᵢ = 1; touch i
earns wᵢ·V, paid in whole cents by :func:`closedloop.revenue.credit.split_amount`, so the
credits of every conversion sum exactly to V. A conversion without touches credits
:data:`~closedloop.revenue.credit.UNATTRIBUTED`.

Models (attribution reference §2-§3): ``first_touch``, ``last_touch``, ``linear`` (wᵢ = 1/n),
``time_decay`` (wᵢ ∝ 2^(-Δtᵢ/H), Δtᵢ the age at conversion, H = 7 days by default) and the
tables of :mod:`closedloop.revenue.positions`: ``u_shaped`` (40/20/40), ``u_shaped_lc``,
``w_shaped`` (30/30/30 + 10), ``full_path`` (22.5 x 4 + 10) and ``custom``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

from closedloop.revenue import positions
from closedloop.revenue.credit import CENT, UNATTRIBUTED, split_amount
from closedloop.revenue.positions import PositionWeights

__all__ = [
    "DEFAULT_HALF_LIFE",
    "MODEL_NAMES",
    "Attribution",
    "AttributionModel",
    "LinearModel",
    "PositionModel",
    "TimeDecayModel",
    "Touch",
    "TouchCredit",
    "attribute",
    "get_model",
    "order_path",
]

DEFAULT_HALF_LIFE = timedelta(days=7)


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")


@dataclass(frozen=True)
class Touch:
    """One marketing interaction on a path.

    Attributes:
        id: a stable identifier; breaks ties between touches at the same instant.
        occurred_at: when it happened (timezone-aware).
        channel: the channel it is credited to (``Paid Search``, ``Email``, ...).
        source: the traffic source (``google``, ``newsletter``), if known.
        campaign: the campaign name or id, if known.
        is_lead_creation: this touch made the person a lead (LC).
        is_opportunity_creation: this is the last touch before the opportunity was created (OC).
        stages: custom stage milestones this touch holds (e.g. ``{"MQL"}``).
    """

    id: str
    occurred_at: datetime
    channel: str
    source: str | None = None
    campaign: str | None = None
    is_lead_creation: bool = False
    is_opportunity_creation: bool = False
    stages: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _require_aware(self.occurred_at, f"touch {self.id!r} occurred_at")

    @property
    def milestones(self) -> frozenset[str]:
        """The milestones this touch holds: ``LC``, ``OC`` and its custom stages."""
        flags = {
            positions.LEAD_CREATION: self.is_lead_creation,
            positions.OPPORTUNITY_CREATION: self.is_opportunity_creation,
        }
        return self.stages | {name for name, held in flags.items() if held}


def order_path(touches: Iterable[Touch], converted_at: datetime | None = None) -> list[Touch]:
    """Sort touches by ``(occurred_at, id)`` and drop those after ``converted_at``.

    Args:
        touches: the touches of one conversion, in any order.
        converted_at: the conversion time (timezone-aware); ``None`` keeps every touch.

    Returns:
        The path, oldest first.
    """
    if converted_at is not None:
        _require_aware(converted_at, "converted_at")
    ordered = sorted(touches, key=lambda touch: (touch.occurred_at, touch.id))
    if converted_at is None:
        return ordered
    return [touch for touch in ordered if touch.occurred_at <= converted_at]


class AttributionModel(Protocol):
    """Anything that turns an ordered path into one weight per touch."""

    @property
    def name(self) -> str:
        """The model's name as shown in reports."""
        ...

    def weights(self, path: Sequence[Touch], converted_at: datetime) -> list[Fraction]:
        """Weights aligned with ``path`` (non-empty, ordered), summing to 1."""
        ...


@dataclass(frozen=True)
class PositionModel:
    """A position or milestone model (first/last touch, U, W, full path, custom).

    Milestones are found on the path: FT is the first touch, LT and CW the last (a revenue
    path ends at the close), LC and OC the earliest touch flagged ``is_lead_creation`` /
    ``is_opportunity_creation``, and a custom stage the earliest touch listing it in
    ``stages``. An absent milestone drops out as described in
    :mod:`closedloop.revenue.positions`.
    """

    name: str
    table: PositionWeights

    def weights(self, path: Sequence[Touch], converted_at: datetime) -> list[Fraction]:
        """Weights from the table for the milestones found on ``path``."""
        del converted_at  # position models ignore time
        last = len(path) - 1
        holders: dict[str, int | None] = {
            positions.FIRST_TOUCH: 0,
            positions.LAST_TOUCH: last,
            positions.CLOSED_WON: last,
        }
        for name in self.table.positions:
            if name not in holders:
                holders[name] = next((i for i, t in enumerate(path) if name in t.milestones), None)
        return self.table.spread(len(path), holders)


@dataclass(frozen=True)
class LinearModel:
    """Equal credit: wᵢ = 1/n."""

    name: str = "linear"

    def weights(self, path: Sequence[Touch], converted_at: datetime) -> list[Fraction]:
        """One n-th for each of the n touches."""
        del converted_at
        return [Fraction(1, len(path))] * len(path)


@dataclass(frozen=True)
class TimeDecayModel:
    """Exponential decay by age: wᵢ ∝ 2^(-Δtᵢ / H).

    Touches 14, 7 and 0 days old with H = 7 days weigh ¼, ½ and 1, that is 1/7, 2/7, 4/7.
    Ages are measured from the newest touch before exponentiating (a common factor that
    cancels in the normalisation), so very old paths never underflow to all-zero weights.
    """

    half_life: timedelta = DEFAULT_HALF_LIFE
    name: str = "time_decay"

    def __post_init__(self) -> None:
        if self.half_life <= timedelta(0):
            raise ValueError(f"half-life must be positive, got {self.half_life}")

    def weights(self, path: Sequence[Touch], converted_at: datetime) -> list[Fraction]:
        """Halve the weight for every half-life between a touch and the newest touch."""
        del converted_at  # Δtᵢ - Δt_min does not depend on the conversion time
        newest = max(touch.occurred_at for touch in path)
        half_life = self.half_life.total_seconds()
        raw = [
            Fraction(2.0 ** (-(newest - t.occurred_at).total_seconds() / half_life)) for t in path
        ]
        total = sum(raw, Fraction(0))
        return [value / total for value in raw]


_POSITION_TABLES: Mapping[str, PositionWeights] = {
    "first_touch": positions.FIRST_TOUCH_ONLY,
    "last_touch": positions.LAST_TOUCH_ONLY,
    "u_shaped": positions.U_SHAPED,
    "u_shaped_lc": positions.U_SHAPED_LC,
    "w_shaped": positions.W_SHAPED,
    "full_path": positions.FULL_PATH,
}

MODEL_NAMES = (*_POSITION_TABLES, "linear", "time_decay", "custom")
"""Every model :func:`get_model` accepts."""


def get_model(
    name: str,
    *,
    half_life: timedelta = DEFAULT_HALF_LIFE,
    custom_weights: Mapping[str, positions.ConfigWeight] | None = None,
) -> AttributionModel:
    """Build a model by name.

    Args:
        name: one of :data:`MODEL_NAMES`.
        half_life: the half-life of ``time_decay``.
        custom_weights: the table of ``custom``, e.g. ``{"FT": 0.4, "LC": 0.4, "middle": 0.2}``.

    Returns:
        The model.

    Raises:
        ValueError: for an unknown name, or invalid or missing custom weights.
    """
    if name in _POSITION_TABLES:
        return PositionModel(name, _POSITION_TABLES[name])
    if name == "linear":
        return LinearModel()
    if name == "time_decay":
        return TimeDecayModel(half_life)
    if name == "custom":
        if custom_weights is None:
            raise ValueError("the custom model needs custom_weights")
        return PositionModel("custom", PositionWeights.from_config(custom_weights))
    raise ValueError(f"unknown attribution model {name!r}; choose one of {', '.join(MODEL_NAMES)}")


@dataclass(frozen=True)
class TouchCredit:
    """What one touch earned from one conversion."""

    touch: Touch
    weight: Fraction
    amount: Decimal


@dataclass(frozen=True)
class Attribution:
    """The credit of one conversion, per touch; the amounts sum exactly to ``amount``."""

    model: str
    amount: Decimal
    credits: tuple[TouchCredit, ...]

    def by(self, key: Callable[[Touch], str | None]) -> dict[str, Decimal]:
        """Sum the credit per group (``None`` keys count as unattributed).

        Args:
            key: the group of a touch, e.g. ``lambda t: t.campaign``.

        Returns:
            Group to amount; a conversion without touches gives ``{UNATTRIBUTED: amount}``.
        """
        if not self.credits:
            return {UNATTRIBUTED: self.amount}
        totals: dict[str, Decimal] = {}
        for credit in self.credits:
            group = key(credit.touch) or UNATTRIBUTED
            totals[group] = totals.get(group, Decimal(0)) + credit.amount
        return totals

    def by_channel(self) -> dict[str, Decimal]:
        """Sum the credit per channel."""
        return self.by(lambda touch: touch.channel)


def attribute(
    touches: Iterable[Touch],
    amount: Decimal,
    model: AttributionModel,
    *,
    converted_at: datetime | None = None,
    quantum: Decimal = CENT,
) -> Attribution:
    """Credit one conversion worth ``amount`` to its touches.

    Args:
        touches: the touches of the conversion, in any order.
        amount: the value to distribute, a whole number of ``quantum`` units.
        model: the attribution model (see :func:`get_model`).
        converted_at: the conversion time; later touches are excluded. Defaults to the time
            of the newest touch.
        quantum: the rounding unit of the credits.

    Returns:
        The per-touch credits, summing exactly to ``amount``.
    """
    path = order_path(touches, converted_at)
    # Without touches a dummy weight still validates the amount, and map() yields no credit.
    weights = model.weights(path, converted_at or path[-1].occurred_at) if path else [Fraction(1)]
    amounts = split_amount(amount, weights, quantum=quantum)
    return Attribution(model.name, amount, tuple(map(TouchCredit, path, weights, amounts)))
