"""Revenue objects: closed Opportunities, their buyers, conversions, campaigns and currencies.

Won and closed come from ``IsWon`` / ``IsClosed``, which Salesforce derives from the stage
definition: stage names are never matched. Buyers are the contacts of
``OpportunityContactRole`` (primary first); a converted Lead leads to its Contact, Account and
Opportunity through ``ConvertedContactId`` and friends. In a multi-currency org (detected from
describe: ``CurrencyIsoCode`` exists) amounts keep their currency and are also converted to
the corporate currency with the dated rate in force on ``CloseDate`` (Advanced Currency
Management), else the static ``CurrencyType`` rate.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from closedloop.connectors.contract import Watermark, WonDeal
from closedloop.connectors.salesforce.api import SalesforceApi
from closedloop.connectors.salesforce.reads import (
    SalesforceReader,
    id_chunks,
    parse_datetime,
    soql,
    soql_ids,
)
from closedloop.runtime.errors import ConnectorError, FatalSyncError

DEAL_FIELDS = ("Amount", "CloseDate", "IsWon", "IsClosed", "CampaignId", "StageName")

# (from, to) -> (sObject to query, field holding the "from" id, field holding the "to" id)
RELATIONS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("Opportunity", "Contact"): ("OpportunityContactRole", "OpportunityId", "ContactId"),
    ("Contact", "Opportunity"): ("OpportunityContactRole", "ContactId", "OpportunityId"),
    ("Lead", "Contact"): ("Lead", "Id", "ConvertedContactId"),
    ("Lead", "Account"): ("Lead", "Id", "ConvertedAccountId"),
    ("Lead", "Opportunity"): ("Lead", "Id", "ConvertedOpportunityId"),
    ("Lead", "Campaign"): ("CampaignMember", "LeadId", "CampaignId"),
    ("Contact", "Campaign"): ("CampaignMember", "ContactId", "CampaignId"),
    ("Campaign", "Lead"): ("CampaignMember", "CampaignId", "LeadId"),
    ("Campaign", "Contact"): ("CampaignMember", "CampaignId", "ContactId"),
    ("Opportunity", "Campaign"): ("Opportunity", "Id", "CampaignId"),
    ("Opportunity", "Account"): ("Opportunity", "Id", "AccountId"),
    ("Contact", "Account"): ("Contact", "Id", "AccountId"),
}


@dataclass(frozen=True)
class CampaignMembership:
    """One Lead's or Contact's membership of a campaign."""

    campaign_id: str
    status: str | None
    responded: bool
    first_responded: date | None


@dataclass
class CurrencyRates:
    """The corporate currency and the conversion rates (units per corporate unit)."""

    corporate: str | None = None
    static: dict[str, float] = field(default_factory=dict)
    dated: list[tuple[str, date, date, float]] = field(default_factory=list)

    def rate(self, code: str, on: date | None) -> float | None:
        """The rate of ``code`` in force on ``on`` (dated first, then static)."""
        return self.rate_and_source(code, on)[0]

    def rate_and_source(self, code: str, on: date | None) -> tuple[float | None, str | None]:
        """The rate in force on ``on`` and where it came from (``dated`` or ``static``)."""
        if on is not None:
            for iso, start, next_start, value in self.dated:
                if iso == code and start <= on < next_start:
                    return value, "salesforce:dated"
        static = self.static.get(code)
        return static, "salesforce:static" if static is not None else None


class SalesforceRevenue:
    """Reads closed opportunities and the records around them for one org."""

    def __init__(self, api: SalesforceApi, reader: SalesforceReader) -> None:
        self._api = api
        self._reader = reader
        self._rates: CurrencyRates | None = None
        self._rates_lock = threading.Lock()

    def multi_currency(self) -> bool:
        """Whether the org has multi-currency (``CurrencyIsoCode`` on Opportunity)."""
        fields = self._api.describe("Opportunity").get("fields") or []
        return any(f.get("name") == "CurrencyIsoCode" for f in fields)

    def rates(self) -> CurrencyRates:
        """Currency rates, read once per connector: ``DatedConversionRate`` and ``CurrencyType``.

        Rates change rarely (an admin edits them in Setup); a new connector, built per run,
        reads them again.
        """
        with self._rates_lock:  # concurrent webhook workers read them once between them
            if self._rates is None:
                self._rates = self._read_rates()
            return self._rates

    def _read_rates(self) -> CurrencyRates:
        rates = CurrencyRates()
        if not self.multi_currency():
            return rates
        for row in self._rows(
            "SELECT IsoCode, ConversionRate, IsCorporate FROM CurrencyType WHERE IsActive = true"
        ):
            rates.static[str(row["IsoCode"])] = float(row["ConversionRate"])
            if row.get("IsCorporate"):
                rates.corporate = str(row["IsoCode"])
        try:
            dated = self._rows(
                "SELECT IsoCode, ConversionRate, StartDate, NextStartDate FROM DatedConversionRate"
            )
        except ConnectorError:
            dated = []  # Advanced Currency Management is off
        for row in dated:
            rates.dated.append(
                (
                    str(row["IsoCode"]),
                    _day(row["StartDate"]) or date.min,
                    _day(row["NextStartDate"]) or date.max,
                    float(row["ConversionRate"]),
                )
            )
        return rates

    def closed_since(self, since: Watermark) -> Iterator[WonDeal]:
        """Closed (won or lost) opportunities changed since ``since``, with their buyers."""
        fields = [*DEAL_FIELDS, *(["CurrencyIsoCode"] if self.multi_currency() else [])]
        for page in self._reader.changes("Opportunity", since, fields, where="IsClosed = true"):
            closed = [r for r in page.records if r.fields.get("IsClosed") and not r.archived]
            buyers = self.related("Opportunity", [r.id for r in closed], "Contact")
            for record in closed:
                deal = self.to_won_deal(record.id, record.fields, buyers.get(record.id, []))
                yield replace(deal, modified_at=record.modified_at)

    def to_won_deal(self, deal_id: str, fields: dict[str, Any], buyers: list[str]) -> WonDeal:
        """Interpret an Opportunity's fields (IsWon decides won, never the stage name)."""
        amount = _number(fields.get("Amount"))
        close_date = _day(fields.get("CloseDate"))
        currency = fields.get("CurrencyIsoCode")
        home = amount
        source = None
        if currency and amount is not None:
            rate, source = self.rates().rate_and_source(str(currency), close_date)
            home = amount / rate if rate else None
        return WonDeal(
            deal_id=deal_id,
            amount=amount,
            currency=str(currency) if currency else None,
            home_amount=home,
            is_won=bool(fields.get("IsWon")),
            is_closed=bool(fields.get("IsClosed")),
            close_date=parse_datetime(fields.get("CloseDate")),
            buyer_ids=buyers,
            campaign_id=str(fields["CampaignId"]) if fields.get("CampaignId") else None,
            rate_source=source,
        )

    def by_ids(self, ids: Sequence[str]) -> list[WonDeal]:
        """Opportunities by id as they are now (open ones too); missing ids come back deleted."""
        wanted = list(dict.fromkeys(ids))
        fields = [*DEAL_FIELDS, *(["CurrencyIsoCode"] if self.multi_currency() else [])]
        records = {r.id: r for r in self._reader.by_ids("Opportunity", wanted, fields)}
        closed = [i for i in wanted if i in records and records[i].fields.get("IsClosed")]
        buyers = self.related("Opportunity", closed, "Contact")
        deals = []
        for deal_id in wanted:
            record = records.get(deal_id)
            if record is None:
                deals.append(
                    WonDeal(deal_id, None, None, None, False, False, None, is_deleted=True)
                )
            else:
                deals.append(self.to_won_deal(deal_id, record.fields, buyers.get(deal_id, [])))
        return deals

    def related(self, from_type: str, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        """For each id, the related ``to_type`` ids (see :data:`RELATIONS`).

        Raises:
            FatalSyncError: for a pair of object types closedloop does not relate.
        """
        relation = RELATIONS.get((from_type, to_type))
        if relation is None:
            known = ", ".join(f"{a}->{b}" for a, b in RELATIONS)
            raise FatalSyncError(f"no relation {from_type}->{to_type} (known: {known})")
        sobject, key, value = relation
        extra = ", IsPrimary" if sobject == "OpportunityContactRole" else ""
        select = f"{key}, {value}{extra}"
        found: dict[str, list[tuple[bool, str]]] = {}
        for chunk in id_chunks(ids, len(select) * 3 + 400):
            where = f"{value} != null AND {key} IN {soql_ids(chunk)}"
            for row in self._rows(soql(select, sobject, where=where)):
                pairs = found.setdefault(str(row[key]), [])
                pair = (not row.get("IsPrimary"), str(row[value]))
                if pair[1] not in (p[1] for p in pairs):
                    pairs.append(pair)
        return {origin: [v for _, v in sorted(pairs)] for origin, pairs in found.items()}

    def campaign_memberships(
        self, object_type: str, ids: Sequence[str]
    ) -> dict[str, list[CampaignMembership]]:
        """The campaigns each Lead or Contact belongs to, with status and response."""
        key = {"Lead": "LeadId", "Contact": "ContactId"}.get(object_type)
        if key is None:
            raise FatalSyncError(f"campaign members are Leads or Contacts, not {object_type}")
        select = f"{key}, CampaignId, Status, HasResponded, FirstRespondedDate"
        found: dict[str, list[CampaignMembership]] = {}
        for chunk in id_chunks(ids, len(select) * 3 + 400):
            where = f"{key} IN {soql_ids(chunk)}"
            for row in self._rows(soql(select, "CampaignMember", where=where)):
                found.setdefault(str(row[key]), []).append(
                    CampaignMembership(
                        str(row["CampaignId"]),
                        row.get("Status"),
                        bool(row.get("HasResponded")),
                        _day(row.get("FirstRespondedDate")),
                    )
                )
        return found

    def _rows(self, soql: str) -> list[dict[str, Any]]:
        return [row for page in self._reader.pages(soql) for row in page]


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _day(value: Any) -> date | None:
    moment: datetime | None = parse_datetime(value)
    return moment.date() if moment else None
