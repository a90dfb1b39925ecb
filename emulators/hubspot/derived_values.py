"""Values HubSpot calculates itself after a write (deal stage outcome, currency, email domain).

``closedate`` is set on entering a closed stage when empty; ``hs_is_closed_won`` and friends
follow the stage metadata, never the stage id.
"""

from __future__ import annotations

from closedloop.emulators.hubspot.pipelines import PipelineStore
from closedloop.emulators.hubspot.values import iso_from_ms, number_from_text

EXCHANGE_RATES_TO_USD = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CAD": 0.74,
    "AUD": 0.66,
    "JPY": 0.0067,
    "CHF": 1.12,
}
DEAL_INPUTS = frozenset({"pipeline", "dealstage", "amount", "deal_currency_code"})


def derive(
    object_type: str,
    properties: dict[str, str],
    changed: set[str],
    pipelines: PipelineStore,
    now_ms: int,
) -> dict[str, str]:
    """Calculated values that change because of ``changed`` (``""`` clears one)."""
    if object_type == "deals" and changed & DEAL_INPUTS:
        return _deal_values(properties, changed, pipelines, now_ms)
    if object_type == "contacts":
        return _contact_values(properties, changed, now_ms)
    return {}


def _contact_values(properties: dict[str, str], changed: set[str], now_ms: int) -> dict[str, str]:
    derived: dict[str, str] = {}
    if "email" in changed:
        email = properties.get("email", "")
        derived["hs_email_domain"] = email.rsplit("@", 1)[1] if "@" in email else ""
    stage = properties.get("lifecyclestage")
    if "lifecyclestage" in changed and stage and stage not in ("subscriber", "evangelist", "other"):
        name = f"hs_lifecyclestage_{stage}_date"
        if not properties.get(name):
            derived[name] = iso_from_ms(now_ms)
    return derived


def _deal_values(
    properties: dict[str, str], changed: set[str], pipelines: PipelineStore, now_ms: int
) -> dict[str, str]:
    stage = pipelines.find_stage(properties.get("pipeline", ""), properties.get("dealstage", ""))
    amount = number_from_text(properties.get("amount", "")) if properties.get("amount") else None
    rate = EXCHANGE_RATES_TO_USD.get(properties.get("deal_currency_code") or "USD", 1.0)
    home = None if amount is None else amount * rate
    won = stage is not None and stage.is_won
    closed = stage is not None and stage.is_closed
    derived = {
        "hs_is_closed": "true" if closed else "false",
        "hs_is_closed_won": "true" if won else "false",
        "hs_is_closed_lost": "true" if closed and not won else "false",
        "hs_deal_stage_probability": "" if stage is None else _number(stage.probability),
        "amount_in_home_currency": "" if home is None else _number(home),
        "hs_closed_amount": _number(amount if won and amount is not None else 0.0),
        "hs_closed_amount_in_home_currency": _number(home if won and home is not None else 0.0),
        "hs_forecast_amount": ""
        if amount is None or stage is None
        else _number(amount * stage.probability),
    }
    if "dealstage" in changed and stage is not None and stage.is_closed:
        if not properties.get("closedate"):
            derived["closedate"] = iso_from_ms(now_ms)
        entered = "hs_date_entered_closedwon" if won else "hs_date_entered_closedlost"
        derived[entered] = iso_from_ms(now_ms)
        if won:
            derived["hs_closed_won_date"] = iso_from_ms(now_ms)
    return derived


def _number(value: float) -> str:
    rounded = round(value, 2)
    return str(int(rounded)) if rounded.is_integer() else str(rounded)
