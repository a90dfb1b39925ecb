"""The report's open pipeline and MQL -> SQL figures (:mod:`closedloop.revenue.report`).

* **pipeline** — the home amount of every open deal (:mod:`closedloop.revenue.pipeline`),
  credited over its buyers' touches under the report's model and summed per dimension value;
  what no touch earned stays in ``(unattributed)``, so the rows add up to the open pipeline to
  the cent;
* **MQL -> SQL** — by the dimension value of each person's first touch: people who became
  marketing qualified (``people.became_mql_at``), people who became sales qualified
  (``became_sql_at``), and the rate over the MQL cohort: those MQLs that went on to SQL on or
  after their MQL date, divided by the MQLs. Only the marketing system's lifecycle dates say
  this (HubSpot keeps them; Salesforce has no documented equivalent), so when no person has
  either date the figures are unknown (None, shown as ``-``), never zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Engine, or_, select

from closedloop.revenue.journeys import Credit
from closedloop.revenue.pipeline import PipelineStore
from closedloop.store.schema import people

__all__ = ["LifecycleCounts", "PipelineRow", "add_lifecycle", "add_pipeline"]


class PipelineRow(Protocol):
    """The report-row fields this module adds to."""

    pipeline: Decimal
    lifecycle: LifecycleCounts | None


@dataclass
class LifecycleCounts:
    """One dimension value's MQLs, SQLs, and the SQLs among its MQL cohort."""

    mqls: int = 0
    sqls: int = 0
    cohort_sqls: int = 0

    @property
    def mql_to_sql(self) -> float | None:
        """SQLs from the MQL cohort over MQLs (four places), or None without MQLs."""
        return round(self.cohort_sqls / self.mqls, 4) if self.mqls else None


def add_pipeline(
    store: Engine,
    model: str,
    key_of: Callable[[Credit], str],
    row: Callable[[str], PipelineRow],
) -> tuple[int, Decimal]:
    """Add each open deal's credits under ``model`` to its rows; returns (deals, total)."""
    total = Decimal("0.00")
    deals = PipelineStore(store).credits(model)
    for deal, credits in deals:
        total += deal.home_amount
        # credited before this model existed: the whole amount is unattributed, totals close
        shares = credits or [Credit(None, None, None, None, None, None, deal.home_amount)]
        for credit in shares:
            row(key_of(credit)).pipeline += credit.amount
    return len(deals), total


def add_lifecycle(
    store: Engine,
    first: Mapping[str, tuple[str, Any]],
    row: Callable[[str], PipelineRow],
    none_label: str,
) -> bool:
    """Count MQLs and SQLs by first-touch value; False (rows untouched) with no lifecycle data."""
    query = select(people.c.person_id, people.c.became_mql_at, people.c.became_sql_at).where(
        people.c.merged_into.is_(None),
        or_(people.c.became_mql_at.is_not(None), people.c.became_sql_at.is_not(None)),
    )
    with store.connect() as conn:
        found: list[tuple[str, datetime | None, datetime | None]] = [
            (r.person_id, r.became_mql_at, r.became_sql_at) for r in conn.execute(query)
        ]
    if not found:
        return False
    for person_id, mql_at, sql_at in found:
        target = row(first.get(person_id, (none_label, None))[0])
        counts = target.lifecycle = target.lifecycle or LifecycleCounts()
        counts.mqls += mql_at is not None
        counts.sqls += sql_at is not None
        counts.cohort_sqls += mql_at is not None and sql_at is not None and sql_at >= mql_at
    return True
