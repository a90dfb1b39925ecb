"""Load ad costs from a CSV file (``closedloop import-costs``) for CAC and ROI in the report.

The file has a header row with the columns ``date`` (YYYY-MM-DD), ``channel``, ``amount`` and
optionally ``source``, ``campaign`` and ``currency`` (the home currency when absent). Channel
names should match the channel grouping (``Paid Search``, ``Paid Social``...); source and
campaign match ``utm_source`` and ``utm_campaign``. Amounts in another currency are converted
to the home currency with ``revenue.rates`` when imported, and stored converted.

Each good row replaces any earlier cost of the same (date, channel, source, campaign), so
importing a file twice, or a corrected file, never doubles a cost. Bad rows are reported with
their row number, column and reason; the good rows around them are still imported.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, delete, insert

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.runtime.errors import ClosedLoopError
from closedloop.store.schema import ad_costs

REQUIRED = ("date", "channel", "amount")
OPTIONAL = ("source", "campaign", "currency")


class CostFileError(ClosedLoopError):
    """The cost file cannot be read at all (missing, not CSV, required columns absent)."""

    exit_code = 2


@dataclass(frozen=True)
class RowProblem:
    """Why one row of the file was not imported."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass
class CostImport:
    """The outcome of one import."""

    file: str
    imported: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def _parse_row(
    line: int, raw: Mapping[str, str | None], home: str, rates: Mapping[str, float]
) -> dict[str, Any] | RowProblem:
    def text(column: str) -> str:
        return (raw.get(column) or "").strip()

    try:
        day = date.fromisoformat(text("date"))
    except ValueError:
        return RowProblem(line, "date", f"{text('date')!r} is not a YYYY-MM-DD date")
    if not text("channel"):
        return RowProblem(line, "channel", "is empty")
    try:
        amount = Decimal(text("amount"))
    except InvalidOperation:
        return RowProblem(line, "amount", f"{text('amount')!r} is not a number")
    if not amount.is_finite() or amount < 0:
        return RowProblem(line, "amount", "must be a finite amount of zero or more")
    currency = (text("currency") or home).upper()
    if currency != home:
        rate = rates.get(currency)
        if rate is None:
            return RowProblem(
                line, "currency", f"no rate for {currency}: add it under revenue.rates"
            )
        amount *= Decimal(str(rate))
    return {
        "cost_date": day,
        "channel": text("channel")[:100],
        "source": text("source")[:500] or None,
        "campaign": text("campaign")[:500] or None,
        "amount_cents": int((amount * 100).to_integral_value()),
        "currency": home,
    }


def import_costs(
    store: Engine,
    path: Path,
    *,
    home_currency: str,
    rates: Mapping[str, float],
    clock: Clock = SYSTEM_CLOCK,
) -> CostImport:
    """Import the costs in ``path``; bad rows are reported and skipped.

    Raises:
        CostFileError: the file is unreadable or lacks a required column.
    """
    result = CostImport(str(path))
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                raise CostFileError(
                    f"{path}: missing column(s) {', '.join(missing)}",
                    hint="the header needs date, channel and amount "
                    "(and optionally source, campaign, currency)",
                )
            reader.fieldnames = columns
            parsed = [
                _parse_row(line, raw, home_currency, rates)
                for line, raw in enumerate(reader, start=2)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CostFileError(f"{path}: cannot read the file ({exc})") from exc
    good = [p for p in parsed if isinstance(p, dict)]
    result.problems = [p for p in parsed if isinstance(p, RowProblem)]
    now = clock.now()
    with store.begin() as conn:
        for values in good:
            same = and_(
                ad_costs.c.cost_date == values["cost_date"],
                ad_costs.c.channel == values["channel"],
                _equal(ad_costs.c.source, values["source"]),
                _equal(ad_costs.c.campaign, values["campaign"]),
            )
            conn.execute(delete(ad_costs).where(same))
        if good:
            conn.execute(insert(ad_costs), [{**v, "imported_at": now} for v in good])
    result.imported = len(good)
    return result


def _equal(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value
