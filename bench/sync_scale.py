"""Streaming full reconciliation at scale: closedloop's peak memory over a large run.

    python bench/sync_scale.py [--records 200000] [--database-url URL] [--json]

Half the records are HubSpot contacts (single-touch, for volume), half Salesforce Leads. The
emulators run in their own process, seeded through their bulk admin routes, so only
closedloop is measured. A child process then runs, on a fresh store, a first full sync (the
initial load, with ``--allow-blast-radius``: it creates a Lead per contact and stamps every
record) and a second full reconciliation (guarded, staged, writing nothing), and reports its
own peak resident memory. Prints ``{"records", "peak_rss_mb", "seconds", ...}``: ``seconds``
is both runs together (``first_seconds`` and ``second_seconds`` apart), ``seed_seconds`` how
long the emulators took to seed their records.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests

from closedloop.config.schema import DatabaseSettings, HubSpotSettings, SalesforceSettings, Settings
from closedloop.emulators.hubspot import create_emulator as hubspot_emulator
from closedloop.emulators.salesforce import create_emulator as salesforce_emulator
from closedloop.emulators.server import RunningServer
from closedloop.sync.gather import Gatherer
from closedloop.sync.setup import build_connectors, build_sync, open_store

TOKEN = "scale-token"


def serve_emulators(records: int, pipe: Connection) -> None:
    """Child: both emulators, seeded; sends their URLs, then serves until told to stop."""
    hubspot = RunningServer(hubspot_emulator(token=TOKEN).app)
    salesforce = RunningServer(salesforce_emulator(outbound_background=False).app)
    requests.post(
        f"{hubspot.url}/__emulator__/limits",
        json={"burst": 10_000_000, "daily": 100_000_000, "search_per_second": 100_000},
        timeout=30,
    ).raise_for_status()
    requests.post(
        f"{salesforce.url}/__emulator__/limits", json={"daily_api_requests": 10_000_000}, timeout=30
    ).raise_for_status()
    contacts = records // 2
    started = time.monotonic()
    requests.post(
        f"{hubspot.url}/__emulator__/seed",
        json={"contacts": contacts, "companies": 0, "deals": 0, "journeys": False, "seed": 7},
        timeout=3600,
    ).raise_for_status()
    requests.post(
        f"{salesforce.url}/__emulator__/seed",
        json={"leads": records - contacts, "campaigns": 5, "seed": 7},
        timeout=3600,
    ).raise_for_status()
    seeded = round(time.monotonic() - started, 1)
    pipe.send({"hubspot": hubspot.url, "salesforce": salesforce.url, "seed_seconds": seeded})
    pipe.recv()
    hubspot.stop()
    salesforce.stop()


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (``VmHWM``).

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries that high-water mark across
    ``exec``, so a child spawned by a large parent (a long pytest run) would report the
    parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_sync(urls: dict[str, str], database_url: str, pipe: Connection, chunk: int = 0) -> None:
    """Child: the two full runs on a fresh store; sends counts, seconds and peak RSS."""
    if chunk:
        Gatherer.chunk_people = chunk
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        hubspot=HubSpotSettings(base_url=urls["hubspot"], access_token=TOKEN),
        salesforce=SalesforceSettings(
            instance_url=urls["salesforce"],
            login_url=urls["salesforce"],
            client_id="emulator-client-id",
            client_secret="emulator-client-secret",
        ),
    )
    connectors = build_connectors(settings)
    for connector in connectors.values():
        connector.provision(dry_run=False)
    store = open_store(settings)
    engine = build_sync(settings, store=store, connectors=connectors)
    started = time.monotonic()
    first = engine.run(full=True, allow_blast=True)
    between = time.monotonic()
    second = engine.run(full=True)
    ended = time.monotonic()
    pipe.send(
        {
            "seconds": round(ended - started, 1),
            "first_seconds": round(between - started, 1),
            "second_seconds": round(ended - between, 1),
            "peak_rss_mb": peak_rss_mb(),
            "first_read": first.counts.read,
            "first_written": first.counts.written,
            "first_failed": first.counts.failed,
            "second_read": second.counts.read,
            "second_changed": second.counts.changed,
            "staged_left": engine.state.staging.count(),
        }
    )
    store.dispose()


def measure(records: int, database_url: str | None = None, chunk: int = 0) -> dict[str, Any]:
    """Seed ``records`` records, run the two full syncs in a child, return the figures."""
    context = multiprocessing.get_context("spawn")
    emulator_end, here = context.Pipe()
    emulators = context.Process(target=serve_emulators, args=(records, emulator_end))
    emulators.start()
    try:
        urls = here.recv()
        seed_seconds = urls.pop("seed_seconds")
        with tempfile.TemporaryDirectory() as folder:
            url = database_url or f"sqlite:///{Path(folder) / 'scale.db'}"
            sync_end, results = context.Pipe()
            child = context.Process(target=run_sync, args=(urls, url, sync_end, chunk))
            child.start()
            figures: dict[str, Any] = results.recv()
            child.join()
        return {"records": records, "seed_seconds": seed_seconds, **figures}
    finally:
        here.send("stop")
        emulators.join(timeout=60)
        if emulators.is_alive():
            emulators.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--chunk", type=int, default=0, help="people per chunk (default: engine's)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    figures = measure(args.records, args.database_url, args.chunk)
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>16}: {value}", file=sys.stdout)


if __name__ == "__main__":
    main()
