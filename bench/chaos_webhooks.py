"""Webhooks under SIGKILL: 10,000 HubSpot changes reach Salesforce once each, through crashes.

    python bench/chaos_webhooks.py [--events 10000] [--kills 3] [--json]

1. The HubSpot and Salesforce emulators start in their own long-lived processes. HubSpot gets
   one contact per event (``journeys: false``); both are provisioned and a first sync (Python
   API, on the SQLite store ``serve`` will use) gives every contact its Salesforce Lead.
2. ``closedloop serve --no-scheduler`` (listener plus two inbox workers) starts in its own
   process group on that store.
3. A HubSpot-like sender (:mod:`chaos_generator`) changes each contact's phone in the HubSpot
   emulator, then delivers signed batches of 100 ``contact.propertyChange`` events (one batch
   starting every 0.4 s, up to six open at once), retrying every batch until it is acknowledged.
4. At 20 %, 45 % and 70 % of the batches sent, with requests in flight and a worker holding a
   claim (preferably while outbox rows are being sent), the whole serve process group gets
   SIGKILL and is restarted on the same store.
5. Once the sender is done, the run waits until the inbox and the outbox are drained, then
   measures in the Salesforce emulator: ``processed`` counts events whose phone is on the Lead;
   ``duplicated`` counts writes applied again with the same record and the same field values
   (the same push key), from the emulator's write log (``GET /__emulator__/write-log``).

Prints one JSON line ``{"events_sent", "acknowledged", "processed", "lost", "duplicated", ...}``
on stdout (progress on stderr) and exits 1 when anything was lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import yaml
from chaos_generator import ChangeEvent, HubSpotLikeSender
from chaos_serve import ServeGroup, StoreProbe, log, start_emulator, stop
from emulator_servers import free_port

from closedloop.config.schema import Settings
from closedloop.sync.setup import build_connectors, build_sync, open_store

TOKEN = "chaos-token"
CLIENT_SECRET = "chaos-client-secret"
PORTAL_ID = 62515
BATCH = 100
DRAIN_TIMEOUT_SECONDS = 420.0
PACE_SECONDS = 0.4
"""One batch starts every 0.4 s (250 events/s), so the burst lasts long enough to kill into."""


def write_config(workdir: Path, hubspot: str, salesforce: str, serve_port: int) -> Path:
    """The closedloop.yaml that ``serve`` and the first sync share."""
    document = {
        "database": {"url": f"sqlite:///{workdir / 'closedloop.db'}"},
        "hubspot": {"base_url": hubspot, "access_token": TOKEN, "client_secret": CLIENT_SECRET},
        "salesforce": {
            "instance_url": salesforce,
            "login_url": salesforce,
            "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret",
        },
        "server": {
            "host": "127.0.0.1",
            "port": serve_port,
            "public_base_url": f"http://127.0.0.1:{serve_port}",
        },
        "webhooks": {"workers": 2},
    }
    path = workdir / "closedloop.yaml"
    path.write_text(yaml.safe_dump(document), "utf-8")
    return path


def first_sync(config: Path, contacts: int, hubspot: str) -> dict[str, str]:
    """Seed, provision and sync once; returns HubSpot contact id -> Salesforce Lead id."""
    limits = {"burst": 1_000_000, "search_per_second": 10_000}
    requests.post(f"{hubspot}/__emulator__/limits", json=limits, timeout=30).raise_for_status()
    seed = {"contacts": contacts, "companies": 5, "deals": 0, "seed": 7, "journeys": False}
    requests.post(f"{hubspot}/__emulator__/seed", json=seed, timeout=600).raise_for_status()
    settings = Settings.model_validate(yaml.safe_load(config.read_text("utf-8")))
    connectors = build_connectors(settings)
    for connector in connectors.values():
        connector.provision(dry_run=False)
    store = open_store(settings)
    try:
        started = time.monotonic()
        build_sync(settings, store=store, connectors=connectors).run(allow_blast=True)
        log(f"first sync of {contacts} contacts took {time.monotonic() - started:.1f} s")
    finally:
        store.dispose()
    emails = {
        str(r.fields["email"]).lower(): r.id
        for page in connectors["hubspot"].read_all("contacts", ["email"])
        for r in page.records
        if r.fields.get("email")
    }
    leads = {
        emails[str(r.fields["Email"]).lower()]: r.id
        for page in connectors["salesforce"].read_all("Lead", ["Email"])
        for r in page.records
        if str(r.fields.get("Email") or "").lower() in emails
    }
    for connector in connectors.values():
        connector.close()
    return leads


class ChaosMonkey(threading.Thread):
    """Kills the serve process group at given shares of batches sent, then restarts it."""

    def __init__(self, serve: ServeGroup, sender: HubSpotLikeSender, probe: StoreProbe) -> None:
        super().__init__(name="chaos", daemon=True)
        self.serve, self.sender, self.probe = serve, sender, probe
        self.at: list[float] = []
        self.kills: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.started = time.monotonic()

    def run(self) -> None:
        try:
            for share in self.at:
                self._wait_for(share)
                self._kill_when_busy(share)
        except BaseException as exc:  # noqa: BLE001  (reported by the main thread)
            self.error = exc

    def _wait_for(self, share: float) -> None:
        stats = self.sender.stats
        while stats.batches == 0 or stats.batches_started < share * stats.batches:
            time.sleep(0.02)

    def _kill_when_busy(self, share: float) -> None:
        """Kill with requests in flight, preferably while a write is being sent to Salesforce."""
        deadline, fallback = time.monotonic() + 3, time.monotonic() + 8
        while time.monotonic() < fallback:
            if self.sender.stats.in_flight > 0:
                if self.probe.outbox().get("sending"):
                    break
                if time.monotonic() > deadline and self.probe.busy():
                    break
            time.sleep(0.005)
        in_flight = self.sender.stats.in_flight
        self.serve.kill()
        moment = round(time.monotonic() - self.started, 1)
        inbox, outbox = self.probe.inbox(), self.probe.outbox()
        left = {
            "inbox_processing": inbox.get("processing", 0),
            "outbox_sending": outbox.get("sending", 0),
        }
        log(
            f"SIGKILL at {share:.0%} of batches (t={moment} s, "
            f"{in_flight} requests in flight, left {left})"
        )
        restart = time.monotonic()
        self.serve.start()
        self.kills.append(
            {
                "at_share": share,
                "t_seconds": moment,
                "requests_in_flight": in_flight,
                **left,
                "restart_seconds": round(time.monotonic() - restart, 1),
            }
        )


def measure(
    config: Path, salesforce: str, events: list[ChangeEvent], leads: dict[str, str]
) -> dict[str, int]:
    """Count events whose phone is on the Lead now, and writes applied twice with one push key.

    Every event sets a phone no other event sets, so a Lead write with the same record and the
    same field values logged twice is one write applied twice.
    """
    settings = Settings.model_validate(yaml.safe_load(config.read_text("utf-8")))
    connector = build_connectors(settings)["salesforce"]
    phones = {
        r.id: str(r.fields.get("Phone") or "")
        for page in connector.read_all("Lead", ["Phone"])
        for r in page.records
    }
    connector.close()
    processed = sum(1 for e in events if phones.get(leads.get(e.contact_id, "")) == e.phone)
    entries = requests.get(
        f"{salesforce}/__emulator__/write-log", params={"object": "Lead"}, timeout=300
    ).json()["entries"]
    same_write = Counter(
        (e["id"], json.dumps(e["fields"], sort_keys=True, default=str))
        for e in entries
        if e["by"] == "api"
    )
    duplicated = sum(n - 1 for n in same_write.values() if n > 1)
    return {"processed": processed, "duplicated": duplicated}


def run(events_wanted: int, kill_count: int, workdir: Path) -> dict[str, Any]:
    hs_port, sf_port, serve_port = free_port(), free_port(), free_port()
    hubspot_url, salesforce_url = f"http://127.0.0.1:{hs_port}", f"http://127.0.0.1:{sf_port}"
    emulators = [
        start_emulator("hubspot", hs_port, workdir, "--token", TOKEN, "--seed", "7"),
        start_emulator("salesforce", sf_port, workdir),
    ]
    serve: ServeGroup | None = None
    try:
        config = write_config(workdir, hubspot_url, salesforce_url, serve_port)
        leads = first_sync(config, events_wanted, hubspot_url)
        contact_ids = sorted(leads, key=int)[:events_wanted]
        events = [
            ChangeEvent(n + 1, contact_id, f"+1 999 {n:07d}")
            for n, contact_id in enumerate(contact_ids)
        ]
        batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
        serve = ServeGroup(config, serve_port, workdir)
        serve.start()
        probe = StoreProbe(workdir / "closedloop.db")
        sender = HubSpotLikeSender(hubspot_url, TOKEN, serve.url, CLIENT_SECRET, PORTAL_ID)
        monkey = ChaosMonkey(serve, sender, probe)
        monkey.at = [0.2, 0.45, 0.7, 0.85, 0.95][:kill_count]
        started = time.monotonic()
        monkey.start()
        log(f"burst: {len(events)} events in {len(batches)} batches, {kill_count} kills planned")
        sender.run(batches, concurrency=6, pace=PACE_SECONDS)
        burst_seconds = time.monotonic() - started
        monkey.join(timeout=120)
        if monkey.error is not None:
            raise monkey.error
        log(f"burst acknowledged in {burst_seconds:.1f} s; draining")
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while not probe.drained():
            if time.monotonic() > deadline:
                log(f"not drained: inbox {probe.inbox()}, outbox {probe.outbox()}")
                break
            time.sleep(1)
        total_seconds = time.monotonic() - started
        log(f"drained after {total_seconds:.1f} s: inbox {probe.inbox()} outbox {probe.outbox()}")
        counts = measure(config, salesforce_url, events, leads)
        stats = sender.stats
        log(f"delivery attempts {stats.attempts}, failures {stats.failures}")
        for kill in monkey.kills:
            log(f"kill: {kill}")
        return {
            "events_sent": stats.events_sent,
            "acknowledged": stats.acknowledged,
            "processed": counts["processed"],
            "lost": stats.events_sent - counts["processed"],
            "duplicated": counts["duplicated"],
            "kills": len(monkey.kills),
            "kill_times_s": [k["t_seconds"] for k in monkey.kills],
            "retried_deliveries": stats.retries,
            "burst_seconds": round(burst_seconds, 1),
            "total_seconds": round(total_seconds, 1),
        }
    finally:
        if serve is not None:
            serve.stop()
        for process in emulators:
            stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=3, choices=range(1, 6))
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory")
    args = parser.parse_args()
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = run(args.events, args.kills, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="closedloop-chaos-") as workdir:
            result = run(args.events, args.kills, Path(workdir))
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    sys.exit(1 if result["lost"] or result["duplicated"] else 0)


if __name__ == "__main__":
    main()
