"""The HubSpot connector: the contract of :mod:`closedloop.connectors.contract` on HubSpot.

Built on hubspot-api-client, unmodified: the host comes from ``hubspot.base_url`` (an emulator
in tests and the demo), every call goes through :class:`~closedloop.connectors.hubspot.api.
HubSpotApi` (budget, timeout, retry, token renewal), and the work is split by concern into
reads, writes, deals and provisioning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from closedloop.config.schema import Settings
from closedloop.connectors.budget import BudgetSnapshot
from closedloop.connectors.contract import (
    CheckItem,
    Connector,
    MarketingEvent,
    Page,
    ProvisionStep,
    Record,
    RowResult,
    RowWrite,
    Watermark,
    WonDeal,
)
from closedloop.connectors.hubspot.api import STANDARD, HubSpotApi, hubspot_budget
from closedloop.connectors.hubspot.auth import OAuthRefreshToken, StaticToken, TokenSource
from closedloop.connectors.hubspot.deals import HubSpotDeals, send_events
from closedloop.connectors.hubspot.provisioning import HubSpotProvisioner
from closedloop.connectors.hubspot.reads import HubSpotReader
from closedloop.connectors.hubspot.writes import HubSpotWriter
from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import ConfigError, ConfigProblem, ConnectorError


class HubSpotConnector(Connector):
    """HubSpot CRM and marketing data for one portal."""

    name = "hubspot"

    def __init__(self, api: HubSpotApi) -> None:
        self.api = api
        self.reader = HubSpotReader(api)
        self.records_read = self.reader.tally
        """Records read so far, by object and kind of read (see ``connectors.read_tally``)."""
        self.writer = HubSpotWriter(api)
        self.deals = HubSpotDeals(api, self.reader)
        self.provisioner = HubSpotProvisioner(api)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = SYSTEM_CLOCK) -> HubSpotConnector:
        """Build from ``settings.hubspot`` (a private-app token, or OAuth refresh credentials).

        Raises:
            ConfigError: when neither kind of credential is configured.
        """
        hs = settings.hubspot
        tokens: TokenSource
        if hs.access_token is not None:
            tokens = StaticToken(hs.access_token.get_secret_value())
        elif hs.refresh_token is not None and hs.client_id and hs.client_secret is not None:
            tokens = OAuthRefreshToken(
                hs.base_url,
                hs.client_id,
                hs.client_secret.get_secret_value(),
                hs.refresh_token.get_secret_value(),
                clock=clock,
                timeout=hs.timeout_seconds,
            )
        else:
            raise ConfigError(
                [ConfigProblem("hubspot.access_token", "no HubSpot credentials configured")],
                hint="set hubspot.access_token, or client_id, client_secret and refresh_token",
            )
        budget = hubspot_budget(hs.tier, hs.daily_share, clock)
        api = HubSpotApi(hs.base_url, tokens, budget, timeout=hs.timeout_seconds, clock=clock)
        return cls(api)

    def check(self) -> list[CheckItem]:
        """Connectivity and scopes (one call per object), then closedloop's properties."""
        items: list[CheckItem] = []
        basic = self.api.api("crm.objects.basic_api")
        for object_type in ("contacts", "companies", "deals"):
            try:
                self.api.call(STANDARD, basic.get_page_with_http_info, object_type, limit=1)
            except ConnectorError as exc:
                items.append(CheckItem(f"read {object_type}", False, str(exc), exc.hint))
            else:
                items.append(CheckItem(f"read {object_type}", True, "token and scope accepted"))
        if not all(i.ok for i in items):
            return items
        missing = [s.target for s in self.provisioner.steps() if not s.exists]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            items.append(
                CheckItem(
                    "closedloop properties",
                    False,
                    f"missing: {shown}",
                    "run `closedloop provision`",
                )
            )
        else:
            items.append(CheckItem("closedloop properties", True, "all present"))
        items.append(
            CheckItem(
                "webhook subscriptions (manual)",
                True,
                "HubSpot lists an app's subscriptions only to its developer account, so "
                "closedloop cannot read them with this token",
                "in your app's Webhooks settings, target <server.public_base_url>/webhooks/hubspot "
                "and subscribe to contact.creation, contact.propertyChange (email, lifecyclestage, "
                "utm_*), contact.merge, deal.propertyChange (dealstage, amount) and "
                "deal.deletion; the scheduled sync catches anything missed",
            )
        )
        return items

    def provision(self, *, dry_run: bool) -> list[ProvisionStep]:
        """Create closedloop's property group and properties (or only plan them)."""
        return self.provisioner.apply(dry_run=dry_run)

    def read_changes(
        self, object_type: str, since: Watermark, fields: Sequence[str]
    ) -> Iterator[Page]:
        """Records changed since the watermark (search, re-anchored past the 10,000 cap)."""
        return self.reader.changes(object_type, since, fields)

    def read_all(
        self, object_type: str, fields: Sequence[str], history: Sequence[str] = ()
    ) -> Iterator[Page]:
        """Every record, by list paging (50 a page with ``history``, else 100)."""
        return self.reader.everything(object_type, fields, history)

    def read_records(
        self,
        object_type: str,
        ids: Sequence[str],
        fields: Sequence[str],
        history: Sequence[str] = (),
    ) -> list[Record]:
        """Records by id (batch read), with property history of ``history``."""
        return self.reader.by_ids(object_type, ids, fields, history)

    def find(
        self, object_type: str, field: str, values: Sequence[str], fields: Sequence[str]
    ) -> list[Record]:
        """Records whose unique ``field`` equals one of ``values`` (batch read by idProperty)."""
        return self.reader.by_ids(object_type, values, fields, id_property=field)

    def write(self, rows: Sequence[RowWrite]) -> list[RowResult]:
        """Batch update / upsert at 100 per call with per-row results."""
        return self.writer.write(rows)

    def related_ids(
        self, object_type: str, ids: Sequence[str], to_type: str
    ) -> dict[str, list[str]]:
        """Associations v4 batch read."""
        return self.deals.related(object_type, ids, to_type)

    def closed_deals(self, since: Watermark) -> Iterator[WonDeal]:
        """Closed deals changed since the watermark, with their contacts."""
        return self.deals.closed_since(since)

    def deals_by_id(self, ids: Sequence[str]) -> list[WonDeal]:
        """Deals by id (batch read) with their contacts; missing ids come back deleted."""
        return self.deals.by_ids(ids)

    def push_events(self, events: Sequence[MarketingEvent]) -> list[RowResult]:
        """Behavioural events (``/events/v3/send/batch``), deduplicated by push key."""
        return send_events(self.api, events)

    def budget(self) -> BudgetSnapshot:
        """The portal's API budget."""
        return self.api.budget.snapshot()

    def describe(self) -> dict[str, Any]:
        """Name, retries and renewals so far."""
        return {
            "name": self.name,
            "retries": self.api.counter.retries,
            "reauthentications": self.api.counter.reauthentications,
            "write_calls": self.writer.write_calls,
        }
