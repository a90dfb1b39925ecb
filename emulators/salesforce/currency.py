"""Multi-currency: ``CurrencyIsoCode`` on records, ``CurrencyType`` and ``DatedConversionRate``.

Enabling multi-currency (an admin action that cannot be undone, as in Salesforce) adds a
restricted ``CurrencyIsoCode`` picklist to every data object, defaulted to the corporate
currency, and makes ``CurrencyType`` (static rates against the corporate currency) and
``DatedConversionRate`` (Advanced Currency Management ranges with ``StartDate`` and the
read-only ``NextStartDate``) queryable.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from closedloop.emulators.salesforce.org import Org
from closedloop.emulators.salesforce.schema import DATA_OBJECTS
from closedloop.emulators.salesforce.values import parse_date

FIRST_START, LAST_NEXT = "0001-01-01", "9999-12-31"


def _codes(org: Org) -> dict[str, str]:
    return {str(row["IsoCode"]): str(row["Id"]) for row in org.store.rows("CurrencyType")}


def configure_currency(org: Org, spec: dict[str, Any]) -> dict[str, Any]:
    """Enable multi-currency and set static and dated rates from an admin request body.

    Body keys: ``corporate`` (ISO code, default USD), ``rates`` (``{"EUR": 0.92}``: units per
    corporate unit), ``dated_rates`` (``[{"iso_code", "rate", "start_date"}]``).

    Raises:
        ValueError: for a malformed code, rate or date, or a change of corporate currency.
    """
    corporate = str(spec.get("corporate") or org.corporate_currency).upper()
    if org.schema.multicurrency and corporate != org.corporate_currency:
        raise ValueError("the corporate currency cannot change once multi-currency is enabled")
    rates = {str(code).upper(): float(rate) for code, rate in dict(spec.get("rates") or {}).items()}
    rates[corporate] = 1.0
    for code, rate in rates.items():
        if len(code) != 3 or not code.isalpha() or rate <= 0:
            raise ValueError(f"bad currency {code!r} or rate {rate!r}")
    org.corporate_currency = corporate
    existing = _codes(org)
    for code, rate in rates.items():
        if code in existing:
            org.update_system_row("CurrencyType", existing[code], ConversionRate=rate)
        else:
            org.insert_system_row(
                "CurrencyType",
                IsoCode=code,
                ConversionRate=rate,
                DecimalPlaces=2,
                IsActive=True,
                IsCorporate=code == corporate,
            )
            _insert_range(org, code, rate, FIRST_START)
    codes = tuple(sorted(_codes(org)))
    first_time = not org.schema.multicurrency
    org.schema.enable_multicurrency(codes, corporate, org.clock.timestamp())
    if first_time:
        for name in DATA_OBJECTS:
            org.store.add_column(name, "CurrencyIsoCode", corporate)
    for entry in spec.get("dated_rates") or []:
        code = str(entry["iso_code"]).upper()
        if code not in codes or code == corporate:
            raise ValueError(f"dated rates need an active non-corporate currency, not {code}")
        _insert_range(
            org, code, float(entry["rate"]), parse_date(str(entry["start_date"])).isoformat()
        )
    _recompute_next_start(org)
    return describe_currency(org)


def _insert_range(org: Org, code: str, rate: float, start: str) -> None:
    for row in org.store.rows("DatedConversionRate"):
        if row["IsoCode"] == code and row["StartDate"] == start:
            org.update_system_row("DatedConversionRate", row["Id"], ConversionRate=rate)
            return
    org.insert_system_row(
        "DatedConversionRate",
        IsoCode=code,
        ConversionRate=rate,
        StartDate=start,
        NextStartDate=LAST_NEXT,
    )


def _recompute_next_start(org: Org) -> None:
    by_code: dict[str, list[dict[str, Any]]] = {}
    for row in org.store.rows("DatedConversionRate"):
        by_code.setdefault(str(row["IsoCode"]), []).append(row)
    for rows in by_code.values():
        rows.sort(key=lambda r: str(r["StartDate"]))
        for current, following in zip(rows, [*rows[1:], None], strict=True):
            wanted = following["StartDate"] if following else LAST_NEXT
            if current["NextStartDate"] != wanted:
                org.update_system_row("DatedConversionRate", current["Id"], NextStartDate=wanted)


def rate_on(org: Org, code: str, day: date) -> float | None:
    """The dated rate of ``code`` in force on ``day`` (the static rate without dated ranges)."""
    for row in org.store.rows("DatedConversionRate"):
        if row["IsoCode"] == code and row["StartDate"] <= day.isoformat() < row["NextStartDate"]:
            return float(row["ConversionRate"])
    static = next((r for r in org.store.rows("CurrencyType") if r["IsoCode"] == code), None)
    return float(static["ConversionRate"]) if static else None


def describe_currency(org: Org) -> dict[str, Any]:
    """The currency settings as admin JSON."""
    return {
        "multicurrency": org.schema.multicurrency,
        "corporate": org.corporate_currency,
        "rates": {str(r["IsoCode"]): r["ConversionRate"] for r in org.store.rows("CurrencyType")},
        "dated_rates": [
            {
                "iso_code": r["IsoCode"],
                "rate": r["ConversionRate"],
                "start_date": r["StartDate"],
                "next_start_date": r["NextStartDate"],
            }
            for r in org.store.rows("DatedConversionRate")
        ],
    }
