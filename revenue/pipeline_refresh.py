"""Keeping the open pipeline current from the deals the revenue loop reads.

Every deal a revenue run reads updates the pipeline (:class:`~closedloop.revenue.pipeline.
PipelineStore`): a closed or deleted deal leaves it, an open one is converted to the home
currency (the won-revenue rules, :func:`closedloop.revenue.currency.convert`), its buyers are
resolved to people and its amount is credited over their touches so far under every model, as
if it closed now (:meth:`closedloop.revenue.observe.DealObserver.credits`; the Markov chain is
the one the run solved for won deals).

The connectors read buyers for closed deals only, so the buyers of open deals cost one
association read per batch (HubSpot ``deals -> contacts``, 1,000 ids a call; Salesforce
``OpportunityContactRole``, one query per id chunk), plus the converted-lead look-ups Salesforce
needs for contacts closedloop does not know. A deal re-read only to notice a deletion
(``recheck``) whose amount, currency, close date and campaign are unchanged keeps its stored
row: no buyer read, no new credits. Credits are therefore computed when the CRM changes the
deal, over the touches known then (the reference's pipeline models stop at the
opportunity-creation touch; closedloop has no creation time for deals, so this is the nearest
it can get without another read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from closedloop.config.schema import RevenueSettings
from closedloop.connectors.contract import Connector, WonDeal
from closedloop.revenue.buyers import BuyerResolver
from closedloop.revenue.currency import CurrencyError, convert
from closedloop.revenue.events import Observation, RevenueStore
from closedloop.revenue.observe import DealObserver
from closedloop.revenue.pipeline import PipelineDeal, PipelineStore
from closedloop.sync.identity import IdentityStore

__all__ = ["DEAL_AND_BUYER_OBJECTS", "PipelineRefresh", "PipelineUpdate"]

DEAL_AND_BUYER_OBJECTS = {
    "hubspot": ("deals", "contacts"),
    "salesforce": ("Opportunity", "Contact"),
}


@dataclass
class PipelineUpdate:
    """What one refresh did to the pipeline."""

    open: int = 0
    removed: int = 0
    skipped: dict[str, str] = field(default_factory=dict)


class PipelineRefresh:
    """Refreshes the pipeline of one CRM from the deals a run read.

    Args:
        system: the CRM's system name.
        connector: the CRM connector (for the buyers of open deals).
        settings: ``settings.revenue`` (home currency and rates table).
        identity: the identity store (buyer records to people).
        pipeline: the pipeline store.
    """

    def __init__(
        self,
        system: str,
        connector: Connector,
        settings: RevenueSettings,
        identity: IdentityStore,
        pipeline: PipelineStore,
    ) -> None:
        self.system = system
        self._connector = connector
        self._settings = settings
        self._buyers = BuyerResolver(system, connector, identity)
        self._pipeline = pipeline

    def refresh(
        self,
        deals: Sequence[WonDeal],
        observer: DealObserver,
        revenue: RevenueStore,
        *,
        recheck: frozenset[str] = frozenset(),
        pending: Sequence[Observation] = (),
    ) -> PipelineUpdate:
        """Apply ``deals`` to the pipeline.

        Args:
            deals: the deals the run read, closed, open or deleted.
            observer: the run's deal observer (its Markov chain is reused).
            revenue: the revenue store (for the Markov chain, when not solved yet).
            recheck: ids re-read only to notice a deletion (stored buyers are kept if the
                deal is otherwise unchanged).
            pending: the run's changed observations (they join the Markov chain).
        """
        update = PipelineUpdate()
        gone = [d.deal_id for d in deals if d.is_deleted or d.is_closed]
        update.removed = self._pipeline.remove(self.system, gone)
        opened: list[PipelineDeal] = []
        for deal in deals:
            if deal.is_deleted or deal.is_closed:
                continue
            try:
                money = convert(deal, self._settings.home_currency, self._settings.rates)
            except CurrencyError as exc:
                update.skipped[deal.deal_id] = str(exc)
                continue
            opened.append(
                PipelineDeal(
                    system=self.system,
                    deal_id=deal.deal_id,
                    **money.as_fields(),
                    close_date=deal.close_date,
                    campaign_id=deal.campaign_id,
                )
            )
        stored = self._pipeline.get(self.system, [d.deal_id for d in opened])
        unchanged = {
            d.deal_id
            for d in opened
            if d.deal_id in recheck
            and d.deal_id in stored
            and stored[d.deal_id].fingerprint() == d.fingerprint()
        }
        update.open = len(unchanged)
        changed = [d for d in opened if d.deal_id not in unchanged]
        for open_deal in self._with_buyers(changed, deals):
            observation = Observation(  # credited as if it closed now: its touches so far
                system=open_deal.system,
                deal_id=open_deal.deal_id,
                state="won",
                home_amount=open_deal.home_amount,
                home_currency=open_deal.home_currency,
                buyers=open_deal.buyers,
                campaign_id=open_deal.campaign_id,
            )
            self._pipeline.upsert(open_deal, observer.credits(observation, revenue, pending))
            update.open += 1
        return update

    def _with_buyers(
        self, opened: list[PipelineDeal], deals: Sequence[WonDeal]
    ) -> list[PipelineDeal]:
        """``opened`` with their buyers resolved to people (one association read for all)."""
        if not opened:
            return []
        given = {d.deal_id: d.buyer_ids for d in deals if d.buyer_ids}
        missing = [d.deal_id for d in opened if d.deal_id not in given]
        if missing:
            deal_object, buyer_object = DEAL_AND_BUYER_OBJECTS.get(
                self.system, ("deals", "contacts")
            )
            given.update(self._connector.related_ids(deal_object, missing, buyer_object))
        reads = [
            WonDeal(
                d.deal_id, None, None, None, False, False, None, buyer_ids=given.get(d.deal_id, [])
            )
            for d in opened
        ]
        people = self._buyers.resolve(reads)
        return [replace(d, buyers=people.get(d.deal_id, ())) for d in opened]
