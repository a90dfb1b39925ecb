"""Reporting: progress summaries, the one-line JSON document and the rich table.

:func:`summary` builds the ``--json`` document (figures per vendor, the baseline, costs relative
to it, the machine); :func:`print_table` prints the same measurements as a table on stdout.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator_load import Measurement
from emulator_targets import Operation
from rich.console import Console
from rich.table import Table


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
