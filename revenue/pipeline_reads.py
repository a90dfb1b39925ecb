"""The scheduled revenue run's read: closed deals, other changed deals, and known ones again.

One scheduled run reads, from the loop's watermark on:

1. the closed deals changed since (:meth:`~closedloop.connectors.contract.Connector.
   closed_deals`), with their buyers;
2. the ids of every deal changed since (one change read of the deal object: a Salesforce
   query page holds 2,000 records, a HubSpot search page 200), so open deals reach the
   pipeline; HubSpot's closed-deal read already paged through the same changes, so on HubSpot
   this repeats those pages;
3. by id, in one batch: the changed ids that were not closed, every deal whose current revenue
   version is won (a reopened, lost or deleted deal is noticed) and every open pipeline deal
   not read above (``recheck``: a deleted deal leaves the pipeline; HubSpot's search never
   returns deleted records). A changed id whose last change is older than the pipeline's
   refresh of it (the change read overlaps the previous one) is only rechecked too.

The watermark moves to the newest modification either read saw.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from closedloop.connectors.contract import Connector, Watermark, WonDeal
from closedloop.revenue.pipeline import PipelineDeal
from closedloop.revenue.pipeline_refresh import DEAL_AND_BUYER_OBJECTS

__all__ = ["CHANGE_FIELDS", "DealRead", "read_deals"]

log = logging.getLogger("closedloop.revenue")
CHANGE_FIELDS = {"hubspot": ("hs_is_closed",), "salesforce": ("IsClosed",)}


@dataclass(frozen=True)
class DealRead:
    """What a scheduled read found: the deals, the next watermark, the ids only rechecked."""

    deals: list[WonDeal]
    mark: Watermark | None
    recheck: frozenset[str]


def read_deals(
    crm: Connector,
    system: str,
    since: Watermark,
    *,
    won_ids: Iterable[str],
    pipeline: Iterable[PipelineDeal],
) -> DealRead:
    """Read the deals of one scheduled run (see the module docstring).

    Args:
        crm: the CRM connector.
        system: its system name.
        since: the revenue loop's watermark.
        won_ids: the deals whose current revenue version is won.
        pipeline: the open pipeline's deals (with when each was last refreshed).
    """
    refreshed = {d.deal_id: d.refreshed_at for d in pipeline if d.refreshed_at is not None}
    found: dict[str, WonDeal] = {}
    stamps = [since.modified_at]
    for deal in crm.closed_deals(since):
        found[deal.deal_id] = deal
        stamps.append(deal.modified_at)
    deal_object = DEAL_AND_BUYER_OBJECTS.get(system, ("deals", "contacts"))[0]
    others: dict[str, datetime] = {}  # changed, and not closed when the closed read ran
    for page in crm.read_changes(deal_object, since, CHANGE_FIELDS.get(system, ())):
        others.update({r.id: r.modified_at for r in page.records if r.id not in found})
        stamps += [r.modified_at for r in page.records]
    seen = {i for i, at in others.items() if i in refreshed and at < refreshed[i]}
    recheck = frozenset((refreshed.keys() - found.keys() - others.keys()) | seen)
    known = [i for i in dict.fromkeys([*others, *won_ids, *recheck]) if i not in found]
    if known:
        try:
            found.update({d.deal_id: d for d in crm.deals_by_id(known)})
        except NotImplementedError:
            log.warning("%s cannot re-read deals; reversals wait for webhooks", system)
    newest = max((s for s in stamps if s is not None), default=None)
    return DealRead(list(found.values()), Watermark(newest, "") if newest else None, recheck)
