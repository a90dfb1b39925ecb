"""From a won deal's buyers to per-touch credits under every attribution model.

The path of a deal is the touches of all its buyers (people) at or before the close, ordered
by ``(time, person:touch key)`` (attribution reference §1: a buying group's touches pooled).
Salesforce gives only a close *date*, so a close at midnight UTC counts as the end of that
day. Each buyer's lead-creation touch is flagged (``LC``); the opportunity-creation touch is
unknown to closedloop and drops out (rule §2.1.3). Every model splits the home amount to the
cent (:func:`closedloop.revenue.credit.split_amount`); a deal with no known buyer, or whose
buyers have no touches before the close, credits :data:`~closedloop.revenue.credit.
UNATTRIBUTED` with the whole amount, so the credits of every deal sum to its amount.

``markov`` is the first-order removal-effect model solved over every journey the store knows
(:func:`markov_model`): the won deals' paths convert, every other person's path does not. A
deal's share per touch is RE(channel) divided among that channel's touches on the path, so a
channel that appears twice is not counted twice; paths whose channels all have zero effect
fall back to equal shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from closedloop.config.schema import RevenueSettings
from closedloop.revenue.attribution import (
    MODEL_NAMES,
    AttributionModel,
    Touch,
    attribute,
    get_model,
)
from closedloop.revenue.credit import UNATTRIBUTED
from closedloop.revenue.currency import from_cents, to_cents
from closedloop.revenue.markov import removal_effects
from closedloop.sync.model import compute_stamps
from closedloop.sync.touchpoints import Touchpoint, touch_key

__all__ = [
    "UNASSIGNED_CHANNEL",
    "Credit",
    "MarkovModel",
    "close_cutoff",
    "credit_deal",
    "deal_path",
    "markov_model",
    "models_for",
]

UNASSIGNED_CHANNEL = "Unassigned"


@dataclass(frozen=True)
class Credit:
    """What one touch (or the unattributed bucket, ``person_id`` None) earned from one deal."""

    person_id: str | None
    touch_key: str | None
    occurred_at: datetime | None
    channel: str | None
    source: str | None
    campaign: str | None
    amount: Decimal

    def as_row(self) -> dict[str, Any]:
        """The credit's columns in ``revenue_credits`` / ``pipeline_credits`` (money in cents)."""
        return {
            "person_id": self.person_id,
            "touch_key": self.touch_key,
            "occurred_at": self.occurred_at,
            "channel": self.channel,
            "source": self.source,
            "campaign": self.campaign,
            "amount_cents": to_cents(self.amount),
        }

    @classmethod
    def from_row(cls, row: Any) -> Credit:
        """A credit read back from ``revenue_credits`` or ``pipeline_credits``."""
        return cls(
            person_id=row.person_id,
            touch_key=row.touch_key,
            occurred_at=row.occurred_at,
            channel=row.channel,
            source=row.source,
            campaign=row.campaign,
            amount=from_cents(row.amount_cents) or Decimal("0.00"),
        )

    @property
    def campaign_key(self) -> str:
        """The campaign, or ``(unattributed)`` for unattributed credit or a touch without one."""
        return self.campaign or UNATTRIBUTED


@dataclass(frozen=True)
class MarkovModel:
    """Per-touch weights from channel removal effects (see the module docstring)."""

    effects: Mapping[str, float]
    name: str = "markov"

    def weights(self, path: Sequence[Touch], converted_at: datetime) -> list[Fraction]:
        """RE(channel) shared equally by the channel's touches; equal when all are zero."""
        del converted_at
        counts: dict[str, int] = {}
        for touch in path:
            counts[touch.channel] = counts.get(touch.channel, 0) + 1
        raw = [
            Fraction(max(self.effects.get(t.channel, 0.0), 0.0)) / counts[t.channel] for t in path
        ]
        total = sum(raw, Fraction(0))
        if total == 0:
            return [Fraction(1, len(path))] * len(path)
        return [value / total for value in raw]


def close_cutoff(close_date: datetime | None, now: datetime) -> datetime:
    """The last moment a touch may have to count: a midnight close means the end of that day."""
    if close_date is None:
        return now
    if close_date.timetz().replace(tzinfo=None) == time(0, 0):
        return close_date + timedelta(days=1) - timedelta(microseconds=1)
    return close_date


def models_for(
    settings: RevenueSettings, markov: MarkovModel | None = None
) -> dict[str, AttributionModel]:
    """Every model closedloop credits with: the built-ins, ``custom`` when configured, markov."""
    half_life = timedelta(days=settings.half_life_days)
    models: dict[str, AttributionModel] = {}
    for name in MODEL_NAMES:
        if name == "custom" and not settings.custom_weights:
            continue
        models[name] = get_model(name, half_life=half_life, custom_weights=settings.custom_weights)
    if markov is not None:
        models["markov"] = markov
    return models


def deal_path(
    touches_by_person: Mapping[str, Sequence[Touchpoint]],
    lead_at: Mapping[str, datetime | None],
    campaign_id: str | None = None,
) -> tuple[list[Touch], dict[str, tuple[str, Touchpoint]]]:
    """The pooled path of a deal's buyers, and each path touch's person and touchpoint.

    A touch without ``utm_campaign`` takes the deal's linked CRM campaign, when there is one.
    """
    path: list[Touch] = []
    origin: dict[str, tuple[str, Touchpoint]] = {}
    for person_id, touches in touches_by_person.items():
        if not touches:
            continue
        lead = compute_stamps(list(touches), became_lead_at=lead_at.get(person_id)).lead_touch
        for point in touches:
            key = touch_key(point)
            touch_id = f"{person_id}:{key}"
            origin[touch_id] = (person_id, point)
            path.append(
                Touch(
                    id=touch_id,
                    occurred_at=point.occurred_at,
                    channel=point.channel or UNASSIGNED_CHANNEL,
                    source=point.utm_source,
                    campaign=point.utm_campaign or campaign_id,
                    is_lead_creation=point is lead,
                )
            )
    return path, origin


def credit_deal(
    amount: Decimal,
    path: Sequence[Touch],
    origin: Mapping[str, tuple[str, Touchpoint]],
    converted_at: datetime,
    models: Mapping[str, AttributionModel],
) -> dict[str, list[Credit]]:
    """Credit ``amount`` over ``path`` under every model; no touches means unattributed."""
    credited: dict[str, list[Credit]] = {}
    for name, model in models.items():
        if not path:
            credited[name] = [Credit(None, None, None, None, None, None, amount)]
            continue
        result = attribute(path, amount, model, converted_at=converted_at)
        credited[name] = [
            Credit(
                person_id=origin[c.touch.id][0],
                touch_key=c.touch.id.split(":", 1)[1],
                occurred_at=c.touch.occurred_at,
                channel=c.touch.channel,
                source=c.touch.source,
                campaign=c.touch.campaign,
                amount=c.amount,
            )
            for c in result.credits
        ]
    return credited


def markov_model(
    converting: Iterable[Sequence[str]], not_converting: Iterable[Sequence[str]]
) -> MarkovModel:
    """Solve the chain over converting and non-converting channel journeys (exactly, floats)."""
    journeys: list[tuple[Sequence[str], float, float]] = [
        (path, 1.0, 0.0) for path in converting if path
    ]
    journeys += [(path, 0.0, 1.0) for path in not_converting if path]
    if not any(conv for _, conv, _ in journeys):
        return MarkovModel({})
    solved = removal_effects(journeys)
    return MarkovModel({channel: float(effect) for channel, effect in solved.effects.items()})
