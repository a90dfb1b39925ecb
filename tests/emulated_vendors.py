"""Both vendor emulators on loopback for end-to-end tests: start, seed, count calls, stop.

:func:`start_vendors` starts the HubSpot and Salesforce emulators as real HTTP servers, lifts
HubSpot's burst and search limits (tests make many calls in a short time), seeds HubSpot
contacts with journeys and returns :class:`Vendors`, which builds the :class:`Settings` that
point closedloop at them and counts the vendor write calls they answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import requests
from pydantic import SecretStr

from closedloop.config.schema import DatabaseSettings, HubSpotSettings, SalesforceSettings, Settings
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer

CLIENT_ID = "emulator-client-id"
CLIENT_SECRET = "emulator-client-secret"
# Reads that are not GETs: HubSpot searches and batch reads, OAuth, sObject Collections retrieve.
_READ_POSTS = ("/search", "/batch/read", "/oauth", "/query")
_RETRIEVE = re.compile(r"^POST /services/data/v[\d.]+/composite/sobjects/\w+$")


@dataclass
class Vendors:
    """The two emulators of one test, by URL."""

    hubspot_url: str
    salesforce_url: str
    org_id: str
    token: str
    hubspot_secret: str | None = None
    servers: list[RunningServer] = field(default_factory=list, repr=False)
    emulators: list[Any] = field(default_factory=list, repr=False)

    def admin(self, system: str, method: str, route: str, body: Any = None) -> Any:
        """Call an emulator's admin API (``/__emulator__/...``); fails the test on an error."""
        base = self.hubspot_url if system == "hubspot" else self.salesforce_url
        answer = requests.request(method, f"{base}/__emulator__/{route}", json=body, timeout=120)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def write_calls(self) -> dict[str, int]:
        """Vendor write calls each emulator answered since its statistics were reset."""
        counts = {}
        for system in ("hubspot", "salesforce"):
            routes = self.admin(system, "get", "stats")["by_route"]
            counts[system] = sum(
                n
                for route, n in routes.items()
                if not route.startswith("GET")
                and not any(part in route for part in _READ_POSTS)
                and not _RETRIEVE.search(route)
            )
        return counts

    def reset_stats(self) -> None:
        """Zero both emulators' call statistics."""
        for system in ("hubspot", "salesforce"):
            self.admin(system, "post", "stats/reset", {})

    def settings(self, database_url: str, **sections: Any) -> Settings:
        """Settings that point closedloop at these emulators (plus any other ``sections``)."""
        secret = SecretStr(self.hubspot_secret) if self.hubspot_secret else None
        return Settings(
            database=DatabaseSettings(url=database_url),
            hubspot=HubSpotSettings(
                base_url=self.hubspot_url, access_token=SecretStr(self.token), client_secret=secret
            ),
            salesforce=SalesforceSettings(
                instance_url=self.salesforce_url,
                login_url=self.salesforce_url,
                client_id=CLIENT_ID,
                client_secret=SecretStr(CLIENT_SECRET),
            ),
            **sections,
        )

    def stop(self) -> None:
        """Stop both servers and close the emulators."""
        for server in self.servers:
            server.stop()
        for emulator in self.emulators:
            close = getattr(emulator, "close", None)
            if close is not None:
                close()


def start_vendors(
    *,
    token: str,
    contacts: int,
    companies: int,
    seed: int,
    hubspot_secret: str | None = None,
) -> Vendors:
    """Start both emulators, lift HubSpot's burst limits and seed ``contacts`` with journeys."""
    secret = {"client_secret": hubspot_secret} if hubspot_secret else {}
    hubspot = hubspot_emulator(token=token, **secret)
    salesforce = salesforce_emulator(outbound_background=False)
    hs, sf = RunningServer(hubspot.app), RunningServer(salesforce.app)
    vendors = Vendors(
        hs.url,
        sf.url,
        salesforce.org.org_id,
        token,
        hubspot_secret,
        servers=[hs, sf],
        emulators=[hubspot, salesforce],
    )
    vendors.admin("hubspot", "post", "limits", {"burst": 100_000, "search_per_second": 1000})
    seeded = {"contacts": contacts, "companies": companies, "deals": 0, "seed": seed}
    vendors.admin("hubspot", "post", "seed", seeded)
    return vendors
