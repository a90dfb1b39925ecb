"""Emulator throughput: how many requests per second the emulators answer on one core.

Later benchmarks (connectors, sync, webhooks, the demo) run against the in-repo HubSpot and
Salesforce emulators; this benchmark shows how much headroom those emulators have, so a later
figure can be read as closedloop's cost and not the emulator's.

Set-up, for each server measured:

* the server runs in its own process (``closedloop emulate hubspot|salesforce --port P``, or a
  bare Flask app for the baseline) pinned to core 0 with ``os.sched_setaffinity``;
* this process is the load generator, pinned to the remaining cores, with ``--clients``
  threads; each thread owns its own ``requests.Session`` (raw HTTP: the emulator's ceiling)
  or its own official client (``hubspot-api-client`` / ``simple-salesforce``: the realistic
  cost of one call, client included);
* before every measurement the emulator is reset, its rate limits are raised so no 429/403
  interferes, and it is seeded through ``/__emulator__/seed``;
* each measurement warms up for one second, then counts completed calls in one-second
  slices for ``--seconds`` and reports the median slice (robust to a burst of unrelated work
  on a shared machine). It also samples the CPU time of the server process, of this process
  and of the whole machine, so the table says whether the server core was saturated (the
  figure is the server's ceiling), whether the load generator was the limit, and how much
  CPU went elsewhere (kernel networking, other programs).

The emulators' WSGI server (werkzeug) answers every request with ``Connection: close``, so
the keep-alive sessions reconnect for every call; that cost is part of every figure,
baseline included.

The baseline is a minimal Flask app on the same WSGI server (``closedloop.emulators.server``)
answering a fixed small JSON body: the floor cost of the HTTP stack. Each emulator figure is
also given as a cost relative to it.

Usage::

    python bench/emulators.py [--json] [--seconds N] [--clients N]

``--json`` prints exactly one JSON object on one line on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
)
from rich.console import Console
from rich.table import Table
from simple_salesforce import Salesforce
from urllib3.util.retry import Retry

from closedloop.connectors.salesforce.transport import SalesforceHTTP

SERVER_CORE = 0
WARMUP_SECONDS = 1.0
DEFAULT_CLIENTS = 8
SLICE_SECONDS = 1.0  # rates are the median of slices this long
STARTUP_TIMEOUT_SECONDS = 30.0
BUSY_MACHINE = 0.5  # cores' worth of CPU used elsewhere that makes a figure suspect
HUBSPOT_TOKEN = "emulator-token"  # the `closedloop emulate hubspot` default
SALESFORCE_CLIENT = ("emulator-client-id", "emulator-client-secret")  # its defaults too
SALESFORCE_INSTANCE = "https://bench.my.salesforce.com"  # rerouted to the emulator
SALESFORCE_API = "/services/data/v59.0"

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

SALESFORCE_SEED = {"leads": 2000, "seed": 1}
SALESFORCE_LIMITS = {"daily_api_requests": 100_000_000, "used": 0}
SALESFORCE_BATCH = 200
SALESFORCE_QUERY_ROWS = 2000
SALESFORCE_QUERY = (
    "SELECT Id, FirstName, LastName, Email, Company, LeadSource, Status, SystemModstamp "
    "FROM Lead WHERE SystemModstamp >= 2000-01-01T00:00:00Z "
    f"ORDER BY SystemModstamp, Id LIMIT {SALESFORCE_QUERY_ROWS}"
)

# A call made by one load-generator thread; it raises when the answer is not a success.
Call = Callable[[], None]
# Builds the call of one thread (its index in 0..clients-1), with its own session or client.
CallFactory = Callable[[int], Call]


class BenchError(RuntimeError):
    """The benchmark cannot produce a trustworthy figure (a server or an answer is wrong)."""


def progress(message: str) -> None:
    """Write one progress line on stderr (stdout is reserved for the results)."""
    print(message, file=sys.stderr, flush=True)


def expect(response: requests.Response, status: int = 200) -> None:
    """Raise :class:`BenchError` unless ``response`` has the expected status."""
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {response.url}: {response.status_code} "
            f"{response.text[:300]}"
        )


def loopback_session(headers: dict[str, str] | None = None) -> requests.Session:
    """A session for loopback calls that skips proxy and CA look-ups.

    It would keep connections alive, but the werkzeug server closes each one after answering.
    """
    session = requests.Session()
    session.trust_env = False
    session.headers.update(headers or {})
    return session


# --------------------------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pin_to_server_core() -> None:
    """Run in the child between fork and exec: keep the server (and its threads) on one core."""
    os.sched_setaffinity(0, {SERVER_CORE})


def client_cores() -> set[int]:
    """The cores the load generator may use: every allowed core but the server's, if any."""
    allowed = os.sched_getaffinity(0)
    return (allowed - {SERVER_CORE}) or allowed


@dataclass
class ServerProcess:
    """A server running in a child process pinned to :data:`SERVER_CORE`."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process (all its threads) has used so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Block until ``port`` accepts connections; raise if the process dies or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"server did not listen on port {port} within {STARTUP_TIMEOUT_SECONDS}s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process, killing it if it does not stop within five seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def server_process(argv: list[str], port: int) -> Iterator[ServerProcess]:
    """Start ``argv`` pinned to the server core, wait for ``port``, and always stop it."""
    with tempfile.TemporaryDirectory(prefix="closedloop-bench-") as scratch:
        log = Path(scratch) / "server.log"
        with log.open("wb") as log_file:
            # No load-generator thread runs while a server starts, so preexec_fn is safe.
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=pin_to_server_core,  # noqa: PLW1509
            )
        try:
            wait_for_port(process, port, log)
            yield ServerProcess(process, port)
        finally:
            stop_process(process)


def closedloop_executable() -> Path:
    """The venv's ``closedloop`` console script, next to the running interpreter."""
    script = Path(sys.executable).with_name("closedloop")
    if not script.exists():
        raise BenchError(f"{script} not found: install closedloop in this venv (make install)")
    return script


def emulator_argv(vendor: str, port: int) -> list[str]:
    """The command line that starts one vendor's emulator on ``port``."""
    return [str(closedloop_executable()), "emulate", vendor, "--port", str(port)]


def baseline_argv(port: int) -> list[str]:
    """The command line that starts the bare Flask baseline (this file, ``--serve-baseline``)."""
    return [sys.executable, str(Path(__file__).resolve()), "--serve-baseline", "--port", str(port)]


def serve_baseline(port: int) -> None:
    """Serve a minimal Flask app on the emulators' WSGI server until terminated."""
    from flask import Flask, Response, jsonify  # noqa: PLC0415  (only the child needs it)

    from closedloop.emulators.server import serve_forever  # noqa: PLC0415

    app = Flask("bench-baseline")
    body = {"id": "1000001", "status": "ok"}

    @app.get("/ping")
    def ping() -> Response:
        return jsonify(body)

    serve_forever(app, "127.0.0.1", port)


# --------------------------------------------------------------------------------------------
# Load generation
# --------------------------------------------------------------------------------------------


def machine_cpu_seconds() -> float:
    """Busy CPU time of every core since boot (from /proc/stat), kernel work included."""
    with Path("/proc/stat").open() as stat:
        jiffies = [int(value) for value in stat.readline().split()[1:]]
    idle = jiffies[3] + jiffies[4]  # idle, iowait
    busy = sum(jiffies[:8]) - idle  # user … steal; guest time is already inside user
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measurement:
    """The outcome of driving one operation for a fixed time."""

    calls: int
    errors: int
    seconds: float
    records_per_call: int
    server_cpu_seconds: float
    client_cpu_seconds: float
    machine_cpu_seconds: float
    slice_rps: tuple[float, ...]
    first_error: str | None = None

    @property
    def rps(self) -> float:
        """Successful calls per second: the median of the one-second slices.

        The median shrugs off a slice slowed by another program on a shared machine.
        """
        return statistics.median(self.slice_rps)

    @property
    def mean_rps(self) -> float:
        """Successful calls per second over the whole window."""
        return self.calls / self.seconds

    @property
    def records_per_s(self) -> float:
        """Records moved per second (calls times records per call)."""
        return self.rps * self.records_per_call

    @property
    def server_busy(self) -> float:
        """Share of its one core the server used; near 1.0 means the server was the limit."""
        return self.server_cpu_seconds / self.seconds

    @property
    def client_busy(self) -> float:
        """Cores' worth of CPU the load generator used (all threads)."""
        return self.client_cpu_seconds / self.seconds

    @property
    def other_busy(self) -> float:
        """Cores' worth of CPU used by neither process: kernel networking and other programs."""
        spent = self.machine_cpu_seconds - self.server_cpu_seconds - self.client_cpu_seconds
        return max(0.0, spent / self.seconds)


class Worker(threading.Thread):
    """One load-generator thread: makes calls back to back until told to stop."""

    def __init__(self, call: Call, stop: threading.Event, index: int) -> None:
        super().__init__(name=f"bench-client-{index}", daemon=True)
        self._call = call
        self._halt = stop
        self.calls = 0
        self.errors = 0
        self.first_error: str | None = None

    def run(self) -> None:
        """Call until stopped, counting successes and failures."""
        while not self._halt.is_set():
            try:
                self._call()
            except Exception as error:  # noqa: BLE001  (every failure is counted and reported)
                self.errors += 1
                self.first_error = self.first_error or f"{type(error).__name__}: {error}"[:500]
            else:
                self.calls += 1


@dataclass(frozen=True)
class Snapshot:
    """Counters at one instant of a measurement."""

    at: float
    calls: int
    errors: int
    server_cpu: float
    client_cpu: float
    machine_cpu: float

    @classmethod
    def take(cls, server: ServerProcess, workers: list[Worker]) -> Snapshot:
        """Read the call counters and the CPU clocks now."""
        return cls(
            at=time.perf_counter(),
            calls=sum(w.calls for w in workers),
            errors=sum(w.errors for w in workers),
            server_cpu=server.cpu_seconds(),
            client_cpu=time.process_time(),
            machine_cpu=machine_cpu_seconds(),
        )


def measure(
    server: ServerProcess, factory: CallFactory, *, clients: int, seconds: float, records: int
) -> Measurement:
    """Drive ``clients`` threads for a warm-up and ``seconds``; count what completed in between."""
    calls = [factory(index) for index in range(clients)]
    stop = threading.Event()
    workers = [Worker(call, stop, index) for index, call in enumerate(calls)]
    for worker in workers:
        worker.start()
    slices = max(1, round(seconds / SLICE_SECONDS))
    try:
        time.sleep(WARMUP_SECONDS)
        marks = [Snapshot.take(server, workers)]
        for _ in range(slices):
            time.sleep(seconds / slices)
            marks.append(Snapshot.take(server, workers))
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    start, end = marks[0], marks[-1]
    return Measurement(
        calls=end.calls - start.calls,
        errors=end.errors - start.errors,
        seconds=end.at - start.at,
        records_per_call=records,
        server_cpu_seconds=end.server_cpu - start.server_cpu,
        client_cpu_seconds=end.client_cpu - start.client_cpu,
        machine_cpu_seconds=end.machine_cpu - start.machine_cpu,
        slice_rps=tuple(
            (later.calls - earlier.calls) / (later.at - earlier.at)
            for earlier, later in itertools.pairwise(marks)
        ),
        first_error=next((w.first_error for w in workers if w.first_error), None),
    )


# --------------------------------------------------------------------------------------------
# What is measured
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One representative vendor call, made raw and through the official client."""

    key: str
    label: str
    records: int
    raw: CallFactory
    client: CallFactory
    check: Callable[[], None]


class Target:
    """A server under test: how to prepare it and which operations to drive."""

    name = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = loopback_session()

    def admin_post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to an ``/__emulator__/`` admin route and return its JSON answer."""
        response = self.admin.post(f"{self.url}/__emulator__/{path}", json=body, timeout=60)
        expect(response)
        return response.json()

    def prepare(self) -> None:
        """Bring the server to a known state before a measurement."""

    def operations(self) -> list[Operation]:
        """The operations to measure, in order."""
        raise NotImplementedError


class BaselineTarget(Target):
    """The bare Flask app: one GET answering a fixed small JSON body."""

    name = "baseline"

    def operations(self) -> list[Operation]:
        """A single GET /ping, raw only."""

        def raw(index: int) -> Call:
            del index
            session = loopback_session()
            url = f"{self.url}/ping"

            def call() -> None:
                expect(session.get(url, timeout=30))

            return call

        def check() -> None:
            expect(self.admin.get(f"{self.url}/ping", timeout=30))

        return [Operation("get", "GET /ping, fixed JSON (bare Flask)", 1, raw, raw, check)]


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


# --------------------------------------------------------------------------------------------
# Running and reporting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """The raw and official-client measurements of one operation."""

    target: str
    operation: Operation
    raw: Measurement
    client: Measurement | None


def describe(measurement: Measurement) -> str:
    """One progress-line summary of a measurement."""
    text = (
        f"{measurement.rps:,.0f} req/s, server CPU {measurement.server_busy:.0%}, "
        f"load generator CPU {measurement.client_busy:.0%}, "
        f"other CPU {measurement.other_busy:.0%}"
    )
    if measurement.errors:
        text += f", {measurement.errors} errors (first: {measurement.first_error})"
    return text


def run_target(
    target_type: type[Target], argv: Callable[[int], list[str]], *, clients: int, seconds: float
) -> list[Result]:
    """Start one server, then measure each of its operations raw and through the client."""
    port = free_port()
    progress(f"[{target_type.name}] starting server on port {port} (core {SERVER_CORE})")
    results = []
    with server_process(argv(port), port) as server:
        target = target_type(server.url)
        for operation in target.operations():
            modes: list[tuple[str, CallFactory]] = [("raw", operation.raw)]
            if target_type is not BaselineTarget:
                modes.append(("client", operation.client))
            measured: dict[str, Measurement] = {}
            for mode, factory in modes:
                target.prepare()
                operation.check()
                measured[mode] = measure(
                    server, factory, clients=clients, seconds=seconds, records=operation.records
                )
                progress(f"[{target.name}] {operation.key} ({mode}): {describe(measured[mode])}")
                if measured[mode].other_busy > BUSY_MACHINE:
                    progress("  warning: other work shared the machine; this figure may be low")
            results.append(Result(target.name, operation, measured["raw"], measured.get("client")))
    return results


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown"


def op_figures(measurement: Measurement, key: str, records: int) -> dict[str, float]:
    """``<key>_rps`` and, for multi-record calls, ``<key>_records_per_s``."""
    figures = {f"{key}_rps": round(measurement.rps, 1)}
    if records > 1:
        figures[f"{key}_records_per_s"] = round(measurement.records_per_s)
    return figures


def summary(results: list[Result], *, clients: int, seconds: float) -> dict[str, Any]:
    """The JSON document: figures per vendor, the baseline, ratios and the machine."""
    baseline = next(r for r in results if r.target == "baseline").raw
    document: dict[str, Any] = {
        "baseline": {
            "rps": round(baseline.rps, 1),
            "server_cpu": round(baseline.server_busy, 2),
            "other_cpu": round(baseline.other_busy, 2),
        }
    }
    vendors: dict[str, dict[str, Any]] = {}
    for result in results:
        if result.target == "baseline" or result.client is None:
            continue
        key, records = result.operation.key, result.operation.records
        vendor = vendors.setdefault(
            result.target,
            {"raw": {}, "client": {}, "cost_vs_baseline": {}, "server_cpu": {}, "other_cpu": {}},
        )
        vendor["raw"].update(op_figures(result.raw, key, records))
        vendor["client"].update(op_figures(result.client, key, records))
        vendor["cost_vs_baseline"][key] = round(baseline.rps / result.raw.rps, 2)
        vendor["server_cpu"][key] = round(result.raw.server_busy, 2)
        vendor["other_cpu"][key] = round(result.raw.other_busy, 2)
    for name, vendor in vendors.items():
        # Raw figures at the top level of each vendor, the rest nested after them.
        document[name] = {**vendor.pop("raw"), **vendor}
    document.update(
        {
            "cores": 1,
            "seconds_per_op": seconds,
            "clients": clients,
            "errors": sum(r.raw.errors + (r.client.errors if r.client else 0) for r in results),
            "machine": {"nproc": os.cpu_count(), "cpu_model": cpu_model()},
        }
    )
    return document


def print_table(results: list[Result], *, clients: int, seconds: float) -> None:
    """A readable table of every measurement on stdout."""
    baseline = next(r for r in results if r.target == "baseline").raw
    table = Table(
        title=(
            f"Emulator throughput: server pinned to 1 core, {clients} client threads, "
            f"{seconds:g} s per measurement"
        ),
        caption=(
            "req/s: median of 1 s slices. cost: bare-Flask req/s / raw req/s. "
            "server CPU near 100 % means the server core was the limit."
        ),
    )
    table.add_column("server")
    table.add_column("operation")
    for column in (
        "raw req/s",
        "raw records/s",
        "cost vs bare",
        "server CPU",
        "client req/s",
        "client records/s",
        "other CPU",
    ):
        table.add_column(column, justify="right")
    for result in results:
        raw, client, records = result.raw, result.client, result.operation.records
        table.add_row(
            result.target,
            result.operation.label,
            f"{raw.rps:,.0f}",
            f"{raw.records_per_s:,.0f}" if records > 1 else "",
            f"{baseline.rps / raw.rps:.1f}x",
            f"{raw.server_busy:.0%}",
            f"{client.rps:,.0f}" if client else "",
            f"{client.records_per_s:,.0f}" if client and records > 1 else "",
            f"{raw.other_busy:.0%}",
        )
    # Wide enough for every column when stdout is a file or a pipe.
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    errors = sum(r.raw.errors + (r.client.errors if r.client else 0) for r in results)
    if errors:
        console.print(f"[red]{errors} calls failed; the figures above are not trustworthy[/red]")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="measured seconds per operation (default 5)"
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=DEFAULT_CLIENTS,
        help=f"load-generator threads (default {DEFAULT_CLIENTS})",
    )
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.clients < 1:
        parser.error("--seconds must be positive and --clients at least 1")
    return args


def run_all(*, clients: int, seconds: float) -> list[Result]:
    """Pin this process to the load-generator cores, then measure the baseline and both vendors."""
    cores = client_cores()
    os.sched_setaffinity(0, cores)  # before any thread exists, so every thread inherits it
    if SERVER_CORE in cores:
        progress("warning: one core only; server and load generator share it")
    progress(f"server core {SERVER_CORE}, load generator cores {sorted(cores)}")
    options = {"clients": clients, "seconds": seconds}
    results = run_target(BaselineTarget, baseline_argv, **options)
    results += run_target(HubSpotTarget, lambda port: emulator_argv("hubspot", port), **options)
    results += run_target(
        SalesforceTarget, lambda port: emulator_argv("salesforce", port), **options
    )
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 if every call succeeded, 1 if some failed, 2 if it could not run."""
    args = parse_args(argv)
    if args.serve_baseline:
        serve_baseline(args.port)
        return 0
    options = {"clients": args.clients, "seconds": args.seconds}
    try:
        results = run_all(**options)
    except BenchError as error:
        progress(f"error: {error}")
        return 2
    except KeyboardInterrupt:
        progress("interrupted; servers stopped")
        return 130
    if args.json:
        print(json.dumps(summary(results, **options), separators=(",", ":")))
    else:
        print_table(results, **options)
    failed = any(r.raw.errors or (r.client and r.client.errors) for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
