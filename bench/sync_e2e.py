"""The sync engine end to end on in-process emulators: write calls against the floor.

    python bench/sync_e2e.py [--people 2000] [--json]

HubSpot marketing + Salesforce CRM. Seeds ``--people`` HubSpot contacts with UTM journeys,
runs the first sync (creating Salesforce Leads and stamping both sides), a second sync (which
must write nothing), 100 two-way phone edits (50 per side; each must be written exactly once),
100 drifted Salesforce values repaired by a full reconciliation, and compares a dry run's plan
with what the real run then sends. Write calls are read from the emulators' statistics;
``floor_write_calls`` is the sum over destination objects of ceil(records written / batch max).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from closedloop.config.schema import DatabaseSettings, HubSpotSettings, SalesforceSettings, Settings
from closedloop.connectors.contract import RowWrite
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer
from closedloop.sync.setup import build_connectors, build_sync, open_store

BATCH = {"hubspot": 100, "salesforce": 200}
READ_ROUTES = ("/search", "/batch/read", "/oauth")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_calls(urls: dict[str, str]) -> int:
    total = 0
    for url in urls.values():
        routes = requests.get(f"{url}/__emulator__/stats", timeout=30).json()["by_route"]
        total += sum(
            n
            for r, n in routes.items()
            if not r.startswith("GET") and not any(x in r for x in READ_ROUTES)
        )
    return total


def reset(urls: dict[str, str]) -> None:
    for url in urls.values():
        requests.post(f"{url}/__emulator__/stats/reset", json={}, timeout=10)


def writes_by_system(plan: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in plan["records"]:
        if any(c["outcome"] == "write" for c in record["fields"].values()):
            counts[record["system"]] = counts.get(record["system"], 0) + 1
    return counts


def writes_of(report: dict[str, Any]) -> dict[tuple[str, str, str, str], Any]:
    return {
        (r["system"], r["object"], str(r["record_id"]), field): change["to"]
        for r in report["records"]
        for field, change in r["fields"].items()
        if change["outcome"] == "write"
    }


def run(people: int, workdir: Path) -> dict[str, Any]:
    hubspot = RunningServer(hubspot_emulator(token="bench").app)
    salesforce = RunningServer(salesforce_emulator(outbound_background=False).app)
    urls = {"hubspot": hubspot.url, "salesforce": salesforce.url}
    try:
        requests.post(
            f"{hubspot.url}/__emulator__/seed",
            json={"contacts": people, "companies": 50, "deals": 0, "seed": 1},
            timeout=600,
        ).raise_for_status()
        settings = Settings(
            database=DatabaseSettings(url=f"sqlite:///{workdir / 'bench.db'}"),
            hubspot=HubSpotSettings(base_url=hubspot.url, access_token="bench"),
            salesforce=SalesforceSettings(
                instance_url=salesforce.url,
                login_url=salesforce.url,
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
            ),
        )
        connectors = build_connectors(settings)
        for connector in connectors.values():
            connector.provision(dry_run=False)
        store = open_store(settings)
        engine = build_sync(settings, store=store, connectors=connectors)
        reset(urls)

        log(f"dry run over {people} people")
        plan = engine.run(dry_run=True, allow_blast=True).as_json()
        floor = sum(math.ceil(n / BATCH[s]) for s, n in writes_by_system(plan).items())
        log("first sync")
        started = time.perf_counter()
        first = engine.run(allow_blast=True).as_json()
        seconds = time.perf_counter() - started
        first_calls = write_calls(urls)
        dry_run_matches = writes_of(plan) == writes_of(first)

        reset(urls)
        log("second sync")
        engine.run()
        second_calls = write_calls(urls)

        log("100 two-way edits")
        leads = [r for p in connectors["salesforce"].read_all("Lead", ["Email"]) for r in p.records]
        marketing_side, crm_side = leads[:50], leads[50:100]
        contacts = connectors["hubspot"].find(
            "contacts", "email", [str(r.fields["Email"]) for r in marketing_side], ["phone"]
        )
        requests.post(
            f"{hubspot.url}/__emulator__/clock", json={"advance_seconds": 600}, timeout=10
        )
        connectors["hubspot"].write(
            [
                RowWrite(f"hp{i}", "contacts", {"phone": f"+1 555 01{i:03d}"}, record_id=c.id)
                for i, c in enumerate(contacts)
            ]
        )
        connectors["salesforce"].write(
            [
                RowWrite(f"sp{i}", "Lead", {"Phone": f"+44 20 79{i:03d}"}, record_id=r.id)
                for i, r in enumerate(crm_side)
            ]
        )
        edits = engine.run(allow_blast=True).counts.changed
        again = engine.run().counts.changed
        ping_pong = max(edits - 100, 0) + again

        log("100 drifted values, then a full reconciliation")
        for lead in leads[100:200]:
            requests.patch(
                f"{salesforce.url}/__emulator__/records/Lead/{lead.id}",
                json={"CL_Last_Touch_Source__c": "drifted"},
                timeout=10,
            )
        repaired = engine.run(full=True, allow_blast=True).counts
        store.dispose()
        return {
            "people": people,
            "first_sync_write_calls": first_calls,
            "floor_write_calls": floor,
            "second_sync_write_calls": second_calls,
            "ping_pong_writes": ping_pong,
            "drift_injected": 100,
            "drift_repaired": repaired.written,
            "dry_run_matches": dry_run_matches,
            "first_sync_seconds": round(seconds, 2),
        }
    finally:
        hubspot.stop()
        salesforce.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = run(args.people, Path(workdir))
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
        return
    for key, value in result.items():
        print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
