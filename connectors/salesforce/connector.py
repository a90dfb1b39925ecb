"""The Salesforce connector: the contract of :mod:`closedloop.connectors.contract` on Salesforce.

Built on simple-salesforce 1.12, unmodified. Every call goes through
:class:`~closedloop.connectors.salesforce.api.SalesforceApi` (daily budget corrected by
``Sforce-Limit-Info``, timeouts, retries classified by ``errorCode``, one session renewal and
replay), and the work is split by concern: reads, writes (sObject Collections) and bulk
(Bulk API 2.0), revenue (opportunities, contact roles, conversions, campaigns, currencies),
provisioning and checks. A newcomer follows a write from :meth:`SalesforceConnector.write`
to :mod:`~closedloop.connectors.salesforce.writes` and then :mod:`~closedloop.connectors.
salesforce.api`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from closedloop.config.schema import Settings
from closedloop.connectors.budget import BudgetSnapshot
from closedloop.connectors.contract import (
    CheckItem,
    Connector,
    Page,
    ProvisionStep,
    Record,
    RowResult,
    RowWrite,
    Watermark,
    WonDeal,
)
from closedloop.connectors.salesforce.api import SalesforceApi
from closedloop.connectors.salesforce.bulk import SalesforceBulk
from closedloop.connectors.salesforce.checks import SalesforceChecks
from closedloop.connectors.salesforce.provisioning import SalesforceProvisioner
from closedloop.connectors.salesforce.reads import SalesforceReader
from closedloop.connectors.salesforce.revenue import CampaignMembership, SalesforceRevenue
from closedloop.connectors.salesforce.writes import SalesforceWriter
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import ConfigError, ConfigProblem


class SalesforceConnector(Connector):
    """Salesforce CRM data for one org."""

    name = "salesforce"

    def __init__(self, api: SalesforceApi, *, bulk_threshold: int = 2000) -> None:
        self.api = api
        self.reader = SalesforceReader(api)
        self.records_read = self.reader.tally
        """Records read so far, by object (see :mod:`~closedloop.connectors.read_tally`)."""
        self.bulk = SalesforceBulk(api)
        self.writer = SalesforceWriter(api, self.bulk, bulk_threshold=bulk_threshold)
        self.revenue = SalesforceRevenue(api, self.reader)
        self.provisioner = SalesforceProvisioner(api, self.reader)
        self.checks = SalesforceChecks(api, self.provisioner)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Clock = SYSTEM_CLOCK
    ) -> SalesforceConnector:
        """Build from ``settings.salesforce`` (client credentials or JWT bearer).

        Raises:
            ConfigError: when the org URL or the credentials of the chosen flow are missing.
        """
        sf = settings.salesforce
        if not sf.instance_url:
            raise ConfigError(
                [ConfigProblem("salesforce.instance_url", "the org's My Domain URL is missing")],
                hint="set salesforce.instance_url, e.g. https://acme.my.salesforce.com",
            )
        return cls(SalesforceApi(sf, clock=clock), bulk_threshold=sf.bulk_threshold)

    def check(self) -> list[CheckItem]:
        """Sign-in, API access, closedloop's fields, their visibility and access, conversion."""
        return self.checks.run()

    def provision(self, *, dry_run: bool) -> list[ProvisionStep]:
        """Create closedloop's fields and grant the integration user access (or only plan it)."""
        return self.provisioner.apply(dry_run=dry_run)

    def read_changes(
        self, object_type: str, since: Watermark, fields: Sequence[str]
    ) -> Iterator[Page]:
        """Records changed since the watermark (SystemModstamp, with an overlap)."""
        return self.reader.changes(object_type, since, fields)

    def read_all(
        self, object_type: str, fields: Sequence[str], history: Sequence[str] = ()
    ) -> Iterator[Page]:
        """Every live record, paged by id (``history`` is accepted and left empty)."""
        del history
        return self.reader.everything(object_type, fields)

    def read_records(
        self,
        object_type: str,
        ids: Sequence[str],
        fields: Sequence[str],
        history: Sequence[str] = (),
    ) -> list[Record]:
        """Records by id (``Id IN`` chunks).

        ``history`` is accepted and left empty: Salesforce keeps per-field history only for
        fields an admin tracks (``LeadHistory``...), which closedloop does not rely on.
        """
        del history
        return self.reader.by_ids(object_type, ids, fields)

    def find(
        self, object_type: str, field: str, values: Sequence[str], fields: Sequence[str]
    ) -> list[Record]:
        """Records whose ``field`` equals one of ``values`` (SOQL ``IN``)."""
        return self.reader.matching(object_type, field, values, fields)

    def write(self, rows: Sequence[RowWrite]) -> list[RowResult]:
        """Update by id or upsert by external id; collections, or Bulk API 2.0 when large."""
        return self.writer.write(rows)

    def related_ids(
        self, object_type: str, ids: Sequence[str], to_type: str
    ) -> dict[str, list[str]]:
        """Contact roles, lead conversions, campaign members and parent links."""
        return self.revenue.related(object_type, ids, to_type)

    def closed_deals(self, since: Watermark) -> Iterator[WonDeal]:
        """Closed opportunities changed since the watermark, with their buyers."""
        return self.revenue.closed_since(since)

    def deals_by_id(self, ids: Sequence[str]) -> list[WonDeal]:
        """Opportunities by id with their contact roles; missing ids come back deleted."""
        return self.revenue.by_ids(ids)

    def campaign_memberships(
        self, object_type: str, ids: Sequence[str]
    ) -> dict[str, list[CampaignMembership]]:
        """The campaigns each Lead or Contact belongs to."""
        return self.revenue.campaign_memberships(object_type, ids)

    def budget(self) -> BudgetSnapshot:
        """The daily allocation closedloop may use, what it used, and what the org has left."""
        return self.api.budget.snapshot()

    def close(self) -> None:
        """Close the HTTP session."""
        self.api.http.close()

    def describe(self) -> dict[str, Any]:
        """Name, retries, renewals and call counts so far."""
        return {
            "name": self.name,
            "retries": self.api.counter.retries,
            "reauthentications": self.api.counter.reauthentications,
            "tokens_issued": self.api.tokens.issued,
            "write_calls": self.writer.write_calls,
            "bulk_jobs": self.bulk.jobs,
            "calls": dict(self.api.calls),
            "api_usage": self.api.api_usage,
        }
