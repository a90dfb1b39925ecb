"""Outbox rows a dead process left in ``sending``: verify on recovery, never re-send blindly.

A row is ``sending`` from its claim until the relay settles it. If the process is killed in
between, nobody knows whether the vendor applied the write: the request may never have left,
or the vendor may have applied it and the answer was lost with the process. Sending it again
blindly would apply the write twice. So recovery works in three steps:

1. **Liveness.** A live relay keeps its claims fresh: while a connector call is running, a
   :class:`Heartbeat` thread touches the claimed rows' ``updated_at`` every
   :data:`HEARTBEAT_SECONDS`. A ``sending`` row untouched for :data:`STALE_SENDING` belongs to a
   process that died (or hung).
2. **Reclaim.** :meth:`SendingClaims.reclaim` takes such rows over in one conditional
   statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two
   recovering processes never verify the same row.
3. **Verify.** :func:`already_written` reads the target records' current values from the
   vendor (by id, or by the upsert's match field for a creation). A row whose values are all
   there is completed without writing; the others go back to ``pending`` and are sent as usual.

A verification read that fails leaves the rows ``sending``: they are verified again once stale.
Values are compared loosely (text trimmed, numbers as numbers, instants as instants); a value
the vendor stores in another form than the one sent reads as "not there", and that row is sent
again, which is the safe side for correctness (reliability.md §2).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType

from sqlalchemy import Engine, func, select, update

from closedloop.connectors.contract import Connector, Value
from closedloop.runtime.clock import Clock
from closedloop.store.schema import outbox
from closedloop.sync.outbox import Outbox, OutboxItem, item_from_row
from closedloop.sync.sql import begin_write, chunked

__all__ = ["HEARTBEAT_SECONDS", "STALE_SENDING", "Heartbeat", "SendingClaims", "already_written"]

log = logging.getLogger("closedloop.sync.flush")
STALE_SENDING = timedelta(seconds=60)
"""A ``sending`` row untouched for this long was abandoned by its relay."""
HEARTBEAT_SECONDS = 10.0
"""How often a live relay refreshes its claims (well inside :data:`STALE_SENDING`)."""


class SendingClaims:
    """The ``sending`` rows of the outbox: heartbeats of live relays, reclaiming abandoned ones.

    Args:
        engine: the state store.
        clock: the source of timestamps.
    """

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    @classmethod
    def of(cls, box: Outbox) -> SendingClaims:
        """The claims of ``box``'s store, on ``box``'s clock."""
        return cls(box.store, box.clock)

    def touch(self, ids: Sequence[int]) -> int:
        """Refresh the claims on ``ids`` that are still ``sending``: the relay is alive."""
        now = self._clock.now()
        touched = 0
        with begin_write(self._engine) as conn:
            for chunk in chunked(ids):
                statement = (
                    update(outbox)
                    .where(outbox.c.id.in_(chunk), outbox.c.state == "sending")
                    .values(updated_at=now)
                )
                touched += conn.execute(statement).rowcount
        return touched

    def abandoned_count(self, older_than: datetime) -> int:
        """``sending`` rows untouched since ``older_than``, in every system."""
        query = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.state == "sending", outbox.c.updated_at < older_than)
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def reclaim(self, system: str, older_than: datetime, limit: int) -> list[OutboxItem]:
        """Take over up to ``limit`` abandoned ``sending`` rows of ``system`` (still ``sending``).

        The rows' ``updated_at`` moves to now, so no other process reclaims them meanwhile.
        """
        abandoned = (outbox.c.state == "sending", outbox.c.updated_at < older_than)
        due = (
            select(outbox.c.id)
            .where(*abandoned, outbox.c.system == system)
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(outbox)
            .where(outbox.c.id.in_(due.scalar_subquery()), *abandoned)
            .values(updated_at=self._clock.now())
            .returning(*outbox.c)
        )
        with begin_write(self._engine) as conn:
            rows = conn.execute(statement).all()
        return sorted((item_from_row(row) for row in rows), key=lambda item: item.id or 0)

    def requeue(self, ids: Sequence[int]) -> int:
        """Put reclaimed rows whose write is not at the vendor back to ``pending``, due now."""
        now = self._clock.now()
        requeued = 0
        with begin_write(self._engine) as conn:
            for chunk in chunked(ids):
                statement = (
                    update(outbox)
                    .where(outbox.c.id.in_(chunk), outbox.c.state == "sending")
                    .values(state="pending", next_attempt_at=now, updated_at=now)
                )
                requeued += conn.execute(statement).rowcount
        return requeued


class Heartbeat:
    """A background thread calling ``touch`` every ``interval`` seconds (a context manager).

    Relays wrap a long call in it to show that their claims are alive, for example
    ``with Heartbeat(lambda: claims.touch(ids)): connector.write(...)``.

    Args:
        touch: refreshes the claims; a failure is logged and retried on the next beat.
        interval: seconds between touches.
    """

    def __init__(self, touch: Callable[[], object], interval: float = HEARTBEAT_SECONDS) -> None:
        self._touch = touch
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="claim-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._touch()
            except Exception as exc:  # noqa: BLE001  (a missed beat is retried on the next one)
                log.warning("claim heartbeat failed: %s", type(exc).__name__)


def already_written(connector: Connector, items: Sequence[OutboxItem]) -> dict[str, str]:
    """The items whose every field already has its value at the vendor: push key -> record id.

    Items with a record id are read by id; creations are looked up by their match field.

    Raises:
        ConnectorError: the vendor could not be read (nothing is decided then).
    """
    found: dict[str, str] = {}
    by_object: dict[str, list[OutboxItem]] = defaultdict(list)
    for item in items:
        by_object[item.object_type].append(item)
    for object_type, group in by_object.items():
        names = sorted({name for item in group for name in item.fields})
        known = [item for item in group if item.record_id]
        if known:
            found.update(_verify_by_id(connector, object_type, known, names))
        upserts: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in group:
            if not item.record_id and item.match:
                upserts[item.match[0]].append(item)
        for field, matched in upserts.items():
            found.update(_verify_by_match(connector, object_type, field, matched, names))
    return found


def _verify_by_id(
    connector: Connector, object_type: str, items: list[OutboxItem], names: list[str]
) -> dict[str, str]:
    ids = list(dict.fromkeys(item.record_id or "" for item in items))
    current = {r.id: r.fields for r in connector.read_records(object_type, ids, names)}
    found: dict[str, str] = {}
    for item in items:
        values = current.get(item.record_id or "")
        if values is not None and _all_there(values, item.fields):
            found[item.push_key] = item.record_id or ""
    return found


def _verify_by_match(
    connector: Connector, object_type: str, field: str, items: list[OutboxItem], names: list[str]
) -> dict[str, str]:
    wanted = list(dict.fromkeys(item.match[1] for item in items if item.match))
    records = connector.find(object_type, field, wanted, sorted({*names, field}))
    found: dict[str, str] = {}
    for item in items:
        key = item.match[1] if item.match else ""
        for record in records:
            if _same(record.fields.get(field), key) and _all_there(record.fields, item.fields):
                found[item.push_key] = record.id
                break
    return found


def _all_there(current: dict[str, Value], intended: dict[str, Value]) -> bool:
    return all(_same(current.get(name), value) for name, value in intended.items())


def _same(current: Value, intended: Value) -> bool:
    """Whether the vendor's ``current`` value is the ``intended`` one, allowing for formats."""
    if current == intended:
        return True
    if current in (None, "") or intended in (None, ""):
        return current in (None, "") and intended in (None, "")
    if isinstance(current, bool) or isinstance(intended, bool):
        return str(current).lower() == str(intended).lower()
    left, right = str(current).strip(), str(intended).strip()
    if left == right:
        return True
    try:
        return float(left) == float(right)
    except ValueError:
        pass
    moments = _moment(left), _moment(right)
    return moments[0] is not None and moments[0] == moments[1]


def _moment(text: str) -> datetime | date | None:
    cleaned = text.replace("Z", "+00:00")
    if len(cleaned) > 5 and cleaned[-5] in "+-" and cleaned[-3] != ":":
        cleaned = f"{cleaned[:-2]}:{cleaned[-2:]}"  # +0000 -> +00:00 (Salesforce)
    try:
        return datetime.fromisoformat(cleaned) if "T" in cleaned else date.fromisoformat(cleaned)
    except ValueError:
        return None
