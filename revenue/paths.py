"""Attribution over exported journeys in the common path format.

The format (used by ChannelAttribution and DP6's ``mam``) is a CSV file with one row per
distinct path and the columns:

* ``path``: channels separated by ``" > "``, e.g. ``Paid Search > Email > Direct``;
* ``total_conversions`` and ``total_conversion_value``: what that path produced;
* ``total_null``: how often it ended without a conversion (needed by ``markov`` only).

Channel names are taken verbatim (only the blanks around each name are trimmed); nothing is
grouped. Heuristic models give each path's conversions and value to its positions by the
model weights (position-based 40/20/40 is ½/½ on two touches and 1 on one), summed per
channel in exact rational arithmetic and rounded to float once at the end. ``markov`` shares
the totals by normalised removal effect (:mod:`closedloop.revenue.markov`). Either way the
credits add up to the file's totals.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path

from closedloop.revenue import positions
from closedloop.revenue.markov import removal_effects
from closedloop.revenue.positions import PositionWeights
from closedloop.runtime.errors import ClosedLoopError

__all__ = [
    "PATH_MODELS",
    "SEPARATOR",
    "ChannelCredit",
    "PathCredits",
    "PathFileError",
    "PathRecord",
    "attribute_paths",
    "read_path_file",
]

SEPARATOR = " > "
_HEURISTICS: Mapping[str, PositionWeights | None] = {
    "first_touch": positions.FIRST_TOUCH_ONLY,
    "last_touch": positions.LAST_TOUCH_ONLY,
    "linear": None,
    "u_shaped": positions.U_SHAPED,
}
PATH_MODELS = (*_HEURISTICS, "markov")
"""The models :func:`attribute_paths` supports."""

_REQUIRED = ("path", "total_conversions", "total_conversion_value")
_NULLS = "total_null"


class PathFileError(ClosedLoopError):
    """A path file cannot be read; the message names the file and the row."""

    exit_code = 2


@dataclass(frozen=True)
class PathRecord:
    """One row of a path file.

    Attributes:
        channels: the touches, oldest first.
        conversions: total conversions of the path.
        value: total conversion value of the path.
        nulls: how often the path ended without converting (0 when the column is absent).
    """

    channels: tuple[str, ...]
    conversions: Fraction
    value: Fraction
    nulls: Fraction = Fraction(0)


@dataclass(frozen=True)
class ChannelCredit:
    """The conversions and value credited to one channel."""

    conversions: float
    value: float


@dataclass(frozen=True)
class PathCredits:
    """The result of one model over a path file, with the totals it must add up to."""

    model: str
    channels: dict[str, ChannelCredit]
    total_conversions: float
    total_value: float


def _number(raw: str | None, column: str, where: str) -> Fraction:
    """Parse a non-negative finite decimal cell exactly."""
    text = (raw or "").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise PathFileError(f"{where}: {column} {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise PathFileError(f"{where}: {column} must be a finite number >= 0, got {text!r}")
    return Fraction(value)


def _channels(raw: str | None, where: str) -> tuple[str, ...]:
    text = (raw or "").strip()
    if not text:
        raise PathFileError(f"{where}: the path is empty")
    channels = tuple(name.strip() for name in text.split(SEPARATOR))
    if not all(channels):
        raise PathFileError(f"{where}: the path {text!r} has an empty touch")
    return channels


def read_path_file(file: Path, *, require_nulls: bool = False) -> list[PathRecord]:
    """Read and validate a path file.

    Args:
        file: the CSV file (UTF-8, an optional byte-order mark is ignored).
        require_nulls: fail when the ``total_null`` column is missing (Markov needs it).

    Returns:
        One record per data row.

    Raises:
        PathFileError: naming the file and row, for a missing column, an empty path or a cell
            that is not a non-negative number.
    """
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            needed = (*_REQUIRED, _NULLS) if require_nulls else _REQUIRED
            missing = [column for column in needed if column not in header]
            if missing:
                found = ", ".join(header) or "no header"
                raise PathFileError(
                    f"{file}: missing column {', '.join(missing)} (found: {found})",
                    hint=f"a path file needs the columns {', '.join((*_REQUIRED, _NULLS))}",
                )
            records = []
            for row_number, row in enumerate(reader, start=1):
                where = f"{file}, row {row_number} (line {reader.line_num})"
                has_nulls = _NULLS in header
                records.append(
                    PathRecord(
                        channels=_channels(row.get("path"), where),
                        conversions=_number(
                            row.get("total_conversions"), "total_conversions", where
                        ),
                        value=_number(
                            row.get("total_conversion_value"), "total_conversion_value", where
                        ),
                        nulls=_number(row.get(_NULLS), _NULLS, where) if has_nulls else Fraction(0),
                    )
                )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PathFileError(f"{file}: cannot read it as a CSV file ({exc})") from None
    return records


def _heuristic_weights(table: PositionWeights | None, length: int) -> list[Fraction]:
    if table is None:
        return [Fraction(1, length)] * length
    holders = {positions.FIRST_TOUCH: 0, positions.LAST_TOUCH: length - 1}
    return table.spread(length, holders)


def _totals(records: Sequence[PathRecord]) -> tuple[Fraction, Fraction]:
    conversions = sum((record.conversions for record in records), Fraction(0))
    value = sum((record.value for record in records), Fraction(0))
    return conversions, value


def attribute_paths(records: Iterable[PathRecord], model: str) -> PathCredits:
    """Credit every path's conversions and value to channels with one model.

    Args:
        records: the rows of a path file.
        model: one of :data:`PATH_MODELS`.

    Returns:
        Credits for every channel that appears in the file (zero when it earned nothing).

    Raises:
        ValueError: for an unknown model.
    """
    rows = list(records)
    total_conversions, total_value = _totals(rows)
    seen = dict.fromkeys(channel for record in rows for channel in record.channels)
    if model == "markov":
        solved = removal_effects((r.channels, r.conversions, r.nulls) for r in rows)
        shares = solved.shares()
        channels = {
            name: ChannelCredit(float(total_conversions) * share, float(total_value) * share)
            for name, share in shares.items()
        }
    elif model in _HEURISTICS:
        conversions = dict.fromkeys(seen, Fraction(0))
        values = dict.fromkeys(seen, Fraction(0))
        for record in rows:
            weights = _heuristic_weights(_HEURISTICS[model], len(record.channels))
            for channel, weight in zip(record.channels, weights, strict=True):
                conversions[channel] += weight * record.conversions
                values[channel] += weight * record.value
        channels = {
            name: ChannelCredit(float(conversions[name]), float(values[name])) for name in seen
        }
    else:
        raise ValueError(f"unknown path model {model!r}; choose one of {', '.join(PATH_MODELS)}")
    return PathCredits(model, channels, float(total_conversions), float(total_value))
