"""Both emulators, a synced store, and helpers to win, edit and delete deals through the APIs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from closedloop.config.schema import (
    DatabaseSettings,
    HubSpotSettings,
    RevenueSettings,
    RolesSettings,
    SalesforceSettings,
    Settings,
)
from closedloop.connectors.contract import Connector, RowWrite
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer
from closedloop.revenue.loop import RevenueLoop
from closedloop.sync.engine import SyncEngine
from closedloop.sync.model import RecordRef
from closedloop.sync.setup import build_connectors, build_sync, open_store

TOKEN = "revenue-token"
CLOSE = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")


@dataclass
class World:
    """The systems of one revenue scenario."""

    hubspot_url: str
    salesforce_url: str
    settings: Settings
    engine: SyncEngine
    loop: RevenueLoop
    counter: list[int] = field(default_factory=lambda: [0])

    @property
    def hubspot(self) -> Connector:
        return self.engine.connectors["hubspot"]

    @property
    def salesforce(self) -> Connector:
        return self.engine.connectors["salesforce"]

    def admin(self, system: str, method: str, route: str, body: Any = None) -> Any:
        base = self.hubspot_url if system == "hubspot" else self.salesforce_url
        answer = requests.request(method, f"{base}/__emulator__/{route}", json=body, timeout=120)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def writes(self, system: str = "hubspot") -> int:
        """Write calls the emulator received since the last statistics reset."""
        routes = self.admin(system, "get", "stats")["by_route"]
        return sum(
            n
            for route, n in routes.items()
            if not route.startswith("GET")
            and "/search" not in route
            and "/batch/read" not in route
            and "/oauth" not in route
            and "/query" not in route
        )

    def reset_stats(self) -> None:
        for system in ("hubspot", "salesforce"):
            self.admin(system, "post", "stats/reset", {})

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
    servers: list[RunningServer] = []
    stores: list[Any] = []

    def start(contacts: int = 12, seed: int = 1, crm: str = "salesforce", **revenue: Any) -> World:
        hubspot = RunningServer(hubspot_emulator(token=TOKEN).app)
        salesforce = RunningServer(salesforce_emulator(outbound_background=False).app)
        servers.extend([hubspot, salesforce])
        requests.post(
            f"{hubspot.url}/__emulator__/limits",
            json={"burst": 100_000, "search_per_second": 1000},
            timeout=10,
        )
        requests.post(
            f"{hubspot.url}/__emulator__/seed",
            json={"contacts": contacts, "companies": 3, "deals": 0, "seed": seed},
            timeout=300,
        ).raise_for_status()
        settings = Settings(
            database=DatabaseSettings(url=database_url),
            hubspot=HubSpotSettings(base_url=hubspot.url, access_token=TOKEN),
            salesforce=SalesforceSettings(
                instance_url=salesforce.url,
                login_url=salesforce.url,
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
            ),
            revenue=RevenueSettings(**revenue),
        )
        connectors = build_connectors(settings)
        for connector in connectors.values():
            connector.provision(dry_run=False)
        store = open_store(settings)
        stores.append(store)
        engine = build_sync(settings, store=store, connectors=connectors)
        engine.run(allow_blast=True)
        settings = settings.model_copy(update={"roles": RolesSettings(crm=crm)})
        loop = RevenueLoop(settings, engine.state, connectors)
        built = World(hubspot.url, salesforce.url, settings, engine, loop)
        built.reset_stats()
        return built

    yield start
    for server in servers:
        server.stop()
    for store in stores:
        store.dispose()
