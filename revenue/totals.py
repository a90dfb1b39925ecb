"""Totals recomputed from the current revenue versions: per person, per group, unattributed.

Properties on the marketing side hold totals, never increments, so every push recomputes
them from the newest version of every deal (a deal whose newest version is lost, reopened
or deleted counts nothing) and the credits stored with those versions. Writing a recomputed
total twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from closedloop.connectors.contract import Value
from closedloop.revenue.events import RevenueVersion
from closedloop.revenue.journeys import Credit

__all__ = ["RevenueTotals", "Totals", "money_text"]

ZERO = Decimal("0.00")


def money_text(amount: Decimal) -> str:
    """An amount as the text written to vendor number fields (two decimals)."""
    return f"{amount.quantize(Decimal('0.01')):.2f}"


def _deal_key(version: RevenueVersion) -> str:
    return f"{version.system}:{version.deal_id}"


@dataclass
class Totals:
    """Won deals and attributed revenue of one person, company or campaign."""

    deals: dict[str, tuple[Decimal, datetime | None]] = field(default_factory=dict)
    attributed: Decimal = ZERO

    def add_deal(self, version: RevenueVersion) -> None:
        """Count a won deal (once, however many buyers bring it)."""
        self.deals[_deal_key(version)] = (version.home_amount, version.close_date)

    def absorb(self, other: Totals) -> None:
        """Add another holder's deals (deduplicated) and attributed revenue."""
        self.deals.update(other.deals)
        self.attributed += other.attributed

    @property
    def won_total(self) -> Decimal:
        """The home amount of every won deal counted."""
        return sum((amount for amount, _ in self.deals.values()), ZERO)

    def last_won(self) -> tuple[Decimal, datetime | None] | None:
        """The amount and close date of the most recently closed deal."""
        if not self.deals:
            return None
        key = max(self.deals, key=lambda k: (self.deals[k][1] is not None, self.deals[k][1], k))
        return self.deals[key]

    def fields(self, names: Mapping[str, str], date_format: str) -> dict[str, Value]:
        """The totals under the vendor field ``names`` (keys ``total``, ``count``, ...)."""
        last = self.last_won()
        last_date = last[1].strftime(date_format) if last and last[1] else None
        values: dict[str, Value] = {
            "total": money_text(self.won_total),
            "count": str(len(self.deals)),
            "last_amount": money_text(last[0]) if last else None,
            "last_date": last_date,
            "attributed": money_text(self.attributed),
        }
        return {names[key]: value for key, value in values.items() if key in names}


@dataclass
class RevenueTotals:
    """Everything the push-back writes, computed from the current versions.

    Attributes:
        people: per person id, the deals they bought and the credit of their touches.
        unattributed: credit with no person (no buyer, or buyers without touches).
        unattributed_deals: the deals contributing to ``unattributed``.
        won_total: the home amount of every current won deal.
    """

    people: dict[str, Totals] = field(default_factory=dict)
    unattributed: Decimal = ZERO
    unattributed_deals: Totals = field(default_factory=Totals)
    won_total: Decimal = ZERO

    @classmethod
    def compute(
        cls,
        versions: Sequence[RevenueVersion],
        credits: Mapping[int, Sequence[Credit]],
        involved: Iterable[str] = (),
    ) -> RevenueTotals:
        """Totals of the won ``versions`` with their ``credits`` under one model.

        ``involved`` people (every past buyer) get an entry even when their totals are now
        zero, so a reversal writes zeros over their old totals.
        """
        totals = cls(people={person: Totals() for person in involved})
        for version in versions:
            if version.state != "won":
                continue
            totals.won_total += version.home_amount
            for buyer in version.buyers:
                totals.people.setdefault(buyer, Totals()).add_deal(version)
            for credit in credits.get(version.id, []):
                if credit.person_id is None:
                    totals.unattributed += credit.amount
                    totals.unattributed_deals.add_deal(version)
                else:
                    totals.people.setdefault(credit.person_id, Totals()).attributed += credit.amount
        return totals

    def move_to_unattributed(self, person_id: str) -> None:
        """A person with no record on the marketing side: their credit becomes unattributed."""
        held = self.people.get(person_id)
        if held is None or not held.attributed:
            return
        self.unattributed += held.attributed
        self.unattributed_deals.deals.update(held.deals)
        held.attributed = ZERO
