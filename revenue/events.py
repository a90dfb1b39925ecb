"""Revenue events with versions: what the CRM said about a deal, and what changed since.

Table ``revenue_versions`` (:mod:`closedloop.store.schema`), one row per version of a deal's
revenue event per ``(system, deal_id)``, and ``revenue_credits``, the credit of every won
version per touch and model (:mod:`closedloop.revenue.journeys`).

A deal gets its first version when it is first seen won. Afterwards a new version is recorded
only when something relevant changed: the state (``won`` / ``not_won`` for lost or reopened /
``deleted``), and for a won deal its amount, currency, home amount, close date, buyers or
campaign. Each version carries ``delta_home``, its won amount minus the previous version's
(a version that is not won counts zero). Reading the same deal again (duplicate webhooks, the
next reconciliation) compares fingerprints and records nothing. Two workers recording the
same version at once collide on ``UNIQUE(system, deal_id, version)``; the loser re-reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Engine, Row, func, insert, select
from sqlalchemy.exc import IntegrityError

from closedloop.revenue.currency import Conversion, from_cents, to_cents
from closedloop.revenue.journeys import Credit
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import revenue_credits, revenue_versions
from closedloop.sync.sql import begin_write, chunked

__all__ = ["DealState", "Observation", "RevenueStore", "RevenueVersion"]

DealState = Literal["won", "not_won", "deleted"]


@dataclass(frozen=True)
class Observation:
    """One reading of a deal, converted and with its buyers resolved to people."""

    system: str
    deal_id: str
    state: DealState
    amount: Decimal | None = None
    currency: str | None = None
    home_amount: Decimal = Decimal("0.00")
    home_currency: str = "USD"
    rate: Decimal | None = None
    rate_source: str = "home"
    close_date: datetime | None = None
    buyers: tuple[str, ...] = ()
    campaign_id: str | None = None

    @property
    def won_amount(self) -> Decimal:
        """The home amount when won, else zero."""
        return self.home_amount if self.state == "won" else Decimal("0.00")

    def fingerprint(self) -> str:
        """A hash of everything relevant; a deal that is not won is only its state."""
        relevant: dict[str, Any] = {"state": self.state}
        if self.state == "won":
            relevant.update(
                amount=str(self.amount),
                currency=self.currency,
                home=str(self.home_amount),
                close=self.close_date.isoformat() if self.close_date else None,
                buyers=sorted(self.buyers),
                campaign=self.campaign_id,
            )
        text = json.dumps(relevant, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RevenueVersion(Observation):
    """A recorded version of a deal's revenue event."""

    id: int = 0
    version: int = 0
    delta_home: Decimal = Decimal("0.00")
    created_at: datetime | None = None
    credits: Mapping[str, Sequence[Credit]] = field(default_factory=dict)


def _version(row: Row[Any]) -> RevenueVersion:
    return RevenueVersion(
        id=row.id,
        system=row.system,
        deal_id=row.deal_id,
        version=row.version,
        state=row.state,
        **Conversion.from_row(row).as_fields(),
        close_date=row.close_date,
        buyers=tuple(row.buyers or ()),
        campaign_id=row.campaign_id,
        delta_home=from_cents(row.delta_home_cents) or Decimal("0.00"),
        created_at=row.created_at,
    )


def _latest_ids() -> Any:
    return (
        select(func.max(revenue_versions.c.id))
        .group_by(revenue_versions.c.system, revenue_versions.c.deal_id)
        .scalar_subquery()
    )


class RevenueStore:
    """Record and read revenue versions and their credits.

    Args:
        engine: the state store.
        clock: the source of ``created_at``.
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def latest(self, system: str, deal_ids: Iterable[str]) -> dict[str, RevenueVersion]:
        """The newest version of each deal that has one."""
        found: dict[str, RevenueVersion] = {}
        with self._engine.connect() as conn:
            for chunk in chunked(dict.fromkeys(deal_ids)):
                query = select(revenue_versions).where(
                    revenue_versions.c.system == system,
                    revenue_versions.c.deal_id.in_(chunk),
                    revenue_versions.c.id.in_(_latest_ids()),
                )
                found.update({row.deal_id: _version(row) for row in conn.execute(query)})
        return found

    def current(self, *, won_only: bool = False) -> list[RevenueVersion]:
        """The newest version of every deal (only the won ones with ``won_only``)."""
        query = select(revenue_versions).where(revenue_versions.c.id.in_(_latest_ids()))
        if won_only:
            query = query.where(revenue_versions.c.state == "won")
        with self._engine.connect() as conn:
            return [_version(row) for row in conn.execute(query.order_by(revenue_versions.c.id))]

    def all_versions(self) -> list[RevenueVersion]:
        """Every version ever recorded, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(revenue_versions).order_by(revenue_versions.c.id))
            return [_version(row) for row in rows]

    def generation(self) -> int:
        """The id of the newest version (0 when there is none): it grows with every change."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.max(revenue_versions.c.id))).scalar() or 0)

    def credits(self, version_ids: Iterable[int], model: str) -> dict[int, list[Credit]]:
        """The stored credits of each version under ``model``."""
        found: dict[int, list[Credit]] = {}
        with self._engine.connect() as conn:
            for chunk in chunked(dict.fromkeys(version_ids)):
                query = (
                    select(revenue_credits)
                    .where(revenue_credits.c.version_id.in_(chunk))
                    .where(revenue_credits.c.model == model)
                    .order_by(revenue_credits.c.id)
                )
                for row in conn.execute(query):
                    found.setdefault(row.version_id, []).append(Credit.from_row(row))
        return found

    def record(
        self,
        observation: Observation,
        previous: RevenueVersion | None,
        credits: Mapping[str, Sequence[Credit]],
    ) -> RevenueVersion | None:
        """Store ``observation`` as the next version, with its credits per model.

        Returns the new version, or None when another worker recorded this version first.
        """
        number = 1 if previous is None else previous.version + 1
        before = Decimal("0.00") if previous is None else previous.won_amount
        delta = observation.won_amount - before
        now = self._clock.now()
        row = {
            "system": observation.system,
            "deal_id": observation.deal_id,
            "version": number,
            "state": observation.state,
            "amount_cents": None if observation.amount is None else to_cents(observation.amount),
            "currency": observation.currency,
            "home_amount_cents": to_cents(observation.home_amount),
            "home_currency": observation.home_currency,
            "rate": None if observation.rate is None else str(observation.rate),
            "rate_source": observation.rate_source,
            "close_date": observation.close_date,
            "buyers": list(observation.buyers),
            "campaign_id": observation.campaign_id,
            "delta_home_cents": to_cents(delta),
            "fingerprint": observation.fingerprint(),
            "created_at": now,
        }
        try:
            version_id = self._insert(row, credits)
        except IntegrityError:  # another worker recorded this version number first
            return None
        if version_id is None:
            return None
        fields = {k: getattr(observation, k) for k in Observation.__dataclass_fields__}
        return RevenueVersion(
            **fields,
            id=version_id,
            version=number,
            delta_home=delta,
            created_at=now,
            credits=dict(credits),
        )

    def _insert(self, row: dict[str, Any], credits: Mapping[str, Sequence[Credit]]) -> int | None:
        """Insert the version and its credits in one transaction; None if the number is taken."""
        with begin_write(self._engine) as conn:
            taken = conn.execute(
                select(revenue_versions.c.id).where(
                    revenue_versions.c.system == row["system"],
                    revenue_versions.c.deal_id == row["deal_id"],
                    revenue_versions.c.version == row["version"],
                )
            ).first()
            if taken is not None:
                return None
            version_id = conn.execute(
                insert(revenue_versions).returning(revenue_versions.c.id), row
            ).scalar_one()
            rows = [
                {
                    "version_id": version_id,
                    "model": model,
                    **c.as_row(),
                }
                for model, model_credits in credits.items()
                for c in model_credits
            ]
            if rows:
                conn.execute(insert(revenue_credits), rows)
            return int(version_id)
