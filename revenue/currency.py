"""Converting a deal's amount to the home currency the way its CRM does.

* **HubSpot** fixes a deal's exchange rate when it closes: ``amount_in_home_currency`` is the
  amount at that rate, so closedloop takes it as is (rate source ``hubspot:deal``).
* **Salesforce** with multi-currency converts with the ``DatedConversionRate`` in force on the
  ``CloseDate`` when Advanced Currency Management is on, else with the static
  ``CurrencyType`` rate (``salesforce:dated`` / ``salesforce:static``; the connector does it).
* Anything the CRM did not convert falls back to ``revenue.rates`` (units of home currency
  per unit of the deal's currency; source ``configured``). A deal in the home currency, or
  without a currency in a single-currency org, needs no rate (source ``home``).

The original amount and currency are always kept next to the converted one. Amounts are
rounded half-up to the cent; the rate is recorded as home units per original unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from closedloop.connectors.contract import WonDeal
from closedloop.revenue.credit import CENT
from closedloop.runtime.errors import ClosedLoopError

__all__ = ["Conversion", "CurrencyError", "convert", "to_cents", "to_money"]

_RATE_PLACES = Decimal("0.0000000001")


class CurrencyError(ClosedLoopError):
    """A deal's currency cannot be converted to the home currency."""


@dataclass(frozen=True)
class Conversion:
    """A deal amount in its own currency and in the home currency.

    Attributes:
        amount: the original amount (to the cent), None when the deal has none.
        currency: the original currency (the home currency when the CRM names none).
        home_amount: the amount in the home currency, to the cent.
        home_currency: the home currency.
        rate: home units per original unit, None when no amount was converted.
        source: where the rate came from (see the module docstring).
    """

    amount: Decimal | None
    currency: str
    home_amount: Decimal
    home_currency: str
    rate: Decimal | None
    source: str

    def as_fields(self) -> dict[str, Any]:
        """The money fields of a revenue version or pipeline deal (``rate_source`` = source)."""
        return {
            "amount": self.amount,
            "currency": self.currency,
            "home_amount": self.home_amount,
            "home_currency": self.home_currency,
            "rate": self.rate,
            "rate_source": self.source,
        }

    @classmethod
    def from_row(cls, row: Any) -> Conversion:
        """The money columns of a ``revenue_versions`` or ``pipeline_deals`` row."""
        return cls(
            amount=from_cents(row.amount_cents),
            currency=row.currency,
            home_amount=from_cents(row.home_amount_cents) or Decimal("0.00"),
            home_currency=row.home_currency,
            rate=Decimal(row.rate) if row.rate else None,
            source=row.rate_source,
        )


def to_money(value: float | Decimal | str | None) -> Decimal:
    """A value rounded half-up to the cent (None counts as zero)."""
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(value: Decimal) -> int:
    """Whole cents of an amount already rounded to the cent."""
    return int((value * 100).to_integral_value())


def from_cents(cents: int | None) -> Decimal | None:
    """An amount stored in whole cents, as money (None stays None)."""
    return None if cents is None else (Decimal(cents) / 100).quantize(CENT)


def _rate(amount: Decimal | None, home: Decimal) -> Decimal | None:
    if not amount:
        return None
    return (home / amount).quantize(_RATE_PLACES, rounding=ROUND_HALF_UP)


def convert(deal: WonDeal, home_currency: str, rates: Mapping[str, float]) -> Conversion:
    """Convert ``deal``'s amount to ``home_currency``, preferring the CRM's own conversion.

    Args:
        deal: the deal as the CRM connector read it.
        home_currency: ``revenue.home_currency``.
        rates: ``revenue.rates``, the fallback table (home units per unit).

    Returns:
        The original and converted amounts with the rate and its source.

    Raises:
        CurrencyError: the CRM did not convert and the table has no rate for the currency.
    """
    amount = None if deal.amount is None else to_money(deal.amount)
    currency = (deal.currency or home_currency).upper()
    if currency == home_currency:
        home = to_money(deal.home_amount if deal.home_amount is not None else amount)
        return Conversion(amount, currency, home, home_currency, Decimal(1), "home")
    if deal.home_amount is not None and deal.rate_source:
        home = to_money(deal.home_amount)
        return Conversion(
            amount, currency, home, home_currency, _rate(amount, home), deal.rate_source
        )
    configured = rates.get(currency)
    if configured is None:
        raise CurrencyError(
            f"deal {deal.deal_id}: no rate from {currency} to {home_currency}",
            hint=f"add revenue.rates.{currency} (units of {home_currency} per {currency})",
        )
    rate = Decimal(str(configured))
    home = to_money((amount or Decimal(0)) * rate)
    return Conversion(amount, currency, home, home_currency, rate, "configured")
