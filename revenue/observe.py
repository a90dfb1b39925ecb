"""Turning CRM deals into observations, and won observations into credits.

:class:`DealObserver` converts each deal's amount (:mod:`closedloop.revenue.currency`),
resolves its buyers (:mod:`closedloop.revenue.buyers`) and classifies it ``won`` /
``not_won`` / ``deleted``; :meth:`DealObserver.credits` pools the buyers' touches before the
close and credits them under every model (:mod:`closedloop.revenue.journeys`), with the
Markov chain solved once per batch over every journey in the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, select

from closedloop.config.schema import RevenueSettings
from closedloop.connectors.contract import Connector, WonDeal
from closedloop.revenue.buyers import BuyerResolver
from closedloop.revenue.currency import CurrencyError, convert
from closedloop.revenue.events import Observation, RevenueStore
from closedloop.revenue.journeys import (
    UNASSIGNED_CHANNEL,
    Credit,
    MarkovModel,
    close_cutoff,
    credit_deal,
    deal_path,
    markov_model,
    models_for,
)
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import touchpoints
from closedloop.sync.state import SyncState

__all__ = ["DealObserver"]


class DealObserver:
    """Observes the deals of one CRM for the revenue loop.

    Args:
        system: the CRM's system name.
        connector: the CRM connector.
        settings: ``settings.revenue``.
        state: the sync state (identity and ledger).
        engine: the state store (for the ledger scan of the Markov chain).
        clock: the time source.
    """

    def __init__(
        self,
        system: str,
        connector: Connector,
        settings: RevenueSettings,
        state: SyncState,
        engine: Engine,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.system = system
        self._settings = settings
        self._state = state
        self._engine = engine
        self._clock = clock
        self._buyers = BuyerResolver(system, connector, state.identity)
        self._markov: MarkovModel | None = None

    def observe(self, deals: Sequence[WonDeal]) -> tuple[list[Observation], dict[str, str]]:
        """Observations of ``deals`` and, per deal id, why one was skipped."""
        skipped: dict[str, str] = {}
        buyers = self._buyers.resolve([d for d in deals if d.is_won and not d.is_deleted])
        observations = []
        for deal in deals:
            if deal.is_deleted:
                observations.append(Observation(self.system, deal.deal_id, "deleted"))
                continue
            if not deal.is_won:
                observations.append(Observation(self.system, deal.deal_id, "not_won"))
                continue
            try:
                money = convert(deal, self._settings.home_currency, self._settings.rates)
            except CurrencyError as exc:
                skipped[deal.deal_id] = str(exc)
                continue
            observations.append(
                Observation(
                    system=self.system,
                    deal_id=deal.deal_id,
                    state="won",
                    **money.as_fields(),
                    close_date=deal.close_date,
                    buyers=buyers.get(deal.deal_id, ()),
                    campaign_id=deal.campaign_id,
                )
            )
        return observations, skipped

    def credits(
        self, observation: Observation, store: RevenueStore, pending: Sequence[Observation] = ()
    ) -> dict[str, list[Credit]]:
        """The credit of a won observation under every model (empty when not won)."""
        if observation.state != "won":
            return {}
        if self._markov is None:
            self._markov = self._solve_markov(store, pending)
        cutoff = close_cutoff(observation.close_date, self._clock.now())
        touches = self._state.ledger.touches_by_person(observation.buyers, until=cutoff)
        lead_at = {p: self._state.identity.person(p).became_lead_at for p in touches}
        path, origin = deal_path(touches, lead_at, observation.campaign_id)
        models = models_for(self._settings, self._markov)
        return credit_deal(observation.home_amount, path, origin, cutoff, models)

    def _solve_markov(self, store: RevenueStore, pending: Sequence[Observation]) -> MarkovModel:
        """The chain over every person's journey: won deals' buyers convert, others do not."""
        journeys: dict[str, list[tuple[datetime, str]]] = {}
        query = select(
            touchpoints.c.person_id, touchpoints.c.occurred_at, touchpoints.c.channel
        ).order_by(touchpoints.c.person_id, touchpoints.c.occurred_at, touchpoints.c.touch_key)
        with self._engine.connect() as conn:
            for row in conn.execute(query):
                journeys.setdefault(row.person_id, []).append(
                    (row.occurred_at, row.channel or UNASSIGNED_CHANNEL)
                )
        won: dict[str, Observation] = {v.deal_id: v for v in store.current(won_only=True)}
        won.update({p.deal_id: p for p in pending if p.state == "won"})
        won = {k: v for k, v in won.items() if v.state == "won"}
        converting: list[list[str]] = []
        buyers: set[str] = set()
        for deal in won.values():
            cutoff = close_cutoff(deal.close_date, self._clock.now())
            steps = sorted(s for b in deal.buyers for s in journeys.get(b, []) if s[0] <= cutoff)
            converting.append([channel for _, channel in steps])
            buyers.update(deal.buyers)
        others = [[c for _, c in steps] for p, steps in journeys.items() if p not in buyers]
        return markov_model(converting, others)
