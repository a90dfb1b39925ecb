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

The entry point (this file) parses the options, runs the targets and prints the result; the
helpers are its sibling modules: ``emulator_servers.py`` (server processes),
``emulator_load.py`` (load generation and measurement), ``emulator_targets.py`` (operations,
loopback HTTP, the baseline), ``emulator_hubspot.py`` and ``emulator_salesforce.py`` (the vendor
targets) and ``emulator_report.py`` (JSON and table output).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from emulator_hubspot import HubSpotTarget
from emulator_load import CallFactory, Measurement, measure
from emulator_report import Result, describe, print_table, summary
from emulator_salesforce import SalesforceTarget
from emulator_servers import (
    SERVER_CORE,
    BenchError,
    client_cores,
    emulator_argv,
    free_port,
    server_process,
)
from emulator_targets import BaselineTarget, Target, serve_baseline

DEFAULT_CLIENTS = 8
BUSY_MACHINE = 0.5  # cores' worth of CPU used elsewhere that makes a figure suspect


def progress(message: str) -> None:
    """Write one progress line on stderr (stdout is reserved for the results)."""
    print(message, file=sys.stderr, flush=True)


def baseline_argv(port: int) -> list[str]:
    """The command line that starts the bare Flask baseline (this file, ``--serve-baseline``)."""
    return [sys.executable, str(Path(__file__).resolve()), "--serve-baseline", "--port", str(port)]


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
