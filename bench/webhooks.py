"""Webhook acknowledgement: closedloop's listener beside a minimal receiver, SQLite and PostgreSQL.

    python bench/webhooks.py [--seconds 60] [--rate 200] [--json]

For each store (an SQLite file; a fresh PostgreSQL database made from
``CLOSEDLOOP_TEST_DATABASE_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``) it
starts the baseline receiver and then closedloop's listener (``bench/webhook_receivers.py``:
same waitress server, threads and store settings; each on its own fresh database, pinned to
one core) and drives each with the same open-model load (``bench/webhook_load.py``): ``--rate``
signed 50-event HubSpot batches per second for ``--seconds``. It prints, per store,
``events_per_s`` and ``p99_ms`` of closedloop beside the baseline's, then checks the targets
(events_per_s >= 0.8 x baseline, p99 < 100 ms) and exits 1 if either is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from emulator_servers import BenchError, free_port, server_process
from sqlalchemy.engine import make_url
from webhook_load import LoadResult, run_open_model
from webhook_receivers import PATH, SECRET

HERE = Path(__file__).resolve().parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
THREADS = 8


def log(message: str) -> None:
    """Progress on stderr (stdout carries the result)."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A fresh SQLite file, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="closedloop-bench-") as scratch:
        yield f"sqlite:///{Path(scratch) / 'bench.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    admin = make_url(os.environ.get("CLOSEDLOOP_TEST_DATABASE_URL", DEFAULT_PG))
    admin = admin.set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    name = f"closedloop_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(receiver: str, database: str, args: argparse.Namespace, run: str) -> LoadResult:
    """Start ``receiver`` on ``database`` and drive it at the fixed rate."""
    port = free_port()
    argv = [
        sys.executable,
        str(HERE / "webhook_receivers.py"),
        receiver,
        "--database",
        database,
        "--port",
        str(port),
        "--threads",
        str(THREADS),
    ]
    with server_process(argv, port) as server:
        url = server.url + PATH
        run_open_model(url, SECRET, rate=args.rate, seconds=2, run=f"w{run}")  # warm-up
        log(f"  {receiver}: {args.rate:g} batches/s for {args.seconds:g} s")
        result = run_open_model(url, SECRET, rate=args.rate, seconds=args.seconds, run=run)
    if result.errors:
        log(f"  {receiver}: errors {result.errors}")
    return result


def compare(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    """Baseline then closedloop on fresh databases of ``backend``."""
    fresh = sqlite_database if backend == "sqlite" else postgres_database
    log(f"{backend}:")
    with fresh() as database:
        baseline = measure("baseline", database, args, "1")
    with fresh() as database:
        ours = measure("closedloop", database, args, "2")
    return {
        "events_per_s": round(ours.events_per_s, 1),
        "baseline_events_per_s": round(baseline.events_per_s, 1),
        "p99_ms": round(ours.percentile_ms(0.99), 2),
        "baseline_p99_ms": round(baseline.percentile_ms(0.99), 2),
        "p50_ms": round(ours.percentile_ms(0.50), 2),
        "baseline_p50_ms": round(baseline.percentile_ms(0.50), 2),
        "errors": sum(ours.errors.values()),
        "baseline_errors": sum(baseline.errors.values()),
    }


def misses(results: dict[str, dict[str, Any]], rate: float) -> list[str]:
    """Targets missed: throughput under 0.8 x baseline, or p99 of 100 ms or more."""
    found = []
    for backend, row in results.items():
        if row["events_per_s"] < 0.8 * row["baseline_events_per_s"]:
            found.append(f"{backend}: events_per_s under 0.8 x baseline")
        if row["p99_ms"] >= 100:
            found.append(f"{backend}: p99 {row['p99_ms']} ms at {rate:g} requests/s")
        if row["errors"]:
            found.append(f"{backend}: {row['errors']} requests failed")
    return found


def main() -> int:
    """Run both stores and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0, help="batches per second")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--json", action="store_true", help="one JSON line on stdout")
    args = parser.parse_args()
    try:
        results = {b: compare(b, args) for b in args.backend or ["sqlite", "postgresql"]}
    except (BenchError, psycopg.Error) as exc:
        log(f"benchmark failed: {exc}")
        return 2
    if args.json:
        print(json.dumps(results, separators=(",", ":")))
    else:
        for backend, row in results.items():
            print(f"{backend:<11} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    missed = misses(results, args.rate)
    for line in missed:
        log(f"target missed: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
