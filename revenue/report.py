"""The marketing report: revenue and pipeline by channel, source or campaign; funnel, CAC, ROI.

Everything comes from the state store, so a report costs no API call:

* **revenue** — the stored credits (:mod:`closedloop.revenue.events`) of every deal's current
  won version under the chosen model, summed per dimension value; the ``(unattributed)`` row
  holds what no touch earned, so the rows always add up to the won revenue, to the cent;
* **pipeline** — the open deals' amounts credited the same way
  (:mod:`closedloop.revenue.report_pipeline`), with their own ``(unattributed)`` row share;
* **conversions** — the model's share of each won deal credited to the dimension (fractional
  deals, summing to the number of won deals);
* **funnel by first touch** — people who became leads (a CRM record or a lead date), people
  who became buyers of an opportunity (closed, or open in the pipeline), people who bought a
  won deal, grouped by the dimension value of their first touch;
* **MQL -> SQL by first touch** — MQLs, SQLs and the MQL cohort's SQL rate, where the
  marketing system keeps lifecycle dates (:mod:`closedloop.revenue.report_pipeline`);
* **time to close** — median days from the buyers' first touch to the close of each won deal,
  by the first touch's dimension value;
* **cost, CAC and ROI** — ad costs (``closedloop import-costs``) per dimension value: CAC is
  cost per (model-credited) won deal, ROI is (revenue - cost) / cost.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Engine, func, select

from closedloop.revenue.credit import UNATTRIBUTED
from closedloop.revenue.events import RevenueStore, RevenueVersion
from closedloop.revenue.journeys import Credit
from closedloop.revenue.pipeline import PipelineStore
from closedloop.revenue.report_pipeline import LifecycleCounts, add_lifecycle, add_pipeline
from closedloop.store.schema import ad_costs, identities, people, touchpoints

Dimension = Literal["channel", "source", "campaign"]
DIMENSIONS: tuple[Dimension, ...] = ("channel", "source", "campaign")
CRM_PERSON_OBJECTS = ("Lead", "Contact")
NONE_LABEL = "(none)"


@dataclass
class ReportRow:
    """One dimension value's figures."""

    key: str
    revenue: Decimal = Decimal("0.00")
    pipeline: Decimal = Decimal("0.00")
    conversions: Decimal = Decimal("0")
    leads: int = 0
    opportunities: int = 0
    won_buyers: int = 0
    days_to_close: list[float] = field(default_factory=list)
    cost: Decimal = Decimal("0.00")
    lifecycle: LifecycleCounts | None = None

    def as_json(self) -> dict[str, Any]:
        """The row as plain JSON values (money as strings, to keep the cents exact)."""
        return {
            "key": self.key,
            "revenue": str(self.revenue),
            "pipeline": str(self.pipeline),
            "conversions": float(round(self.conversions, 4)),
            "leads": self.leads,
            "opportunities": self.opportunities,
            "won_buyers": self.won_buyers,
            "lead_to_opportunity": ratio(self.opportunities, self.leads),
            "opportunity_to_won": ratio(self.won_buyers, self.opportunities),
            "mqls": self.lifecycle.mqls if self.lifecycle else None,
            "sqls": self.lifecycle.sqls if self.lifecycle else None,
            "mql_to_sql": self.lifecycle.mql_to_sql if self.lifecycle else None,
            "median_days_to_close": (
                round(statistics.median(self.days_to_close), 1) if self.days_to_close else None
            ),
            "cost": str(self.cost),
            "cac": str(round(self.cost / self.conversions, 2)) if self.conversions else None,
            "roi": float(round((self.revenue - self.cost) / self.cost, 4)) if self.cost else None,
        }


@dataclass
class Report:
    """A whole report: its rows, sorted by revenue, and the totals they add up to."""

    dimension: Dimension
    model: str
    home_currency: str
    rows: list[ReportRow]
    won_deals: int
    won_revenue: Decimal
    open_deals: int = 0
    pipeline: Decimal = Decimal("0.00")
    lifecycle: bool = False

    def as_json(self) -> dict[str, Any]:
        """The report as one JSON object."""
        return {
            "dimension": self.dimension,
            "model": self.model,
            "currency": self.home_currency,
            "won_deals": self.won_deals,
            "won_revenue": str(self.won_revenue),
            "open_deals": self.open_deals,
            "pipeline": str(self.pipeline),
            "lifecycle_data": self.lifecycle,
            "rows": [row.as_json() for row in self.rows],
        }


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to four places, or None for an empty whole."""
    return round(part / whole, 4) if whole else None


def credit_key(credit: Credit, dimension: Dimension) -> str:
    """The dimension value a credit counts under."""
    if credit.person_id is None:
        return UNATTRIBUTED
    value = {"channel": credit.channel, "source": credit.source, "campaign": credit.campaign}
    return value[dimension] or NONE_LABEL


def build_report(store: Engine, *, dimension: Dimension, model: str, home_currency: str) -> Report:
    """Compute the report for ``dimension`` under ``model`` from the state store."""
    rows: dict[str, ReportRow] = {}

    def row(key: str) -> ReportRow:
        return rows.setdefault(key, ReportRow(key))

    versions = RevenueStore(store).current(won_only=True)
    credits = RevenueStore(store).credits([v.id for v in versions], model)
    for version in versions:
        _add_revenue(version, credits.get(version.id, []), dimension, row)
    open_deals, pipeline = add_pipeline(store, model, lambda c: credit_key(c, dimension), row)
    first = _first_touch_values(store, dimension)
    _add_funnel(store, versions, first, row)
    lifecycle = add_lifecycle(store, first, row, NONE_LABEL)
    _add_days_to_close(store, versions, first, row)
    _add_costs(store, dimension, row)
    if lifecycle:  # the figures are known: a value without MQLs has zero, not unknown
        for each in rows.values():
            each.lifecycle = each.lifecycle or LifecycleCounts()
    ordered = sorted(
        rows.values(), key=lambda r: (r.key == UNATTRIBUTED, -r.revenue, -r.pipeline, r.key)
    )
    won = sum((v.home_amount for v in versions), Decimal("0.00"))
    return Report(
        dimension,
        model,
        home_currency,
        ordered,
        len(versions),
        won,
        open_deals,
        pipeline,
        lifecycle,
    )


def _add_revenue(
    version: RevenueVersion, credits: list[Credit], dimension: Dimension, row: Any
) -> None:
    if not credits:  # a version recorded before this model existed: keep totals closed
        credits = [Credit(None, None, None, None, None, None, version.home_amount)]
    for credit in credits:
        target = row(credit_key(credit, dimension))
        target.revenue += credit.amount
        if version.home_amount:
            target.conversions += credit.amount / version.home_amount


def _first_touch_values(store: Engine, dimension: Dimension) -> dict[str, tuple[str, Any]]:
    """Each person's first touch: (dimension value, time)."""
    column = {
        "channel": touchpoints.c.channel,
        "source": touchpoints.c.utm_source,
        "campaign": touchpoints.c.utm_campaign,
    }[dimension]
    ranked = select(
        touchpoints.c.person_id,
        column.label("value"),
        touchpoints.c.occurred_at,
        func.row_number()
        .over(
            partition_by=touchpoints.c.person_id,
            order_by=(touchpoints.c.occurred_at, touchpoints.c.id),
        )
        .label("rank"),
    ).subquery()
    query = select(ranked.c.person_id, ranked.c.value, ranked.c.occurred_at).where(
        ranked.c.rank == 1
    )
    with store.connect() as conn:
        return {r.person_id: (r.value or NONE_LABEL, r.occurred_at) for r in conn.execute(query)}


def _leads(store: Engine) -> set[str]:
    query = select(identities.c.person_id).where(
        identities.c.object_type.in_(CRM_PERSON_OBJECTS), identities.c.system != "visitor"
    )
    marked = select(people.c.person_id).where(people.c.became_lead_at.is_not(None))
    with store.connect() as conn:
        return {r.person_id for r in conn.execute(query)} | {
            r.person_id for r in conn.execute(marked)
        }


def _add_funnel(
    store: Engine, won: Iterable[RevenueVersion], first: dict[str, tuple[str, Any]], row: Any
) -> None:
    every = RevenueStore(store).current()
    buyers = {b for v in every for b in v.buyers}
    buyers |= {b for deal in PipelineStore(store).deals() for b in deal.buyers}
    query = select(identities.c.person_id).where(identities.c.object_type == "Opportunity")
    with store.connect() as conn:
        buyers |= {r.person_id for r in conn.execute(query)}
    won_buyers = {b for v in won for b in v.buyers}
    for person in _leads(store) | buyers:
        key = first.get(person, (NONE_LABEL, None))[0]
        target = row(key)
        target.leads += 1
        target.opportunities += person in buyers
        target.won_buyers += person in won_buyers


def _add_days_to_close(
    store: Engine, won: Iterable[RevenueVersion], first: dict[str, tuple[str, Any]], row: Any
) -> None:
    del store
    for version in won:
        starts = [first[b] for b in version.buyers if b in first]
        if not starts or version.close_date is None:
            continue
        key, start = min(starts, key=lambda pair: pair[1])
        days = (version.close_date - start).total_seconds() / 86_400
        row(key).days_to_close.append(max(days, 0.0))


def _add_costs(store: Engine, dimension: Dimension, row: Any) -> None:
    column = {"channel": ad_costs.c.channel, "source": ad_costs.c.source}.get(
        dimension, ad_costs.c.campaign
    )
    query = select(column.label("value"), func.sum(ad_costs.c.amount_cents).label("cents"))
    with store.connect() as conn:
        for r in conn.execute(query.group_by(column)):
            row(r.value or NONE_LABEL).cost += Decimal(int(r.cents)) / 100
