"""The emulators' shortcuts for large orgs answer exactly as a full read does.

A full reconciliation of 200,000 records reads the Salesforce emulator a chunk at a time by
``Id IN (...)`` and ``LeadId IN (...)``, and pages through every HubSpot contact. The emulators
answer those from an id index and by bisecting to a page's start instead of reading every
record each time; here each answer is checked against one the shortcut cannot take (the same
ids as an ``OR`` of single-id filters, which the index leaves alone) and against the records'
ids in order, through the official clients over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce.api import Salesforce, SFType
from urllib3.util.retry import Retry

from closedloop.connectors.salesforce.transport import SalesforceHTTP
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer

TOKEN = "scale-test-token"
INSTANCE = "https://acme.my.salesforce.com"


@pytest.fixture
def salesforce() -> Iterator[tuple[Salesforce, str]]:
    """A seeded Salesforce emulator: a simple-salesforce client and the admin base URL."""
    emulator = salesforce_emulator(seed=3, outbound_background=False)
    with RunningServer(emulator.app) as server:
        admin = f"{server.url}/__emulator__"
        seeded = requests.post(f"{admin}/seed", json={"leads": 80, "campaigns": 4}, timeout=60)
        seeded.raise_for_status()
        http = SalesforceHTTP(emulator_url=server.url, timeout=(5.0, 30.0))
        reply = http.post(
            f"{INSTANCE}/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("emulator-client-id", "emulator-client-secret"),
        )
        reply.raise_for_status()
        client = Salesforce(
            instance_url=INSTANCE, session_id=reply.json()["access_token"], session=http
        )
        yield client, admin
        http.close()
    emulator.close()


def rows(sf: Salesforce, soql: str, *, deleted: bool = False) -> list[dict[str, Any]]:
    """Every row of a query, without the ``attributes``."""
    found = sf.query_all(soql, include_deleted=deleted)["records"]
    return [{k: v for k, v in row.items() if k != "attributes"} for row in found]


def both_ways(sf: Salesforce, select: str, field: str, ids: list[str], **kw: Any) -> list[Any]:
    """The rows of ``field IN (ids)``, checked against the same ids as an OR (a full read)."""
    listed = ", ".join(f"'{i}'" for i in ids)
    indexed = rows(sf, f"{select} WHERE {field} IN ({listed})", **kw)
    scanned = rows(sf, f"{select} WHERE " + " OR ".join(f"{field} = '{i}'" for i in ids), **kw)
    assert indexed == scanned
    return indexed


def test_id_filters_answer_as_a_full_read(salesforce: tuple[Salesforce, str]) -> None:
    sf, _ = salesforce
    leads = [r["Id"] for r in rows(sf, "SELECT Id FROM Lead")]
    members = rows(sf, "SELECT Id, LeadId FROM CampaignMember WHERE LeadId != null")
    assert len(leads) == 80
    assert members
    # 18-character ids, one in lower case, one as its 15-character form, one unknown.
    wanted = [*leads[5:25], leads[40].lower(), leads[41][:15], "00Q000000000000AAA"]
    found = both_ways(sf, "SELECT Id, LastName FROM Lead", "Id", wanted)
    assert [r["Id"] for r in found] == [*leads[5:25], leads[40], leads[41]]  # table order
    member_leads = sorted({str(m["LeadId"]) for m in members})[:10]
    chosen = both_ways(sf, "SELECT Id, LeadId FROM CampaignMember", "LeadId", member_leads)
    assert {r["LeadId"] for r in chosen} == set(member_leads)
    assert len(chosen) == sum(1 for m in members if m["LeadId"] in member_leads)
    one = rows(sf, f"SELECT Id FROM Lead WHERE Id = '{leads[3]}' AND LastName != null")
    assert one == [{"Id": leads[3]}]


def test_the_id_index_follows_writes(salesforce: tuple[Salesforce, str]) -> None:
    sf, _ = salesforce
    leads = [r["Id"] for r in rows(sf, "SELECT Id FROM Lead")]
    both_ways(sf, "SELECT Id FROM Lead", "Id", leads[:5])  # builds the index
    lead = cast(SFType, sf.Lead)
    lead.delete(leads[1])
    created = lead.create({"LastName": "Later", "Company": "Acme"})["id"]
    lead.update(leads[2], {"LastName": "Renamed"})
    wanted = [*leads[:5], created]
    live = both_ways(sf, "SELECT Id, LastName FROM Lead", "Id", wanted)
    assert [r["Id"] for r in live] == [leads[0], *leads[2:5], created]
    assert live[1]["LastName"] == "Renamed"
    every = both_ways(sf, "SELECT Id, IsDeleted FROM Lead", "Id", wanted, deleted=True)
    assert [r["Id"] for r in every] == wanted
    assert every[1]["IsDeleted"] is True


@pytest.fixture
def hubspot() -> Iterator[HubSpot]:
    """A HubSpot emulator and the official client pointed at it."""
    emulator = hubspot_emulator(token=TOKEN)
    with RunningServer(emulator.app) as server:
        yield HubSpot(access_token=TOKEN, host=server.url, retry=Retry(total=0))
    emulator.close()


def page_through(hs: HubSpot, limit: int) -> list[str]:
    """Every live contact id, page by page."""
    ids: list[str] = []
    after = None
    while True:
        page = hs.crm.contacts.basic_api.get_page(limit=limit, after=after)
        ids += [record.id for record in page.results]
        if page.paging is None or page.paging.next is None:
            return ids
        after = page.paging.next.after


def test_list_pages_start_where_the_last_one_ended(hubspot: HubSpot) -> None:
    contacts = hubspot.crm.contacts.basic_api
    made = [contacts.create({"properties": {"email": f"p{n}@example.com"}}).id for n in range(23)]
    assert page_through(hubspot, 5) == sorted(made, key=int)
    for gone in (made[0], made[7], made[22]):
        contacts.archive(gone)
    later = contacts.create({"properties": {"email": "late@example.com"}}).id
    live = sorted({*made, later} - {made[0], made[7], made[22]}, key=int)
    for limit in (1, 4, 100):
        assert page_through(hubspot, limit) == live
    archived = contacts.get_page(limit=2, archived=True)
    assert [r.id for r in archived.results] == [made[0], made[7]]
    assert archived.paging.next.after == made[22]
