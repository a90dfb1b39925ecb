"""Both emulators, a synced store, and helpers to win, edit and delete deals through the APIs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from emulated_vendors import Vendors, start_vendors

from closedloop.config.schema import RevenueSettings, RolesSettings, Settings
from closedloop.connectors.contract import Connector, RowWrite
from closedloop.revenue.loop import RevenueLoop
from closedloop.sync.engine import SyncEngine
from closedloop.sync.model import RecordRef
from closedloop.sync.setup import build_connectors, build_sync, open_store

TOKEN = "revenue-token"
CLOSE = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")


@dataclass
class World:
    """The systems of one revenue scenario."""

    vendors: Vendors
    settings: Settings
    engine: SyncEngine
    loop: RevenueLoop
    counter: list[int] = field(default_factory=lambda: [0])

    def __getattr__(self, name: str) -> Any:  # admin, reset_stats, hubspot_url ...: Vendors'
        return getattr(self.vendors, name)

    @property
    def hubspot(self) -> Connector:
        return self.engine.connectors["hubspot"]

    @property
    def salesforce(self) -> Connector:
        return self.engine.connectors["salesforce"]

    def writes(self, system: str = "hubspot") -> int:
        """Write calls the emulator received since the last statistics reset."""
        return self.vendors.write_calls()[system]

    def sf_write(self, object_type: str, record_id: str, **fields: Any) -> None:
        self.counter[0] += 1
        key = f"test-{self.counter[0]}"
        [result] = self.salesforce.write([RowWrite(key, object_type, fields, record_id=record_id)])
        assert result.ok, result.reason

    def leads(self) -> list[Any]:
        fields = ["Email", "IsConverted"]
        return [r for p in self.salesforce.read_all("Lead", fields) for r in p.records]

    def win(self, amount: float, *, lead: Any = None, close: str = CLOSE, **extra: Any) -> str:
        """Convert a synced lead and close its opportunity won; returns the opportunity id."""
        lead = lead or next(x for x in self.leads() if not x.fields.get("IsConverted"))
        ids = self.admin("salesforce", "post", "convert-lead", {"lead_id": lead.id})
        opportunity = str(ids["opportunityId"])
        self.sf_write(
            "Opportunity",
            opportunity,
            StageName="Closed Won",
            Amount=amount,
            CloseDate=close,
            **extra,
        )
        return opportunity

    def contact_of_lead(self, lead_id: str) -> str:
        person = self.engine.state.identity.person_of(RecordRef("salesforce", "Lead", lead_id))
        assert person is not None
        refs = self.engine.state.identity.records_of(person)
        return next(r.record_id for r in refs if r.system == "hubspot")

    def contact_revenue(self, contact_id: str) -> dict[str, Any]:
        fields = ["cl_attributed_revenue", "cl_won_revenue_total", "cl_won_deal_count"]
        [record] = self.hubspot.read_records("contacts", [contact_id], fields)
        return record.fields

    def unattributed(self) -> Decimal:
        found = self.hubspot.find(
            "companies",
            "closedloop_external_id",
            ["closedloop:unattributed"],
            ["cl_attributed_revenue"],
        )
        return (
            Decimal(str(found[0].fields.get("cl_attributed_revenue") or 0)) if found else Decimal(0)
        )


@pytest.fixture
def world(database_url: str) -> Iterator[Callable[..., World]]:
    started: list[Vendors] = []
    stores: list[Any] = []

    def start(contacts: int = 12, seed: int = 1, crm: str = "salesforce", **revenue: Any) -> World:
        vendors = start_vendors(token=TOKEN, contacts=contacts, companies=3, seed=seed)
        started.append(vendors)
        settings = vendors.settings(database_url, revenue=RevenueSettings(**revenue))
        connectors = build_connectors(settings)
        for connector in connectors.values():
            connector.provision(dry_run=False)
        store = open_store(settings)
        stores.append(store)
        engine = build_sync(settings, store=store, connectors=connectors)
        engine.run(allow_blast=True)
        settings = settings.model_copy(update={"roles": RolesSettings(crm=crm)})
        loop = RevenueLoop(settings, engine.state, connectors)
        built = World(vendors, settings, engine, loop)
        built.reset_stats()
        return built

    yield start
    for vendors in started:
        vendors.stop()
    for store in stores:
        store.dispose()
