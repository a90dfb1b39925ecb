"""Connector write throughput against the emulators, as ratios of the vendor floors.

    python bench/connectors.py [--records 25000] [--json]

Runs in-process emulators (HubSpot at the Pro tier: 190 calls per 10 s) and drives the real
connectors through the official clients. Call counts come from the emulators'
``/__emulator__/stats``, never from the client. Floors: ``ceil(records / batch maximum)``
calls, and for HubSpot ``floor_calls / 19 per second``. The baseline writes 1,000 records one
call each with the same client and the same budget, in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import requests

from closedloop.config.schema import HubSpotSettings, SalesforceSettings, Settings
from closedloop.connectors.contract import RowWrite
from closedloop.connectors.hubspot.api import STANDARD
from closedloop.connectors.hubspot.connector import HubSpotConnector
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer

HUBSPOT_BATCH = 100
HUBSPOT_CALLS_PER_SECOND = 19.0  # 190 per rolling 10 s at the Pro tier
SALESFORCE_COLLECTION = 200
TOKEN = "bench-token"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def stats(url: str) -> dict[str, Any]:
    return requests.get(f"{url}/__emulator__/stats", timeout=30).json()


def contact_rows(n: int, prefix: str) -> list[RowWrite]:
    return [
        RowWrite(
            f"{prefix}-{i}",
            "contacts",
            {"firstname": f"First{i}", "lastname": f"Last{i}", "cl_first_touch_source": "google"},
            match=("email", f"{prefix}{i}@example.com"),
        )
        for i in range(n)
    ]


def bench_hubspot(records: int) -> tuple[dict[str, Any], dict[str, Any]]:
    emulator = hubspot_emulator(token=TOKEN, tier="pro")
    with RunningServer(emulator.app) as server:
        settings = Settings(hubspot=HubSpotSettings(base_url=server.url, access_token=TOKEN))
        connector = HubSpotConnector.from_settings(settings)
        connector.provision(dry_run=False)
        requests.post(f"{server.url}/__emulator__/stats/reset", json={}, timeout=10)
        requests.post(f"{server.url}/__emulator__/limits", json={"reset_windows": True}, timeout=10)
        log(f"hubspot: upserting {records} contacts")
        started = time.perf_counter()
        results = connector.write(contact_rows(records, "bench"))
        seconds = time.perf_counter() - started
        failed = sum(1 for r in results if not r.ok)
        counted = stats(server.url)
        floor_calls = math.ceil(records / HUBSPOT_BATCH)
        hubspot = {
            "records": records,
            "failed": failed,
            "write_calls": counted["by_route"].get("POST /crm/v3/objects/contacts/batch/upsert", 0),
            "floor_calls": floor_calls,
            "seconds": round(seconds, 2),
            "floor_seconds": round(floor_calls / HUBSPOT_CALLS_PER_SECOND, 2),
            "rate_limited": counted["rate_limited"],
            "retries": connector.api.counter.retries,
        }
        baseline = bench_baseline(connector, server.url)
    return hubspot, baseline


def bench_baseline(connector: HubSpotConnector, url: str, records: int = 1000) -> dict[str, Any]:
    """One call per record with the same client, budget and retries: what batching saves."""
    requests.post(f"{url}/__emulator__/stats/reset", json={}, timeout=10)
    basic = connector.api.api("crm.objects.basic_api")
    log(f"baseline: creating {records} contacts one call each")
    started = time.perf_counter()
    for i in range(records):
        body = {"properties": {"email": f"single{i}@example.com", "firstname": f"S{i}"}}
        connector.api.call(STANDARD, basic.create_with_http_info, "contacts", body)
    seconds = time.perf_counter() - started
    return {"records": records, "calls": stats(url)["total"], "seconds": round(seconds, 2)}


def salesforce_connector(url: str) -> Any:
    from closedloop.connectors.salesforce.connector import SalesforceConnector  # noqa: PLC0415

    settings = Settings(
        salesforce=SalesforceSettings(
            instance_url=url,
            login_url=url,
            client_id="emulator-client-id",
            client_secret="emulator-client-secret",
            daily_allowance=5_000_000,
        )
    )
    connector = SalesforceConnector.from_settings(settings)
    connector.provision(dry_run=False)
    return connector


def lead_rows(n: int, prefix: str) -> list[RowWrite]:
    return [
        RowWrite(
            f"{prefix}-{i}",
            "Lead",
            {"LastName": f"Last{i}", "Company": "Bench Inc", "CL_First_Touch_Source__c": "google"},
            match=("closedloop_id__c", f"{prefix}-{i}"),
        )
        for i in range(n)
    ]


def bench_salesforce(records: int) -> tuple[dict[str, Any], dict[str, Any]]:
    emulator = salesforce_emulator(outbound_background=False)
    with RunningServer(emulator.app) as server:
        requests.post(
            f"{server.url}/__emulator__/limits", json={"daily_api_requests": 50_000_000}, timeout=10
        )
        connector = salesforce_connector(server.url)
        requests.post(f"{server.url}/__emulator__/stats/reset", json={}, timeout=10)
        log("salesforce: 1,500 leads through sObject Collections")
        collection_results = connector.write(lead_rows(1500, "coll"))
        counted = stats(server.url)["by_route"]
        collection_calls = sum(v for k, v in counted.items() if "/composite/sobjects" in k)
        collections = {
            "records": 1500,
            "failed": sum(1 for r in collection_results if not r.ok),
            "write_calls": collection_calls,
            "floor_calls": math.ceil(1500 / SALESFORCE_COLLECTION),
        }
        requests.post(f"{server.url}/__emulator__/stats/reset", json={}, timeout=10)
        log(f"salesforce: {records} leads through Bulk API 2.0")
        started = time.perf_counter()
        bulk_results = connector.write(lead_rows(records, "bulk"))
        bulk = {
            "records": records,
            "failed": sum(1 for r in bulk_results if not r.ok),
            "calls": stats(server.url)["total"],
            "seconds": round(time.perf_counter() - started, 2),
        }
    return bulk, collections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=25_000)
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args()
    hubspot, baseline = bench_hubspot(args.records)
    bulk, collections = bench_salesforce(args.records)
    result = {
        "hubspot": hubspot,
        "salesforce_bulk": bulk,
        "salesforce_collections": collections,
        "baseline_per_record": baseline,
    }
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
        return
    ratio = hubspot["write_calls"] / hubspot["floor_calls"]
    print(
        f"HubSpot: {hubspot['write_calls']} calls for {hubspot['records']} records "
        f"({ratio:.3f} x floor), {hubspot['seconds']} s vs floor {hubspot['floor_seconds']} s, "
        f"{hubspot['rate_limited']} rate-limited, {hubspot['retries']} retries"
    )
    print(
        f"Salesforce collections: {collections['write_calls']} calls "
        f"(floor {collections['floor_calls']}); Bulk API 2.0: {bulk['calls']} calls "
        f"for {bulk['records']} records"
    )
    print(
        f"Baseline: {baseline['calls']} calls, {baseline['seconds']} s for "
        f"{baseline['records']} records one by one"
    )


if __name__ == "__main__":
    main()
