"""The HubSpot emulator target: read one contact, batch upsert 100 contacts, search 200.

Each operation is made raw (a ``requests.Session`` per thread) and through
``hubspot-api-client`` built the way the connector builds it (no client-side retries). The
portal is seeded with :data:`HUBSPOT_SEED` and its limits lifted to :data:`HUBSPOT_LIMITS` so no
429 interferes.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from emulator_load import Call
from emulator_servers import BenchError
from emulator_targets import Operation, Target, expect, loopback_session
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
)
from urllib3.util.retry import Retry

HUBSPOT_TOKEN = "emulator-token"  # the `closedloop emulate hubspot` default
HUBSPOT_SEED = {"contacts": 2000, "companies": 200, "seed": 1}
HUBSPOT_LIMITS = {"burst": 1_000_000, "daily": 100_000_000, "search_per_second": 100_000}
HUBSPOT_READ_PROPERTIES = [
    "email",
    "firstname",
    "lastname",
    "lifecyclestage",
    "hs_latest_source",
    "hs_latest_source_data_1",
    "hs_latest_source_data_2",
]
HUBSPOT_BATCH = 100
HUBSPOT_SEARCH_PAGE = 200


class HubSpotTarget(Target):
    """The HubSpot emulator: read one contact, upsert 100 contacts, search 200 contacts."""

    name = "hubspot"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.ids: list[str] = []
        self.emails: list[str] = []

    def prepare(self) -> None:
        """Reset the portal, lift its limits, seed contacts and read their ids and emails."""
        self.admin_post("reset", {})
        self.admin_post("limits", HUBSPOT_LIMITS)
        self.admin_post("seed", HUBSPOT_SEED)
        session = loopback_session({"Authorization": f"Bearer {HUBSPOT_TOKEN}"})
        self.ids, self.emails = [], []
        after: str | None = None
        while True:
            params = {"limit": "100", "properties": "email", **({"after": after} if after else {})}
            response = session.get(f"{self.url}/crm/v3/objects/contacts", params=params, timeout=30)
            expect(response)
            page = response.json()
            for result in page["results"]:
                self.ids.append(result["id"])
                self.emails.append(result["properties"]["email"])
            after = page.get("paging", {}).get("next", {}).get("after")
            if not after:
                break
        if len(self.ids) < HUBSPOT_SEED["contacts"]:
            raise BenchError(f"expected {HUBSPOT_SEED['contacts']} contacts, read {len(self.ids)}")

    def _session(self) -> requests.Session:
        return loopback_session(
            {"Authorization": f"Bearer {HUBSPOT_TOKEN}", "Content-Type": "application/json"}
        )

    def _client(self) -> HubSpot:
        # As the connector builds it (connectors/hubspot/api.py): no client-side retries.
        return HubSpot(
            access_token=HUBSPOT_TOKEN,
            host=self.url,
            base_url=self.url,
            retry=Retry(total=0, raise_on_status=False),
        )

    def _upsert_inputs(self, index: int, call_number: int) -> list[dict[str, Any]]:
        """100 existing contacts by email, with values that differ from the previous call."""
        first = (index * 7919 + call_number * HUBSPOT_BATCH) % len(self.emails)
        stamp = f"bench-{index}-{call_number}"
        return [
            {
                "idProperty": "email",
                "id": self.emails[(first + offset) % len(self.emails)],
                "properties": {"utm_campaign": stamp, "utm_source": "benchmark"},
            }
            for offset in range(HUBSPOT_BATCH)
        ]

    @staticmethod
    def _search_body() -> dict[str, Any]:
        """The incremental-read search the connector makes (connectors/hubspot/reads.py)."""
        return {
            "filterGroups": [
                {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}
            ],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": [*HUBSPOT_READ_PROPERTIES, "lastmodifieddate", "hs_object_id"],
            "limit": HUBSPOT_SEARCH_PAGE,
            "after": "0",
        }

    def operations(self) -> list[Operation]:
        """GET one contact, batch upsert 100, search a page of 200."""
        contacts = f"{self.url}/crm/v3/objects/contacts"
        read_query = "properties=" + ",".join(HUBSPOT_READ_PROPERTIES)

        def get_raw(index: int) -> Call:
            session, counter = self._session(), iter(range(index * 131, 1 << 62))

            def call() -> None:
                contact_id = self.ids[next(counter) % len(self.ids)]
                expect(session.get(f"{contacts}/{contact_id}?{read_query}", timeout=30))

            return call

        def get_client(index: int) -> Call:
            api, counter = self._client().crm.contacts.basic_api, iter(range(index * 131, 1 << 62))

            def call() -> None:
                api.get_by_id(
                    self.ids[next(counter) % len(self.ids)], properties=HUBSPOT_READ_PROPERTIES
                )

            return call

        def upsert_raw(index: int) -> Call:
            session, counter = self._session(), iter(range(1 << 62))

            def call() -> None:
                body = {"inputs": self._upsert_inputs(index, next(counter))}
                expect(session.post(f"{contacts}/batch/upsert", json=body, timeout=60))

            return call

        def upsert_client(index: int) -> Call:
            api, counter = self._client().crm.contacts.batch_api, iter(range(1 << 62))

            def call() -> None:
                inputs = [
                    SimplePublicObjectBatchInputUpsert(
                        id_property=row["idProperty"], id=row["id"], properties=row["properties"]
                    )
                    for row in self._upsert_inputs(index, next(counter))
                ]
                api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))

            return call

        def search_raw(index: int) -> Call:
            del index
            session, body = self._session(), json.dumps(self._search_body())

            def call() -> None:
                expect(session.post(f"{contacts}/search", data=body, timeout=60))

            return call

        def search_client(index: int) -> Call:
            del index
            api = self._client().crm.contacts.search_api
            body = self._search_body()

            def call() -> None:
                request = PublicObjectSearchRequest(
                    filter_groups=body["filterGroups"],
                    sorts=body["sorts"],
                    properties=body["properties"],
                    limit=body["limit"],
                    after=body["after"],
                )
                api.do_search(public_object_search_request=request)

            return call

        def check_get() -> None:
            response = self._session().get(f"{contacts}/{self.ids[0]}?{read_query}", timeout=30)
            expect(response)
            if response.json()["properties"].get("email") != self.emails[0]:
                raise BenchError(f"GET contact answered {response.text[:300]}")

        def check_upsert() -> None:
            body = {"inputs": self._upsert_inputs(0, -1)}
            response = self._session().post(f"{contacts}/batch/upsert", json=body, timeout=60)
            expect(response)
            results = response.json()["results"]
            if len(results) != HUBSPOT_BATCH or any(row.get("new") for row in results):
                raise BenchError("batch upsert did not update 100 existing contacts")

        def check_search() -> None:
            response = self._session().post(
                f"{contacts}/search", json=self._search_body(), timeout=60
            )
            expect(response)
            if len(response.json()["results"]) != HUBSPOT_SEARCH_PAGE:
                raise BenchError(f"search did not answer {HUBSPOT_SEARCH_PAGE} contacts")

        return [
            Operation("get", "GET contact by id", 1, get_raw, get_client, check_get),
            Operation(
                "batch_upsert",
                f"batch upsert {HUBSPOT_BATCH} contacts",
                HUBSPOT_BATCH,
                upsert_raw,
                upsert_client,
                check_upsert,
            ),
            Operation(
                "search",
                f"search, page of {HUBSPOT_SEARCH_PAGE} contacts",
                HUBSPOT_SEARCH_PAGE,
                search_raw,
                search_client,
                check_search,
            ),
        ]
