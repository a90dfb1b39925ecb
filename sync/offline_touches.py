"""Offline touches (calls, events, trade shows) from a CSV file: validated row by row.

The file is UTF-8 (a BOM is fine), comma-separated, with a header row. Columns:

==============  ==========================================================================
email           the person's email (this or ``record_ref`` is required on every row)
record_ref      a CRM/marketing record, ``system:object:id`` or ``system:id``
                (``salesforce:Lead:00Q...``, ``hubspot:123``)
occurred_at     required: ISO-8601 with an offset (``2026-03-01T09:30:00+01:00``), or a
                date (``2026-03-01``, read as midnight UTC)
touch_type      what happened: ``call``, ``event``, ``meeting``... (letters, digits, ``_-``)
utm_source ...  ``utm_source``, ``utm_medium``, ``utm_campaign``, ``utm_term``, ``utm_content``
channel         the channel; else grouped by the channel rules (``Offline`` when none match)
landing_page    an http(s) URL the touch relates to (personal data is stripped)
external_id     your id of the touch; a row whose id is already in the ledger is skipped
==============  ==========================================================================

Without ``utm_source`` and ``utm_medium`` the touch gets source ``offline`` and the touch type
(or ``offline``) as medium. Row numbers count the header as row 1, as spreadsheets do.
A missing ``occurred_at`` column, a missing person column or an unreadable file raise
:class:`TouchFileError`; everything else is a :class:`RowProblem` of its row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

from closedloop.mappings.channels import ChannelRules
from closedloop.runtime.errors import ClosedLoopError
from closedloop.sync.identity import normalise_email, parse_ref
from closedloop.sync.model import RecordRef
from closedloop.sync.touchpoints import UTM_PARAMS, Touchpoint, TouchpointError, make_touchpoint

__all__ = [
    "COLUMNS",
    "OFFLINE_CHANNEL",
    "OFFLINE_ORIGIN",
    "OfflineFile",
    "OfflineRow",
    "RowProblem",
    "TouchFileError",
    "read_offline_touches",
]

OFFLINE_ORIGIN = "offline"
OFFLINE_CHANNEL = "Offline"
PERSON_COLUMNS = ("email", "record_ref")
COLUMNS = (
    *PERSON_COLUMNS,
    "occurred_at",
    "touch_type",
    *UTM_PARAMS,
    "channel",
    "landing_page",
    "external_id",
)
_TOUCH_TYPE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[\w.-]{1,252}\.[\w-]{2,63}")


class TouchFileError(ClosedLoopError):
    """The file cannot be imported at all (unreadable, or a required column is missing)."""

    exit_code = 2


@dataclass(frozen=True)
class RowProblem:
    """Why one row was rejected: its row number (header = 1), the column and the reason."""

    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class OfflineRow:
    """A valid row: who (email and/or record ref) and the touch."""

    row: int
    email: str | None
    record: RecordRef | None
    touch: Touchpoint


@dataclass(frozen=True)
class OfflineFile:
    """What :func:`read_offline_touches` found: good rows, problems and ignored columns."""

    rows: list[OfflineRow]
    problems: list[RowProblem]
    unknown_columns: list[str]
    total_rows: int


def read_offline_touches(path: Path, rules: ChannelRules) -> OfflineFile:
    """Read and validate every row of ``path``.

    Raises:
        TouchFileError: the file cannot be read or decoded, is empty, or lacks ``occurred_at``
            or both person columns.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            reader.fieldnames = header
            _check_header(path, header)
            raw_rows = [(index, row) for index, row in enumerate(reader, start=2)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TouchFileError(
            f"cannot read {path}: {exc}", hint="save the file as UTF-8 CSV with a header row"
        ) from None
    good: list[OfflineRow] = []
    problems: list[RowProblem] = []
    seen_ids: dict[str, int] = {}
    for number, row in raw_rows:
        found = _row(number, row, rules, seen_ids)
        if isinstance(found, OfflineRow):
            good.append(found)
        else:
            problems.extend(found)
    unknown = [name for name in header if name and name not in COLUMNS]
    return OfflineFile(good, problems, unknown, len(raw_rows))


Row = dict[str | None, str | list[str] | None]
Report = Callable[[str, str], None]


def _check_header(path: Path, header: list[str]) -> None:
    if not header:
        raise TouchFileError(f"{path} is empty", hint="the first row must name the columns")
    missing = [] if "occurred_at" in header else ["occurred_at"]
    if not any(name in header for name in PERSON_COLUMNS):
        missing.append("email (or record_ref)")
    if missing:
        raise TouchFileError(
            f"{path}: missing required column(s): {', '.join(missing)}",
            hint=f"known columns: {', '.join(COLUMNS)}",
        )


def _value(row: Row, column: str) -> str | None:
    value = row.get(column)
    text = value.strip() if isinstance(value, str) else ""
    return text or None


def _row(
    number: int, row: Row, rules: ChannelRules, seen_ids: dict[str, int]
) -> OfflineRow | list[RowProblem]:
    problems: list[RowProblem] = []

    def problem(column: str, reason: str) -> None:
        problems.append(RowProblem(number, column, reason))

    if row.get(None):
        problem("(row)", "more values than columns in the header")
    email, record = _person(row, problem)
    occurred_at = _occurred_at(_value(row, "occurred_at"), problem)
    touch_type, channel, external_id = _details(number, row, problem, seen_ids)
    if problems or occurred_at is None:
        return problems
    utm = {name: _value(row, name) for name in UTM_PARAMS}
    if not (utm["utm_source"] or utm["utm_medium"]):
        utm["utm_source"], utm["utm_medium"] = OFFLINE_ORIGIN, touch_type or OFFLINE_ORIGIN
    elif not utm["utm_medium"]:
        utm["utm_medium"] = touch_type
    try:
        touch = make_touchpoint(
            occurred_at=occurred_at,
            origin=OFFLINE_ORIGIN,
            landing_page=_value(row, "landing_page"),
            external_id=external_id,
            rules=rules,
            utm_source=utm["utm_source"],
            utm_medium=utm["utm_medium"],
            utm_campaign=utm["utm_campaign"],
            utm_term=utm["utm_term"],
            utm_content=utm["utm_content"],
        )
    except TouchpointError as exc:
        column = "landing_page" if _value(row, "landing_page") else "utm_source"
        return [RowProblem(number, column, str(exc)[:200])]
    if channel is None and touch.channel == rules.unassigned:
        channel = OFFLINE_CHANNEL
    if channel is not None:
        touch = replace(touch, channel=channel)
    return OfflineRow(number, email, record, touch)


def _person(row: Row, problem: Report) -> tuple[str | None, RecordRef | None]:
    email = normalise_email(_value(row, "email"))
    if email is not None and (len(email) > 320 or not _EMAIL.fullmatch(email)):
        problem("email", "not an email address")
    record: RecordRef | None = None
    ref_text = _value(row, "record_ref")
    if ref_text is not None:
        try:
            record = parse_ref(ref_text)
        except ValueError:
            problem("record_ref", "not a record reference (use system:object:id)")
    if email is None and ref_text is None:
        problem("email", "required: an email or a record_ref")
    return email, record


def _details(
    number: int, row: Row, problem: Report, seen_ids: dict[str, int]
) -> tuple[str | None, str | None, str | None]:
    """Touch type, channel and external id (a repeated external id is a problem)."""
    touch_type = (_value(row, "touch_type") or "").lower() or None
    if touch_type is not None and not _TOUCH_TYPE.fullmatch(touch_type):
        problem("touch_type", "use letters, digits, '_' or '-' (e.g. call, event, meeting)")
    channel = _value(row, "channel")
    if channel is not None and len(channel) > 100:
        problem("channel", "longer than 100 characters")
    external_id = _value(row, "external_id")
    if external_id is not None:
        if len(external_id) > 500:
            problem("external_id", "longer than 500 characters")
        elif external_id in seen_ids:
            problem("external_id", f"duplicate of row {seen_ids[external_id]}")
        else:
            seen_ids[external_id] = number
    return touch_type, channel, external_id


def _occurred_at(text: str | None, problem: Callable[[str, str], None]) -> datetime | None:
    if text is None:
        problem("occurred_at", "required: an ISO-8601 timestamp")
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        problem("occurred_at", "not an ISO-8601 timestamp (e.g. 2026-03-01T09:30:00Z)")
        return None
    if stamp.utcoffset() is None:
        problem("occurred_at", "needs a time zone offset (e.g. Z or +01:00)")
        return None
    return stamp
