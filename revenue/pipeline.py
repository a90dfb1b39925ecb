"""The open pipeline: every deal that is not closed yet, its amount and its credits.

Tables ``pipeline_deals`` and ``pipeline_credits`` (:mod:`closedloop.store.schema`) hold the
current state only, not a history: the revenue loop replaces a deal's row (and its credits
under every model) each time it reads the deal open, and removes it once the deal is closed
(won or lost: its revenue, if any, is then a revenue version, :mod:`closedloop.revenue.events`)
or deleted. Amounts are converted to the home currency by the rules of won revenue
(:mod:`closedloop.revenue.currency`); credits conserve the home amount to the cent, and a deal
without buyers or touches credits :data:`~closedloop.revenue.credit.UNATTRIBUTED`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Row, delete, insert, select

from closedloop.revenue.currency import Conversion, to_cents
from closedloop.revenue.journeys import Credit
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import pipeline_credits, pipeline_deals
from closedloop.sync.sql import begin_write, chunked, retry_on_conflict

__all__ = ["PipelineDeal", "PipelineStore"]


@dataclass(frozen=True)
class PipelineDeal:
    """One open deal, its amount converted to the home currency, and its buyers (people)."""

    system: str
    deal_id: str
    amount: Decimal | None
    currency: str | None
    home_amount: Decimal
    home_currency: str
    rate: Decimal | None
    rate_source: str
    close_date: datetime | None
    buyers: tuple[str, ...] = ()
    campaign_id: str | None = None
    refreshed_at: datetime | None = None

    def fingerprint(self) -> str:
        """A hash of what the CRM says about the deal itself (its buyers are read apart)."""
        relevant = {
            "amount": str(self.amount),
            "currency": self.currency,
            "home": str(self.home_amount),
            "close": self.close_date.isoformat() if self.close_date else None,
            "campaign": self.campaign_id,
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def _deal(row: Row[Any]) -> PipelineDeal:
    return PipelineDeal(
        system=row.system,
        deal_id=row.deal_id,
        **Conversion.from_row(row).as_fields(),
        close_date=row.close_date,
        buyers=tuple(row.buyers or ()),
        campaign_id=row.campaign_id,
        refreshed_at=row.refreshed_at,
    )


class PipelineStore:
    """Keep and read the open pipeline.

    Args:
        engine: the state store.
        clock: the source of ``refreshed_at``.
    """

    def __init__(self, engine: Engine, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock

    def deals(self, system: str | None = None) -> list[PipelineDeal]:
        """Every open deal (of ``system`` only, when given), oldest row first."""
        query = select(pipeline_deals).order_by(pipeline_deals.c.id)
        if system is not None:
            query = query.where(pipeline_deals.c.system == system)
        with self._engine.connect() as conn:
            return [_deal(row) for row in conn.execute(query)]

    def get(self, system: str, deal_ids: Iterable[str]) -> dict[str, PipelineDeal]:
        """The stored open deals among ``deal_ids``, by deal id."""
        found: dict[str, PipelineDeal] = {}
        with self._engine.connect() as conn:
            for chunk in chunked(dict.fromkeys(deal_ids)):
                query = select(pipeline_deals).where(
                    pipeline_deals.c.system == system, pipeline_deals.c.deal_id.in_(chunk)
                )
                found.update({row.deal_id: _deal(row) for row in conn.execute(query)})
        return found

    def credits(self, model: str) -> list[tuple[PipelineDeal, list[Credit]]]:
        """Every open deal with its credits under ``model`` (none for a model not credited)."""
        rows: dict[int, tuple[PipelineDeal, list[Credit]]] = {}
        with self._engine.connect() as conn:
            for row in conn.execute(select(pipeline_deals).order_by(pipeline_deals.c.id)):
                rows[row.id] = (_deal(row), [])
            query = (
                select(pipeline_credits)
                .where(pipeline_credits.c.model == model)
                .order_by(pipeline_credits.c.id)
            )
            for row in conn.execute(query):
                if row.pipeline_deal_id in rows:
                    rows[row.pipeline_deal_id][1].append(Credit.from_row(row))
        return list(rows.values())

    def upsert(self, deal: PipelineDeal, credits: Mapping[str, Sequence[Credit]]) -> None:
        """Replace ``deal``'s row and its credits under every model, in one transaction."""
        row = {
            "system": deal.system,
            "deal_id": deal.deal_id,
            "amount_cents": None if deal.amount is None else to_cents(deal.amount),
            "currency": deal.currency,
            "home_amount_cents": to_cents(deal.home_amount),
            "home_currency": deal.home_currency,
            "rate": None if deal.rate is None else str(deal.rate),
            "rate_source": deal.rate_source,
            "close_date": deal.close_date,
            "buyers": list(deal.buyers),
            "campaign_id": deal.campaign_id,
            "fingerprint": deal.fingerprint(),
            "refreshed_at": self._clock.now(),
        }
        credit_rows = [
            {
                "model": model,
                **c.as_row(),
            }
            for model, model_credits in credits.items()
            for c in model_credits
        ]

        def attempt() -> None:
            with begin_write(self._engine) as conn:
                self._delete(conn, deal.system, [deal.deal_id])
                deal_row = conn.execute(
                    insert(pipeline_deals).returning(pipeline_deals.c.id), row
                ).scalar_one()
                if credit_rows:
                    rows = [{**r, "pipeline_deal_id": deal_row} for r in credit_rows]
                    conn.execute(insert(pipeline_credits), rows)

        retry_on_conflict(attempt)  # two workers refreshing one deal: the later one wins

    def remove(self, system: str, deal_ids: Iterable[str]) -> int:
        """Forget the deals ``deal_ids`` (closed or deleted); returns how many were open."""
        wanted = list(dict.fromkeys(deal_ids))
        if not wanted:
            return 0
        with begin_write(self._engine) as conn:
            return self._delete(conn, system, wanted)

    @staticmethod
    def _delete(conn: Any, system: str, deal_ids: list[str]) -> int:
        removed = 0
        for chunk in chunked(deal_ids):
            ids = [
                row.id
                for row in conn.execute(
                    select(pipeline_deals.c.id).where(
                        pipeline_deals.c.system == system, pipeline_deals.c.deal_id.in_(chunk)
                    )
                )
            ]
            if ids:
                conn.execute(
                    delete(pipeline_credits).where(pipeline_credits.c.pipeline_deal_id.in_(ids))
                )
                conn.execute(delete(pipeline_deals).where(pipeline_deals.c.id.in_(ids)))
                removed += len(ids)
        return removed
