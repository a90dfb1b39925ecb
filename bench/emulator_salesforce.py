"""The Salesforce emulator target: read one lead, create 200 leads, query 2,000 leads.

Each operation is made raw (a ``requests.Session`` per thread) and through ``simple-salesforce``
wired as the contract tests wire it: :class:`SalesforceHTTP` reroutes every call for
:data:`SALESFORCE_INSTANCE` to the emulator. The org is seeded with :data:`SALESFORCE_SEED` and
its daily API limit lifted to :data:`SALESFORCE_LIMITS`.
"""

from __future__ import annotations

from typing import Any

import requests
from emulator_load import Call
from emulator_servers import BenchError
from emulator_targets import Operation, Target, expect, loopback_session
from simple_salesforce import Salesforce

from closedloop.connectors.salesforce.transport import SalesforceHTTP

SALESFORCE_CLIENT = ("emulator-client-id", "emulator-client-secret")  # its defaults too
SALESFORCE_INSTANCE = "https://bench.my.salesforce.com"  # rerouted to the emulator
SALESFORCE_API = "/services/data/v59.0"

SALESFORCE_SEED = {"leads": 2000, "seed": 1}
SALESFORCE_LIMITS = {"daily_api_requests": 100_000_000, "used": 0}
SALESFORCE_BATCH = 200
SALESFORCE_QUERY_ROWS = 2000
SALESFORCE_QUERY = (
    "SELECT Id, FirstName, LastName, Email, Company, LeadSource, Status, SystemModstamp "
    "FROM Lead WHERE SystemModstamp >= 2000-01-01T00:00:00Z "
    f"ORDER BY SystemModstamp, Id LIMIT {SALESFORCE_QUERY_ROWS}"
)


class SalesforceTarget(Target):
    """The Salesforce emulator: read one lead, create 200 leads, query 2,000 leads."""

    name = "salesforce"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        token = self.admin.post(
            f"{url}/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=SALESFORCE_CLIENT,
            timeout=30,
        )
        expect(token)
        self.token: str = token.json()["access_token"]
        self.lead_ids: list[str] = []

    def prepare(self) -> None:
        """Reset the org (tokens stay valid), lift the daily limit, seed leads, read their ids."""
        self.admin_post("reset", {})
        self.admin_post("limits", SALESFORCE_LIMITS)
        self.admin_post("seed", SALESFORCE_SEED)
        response = self._session().get(
            f"{self.url}{SALESFORCE_API}/query",
            params={"q": f"SELECT Id FROM Lead LIMIT {SALESFORCE_QUERY_ROWS}"},
            timeout=30,
        )
        expect(response)
        self.lead_ids = [record["Id"] for record in response.json()["records"]]
        if len(self.lead_ids) < SALESFORCE_QUERY_ROWS:
            raise BenchError(f"expected {SALESFORCE_QUERY_ROWS} leads, read {len(self.lead_ids)}")

    def _session(self) -> requests.Session:
        return loopback_session(
            {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        )

    def _client(self) -> Salesforce:
        # As the contract tests wire it: SalesforceHTTP sends every https:// call to the emulator.
        return Salesforce(
            instance_url=SALESFORCE_INSTANCE,
            session_id=self.token,
            session=SalesforceHTTP(emulator_url=self.url),
            version="59.0",
        )

    @staticmethod
    def _new_leads(index: int, call_number: int) -> dict[str, Any]:
        """A collection-create body of 200 new leads."""
        return {
            "allOrNone": False,
            "records": [
                {
                    "attributes": {"type": "Lead"},
                    "FirstName": "Bench",
                    "LastName": f"Lead {index}-{call_number}-{row}",
                    "Company": "Benchmark Inc",
                    "Email": f"bench.{index}.{call_number}.{row}@example.com",
                    "LeadSource": "Web",
                }
                for row in range(SALESFORCE_BATCH)
            ],
        }

    def operations(self) -> list[Operation]:
        """GET one lead, create 200 leads through sObject Collections, query 2,000 leads."""
        api = f"{self.url}{SALESFORCE_API}"

        def get_raw(index: int) -> Call:
            session, counter = self._session(), iter(range(index * 131, 1 << 62))

            def call() -> None:
                lead_id = self.lead_ids[next(counter) % len(self.lead_ids)]
                expect(session.get(f"{api}/sobjects/Lead/{lead_id}", timeout=30))

            return call

        def get_client(index: int) -> Call:
            lead, counter = self._client().Lead, iter(range(index * 131, 1 << 62))

            def call() -> None:
                lead.get(self.lead_ids[next(counter) % len(self.lead_ids)])

            return call

        def create_raw(index: int) -> Call:
            session, counter = self._session(), iter(range(1 << 62))

            def call() -> None:
                body = self._new_leads(index, next(counter))
                expect(session.post(f"{api}/composite/sobjects", json=body, timeout=60))

            return call

        def create_client(index: int) -> Call:
            sf, counter = self._client(), iter(range(1 << 62))

            def call() -> None:
                body = self._new_leads(index, next(counter))
                sf.restful("composite/sobjects", method="POST", json=body)

            return call

        def query_raw(index: int) -> Call:
            del index
            session = self._session()

            def call() -> None:
                expect(session.get(f"{api}/query", params={"q": SALESFORCE_QUERY}, timeout=60))

            return call

        def query_client(index: int) -> Call:
            del index
            sf = self._client()

            def call() -> None:
                sf.query(SALESFORCE_QUERY)

            return call

        def check_get() -> None:
            response = self._session().get(f"{api}/sobjects/Lead/{self.lead_ids[0]}", timeout=30)
            expect(response)
            if response.json().get("Id") != self.lead_ids[0]:
                raise BenchError(f"GET lead answered {response.text[:300]}")

        def check_create() -> None:
            body = self._new_leads(-1, 0)
            response = self._session().post(f"{api}/composite/sobjects", json=body, timeout=60)
            expect(response)
            results = response.json()
            if len(results) != SALESFORCE_BATCH or not all(row["success"] for row in results):
                raise BenchError(f"collection create failed: {response.text[:300]}")

        def check_query() -> None:
            response = self._session().get(
                f"{api}/query", params={"q": SALESFORCE_QUERY}, timeout=60
            )
            expect(response)
            page = response.json()
            if len(page["records"]) != SALESFORCE_QUERY_ROWS or not page["done"]:
                raise BenchError(f"query did not answer {SALESFORCE_QUERY_ROWS} rows in one page")

        return [
            Operation("get", "GET lead by id", 1, get_raw, get_client, check_get),
            Operation(
                "composite_create",
                f"collection create {SALESFORCE_BATCH} leads",
                SALESFORCE_BATCH,
                create_raw,
                create_client,
                check_create,
            ),
            Operation(
                "query",
                f"SOQL query, {SALESFORCE_QUERY_ROWS:,} leads",
                SALESFORCE_QUERY_ROWS,
                query_raw,
                query_client,
                check_query,
            ),
        ]
