"""Where collected touches go: the person they belong to, the ledger, the raw payload table.

Identity (see :mod:`closedloop.sync.identity`): the anonymous visitor id is an identity of its
own (:func:`~closedloop.sync.identity.visitor_ref`). When a request carries an email (a form
submit), the visitor joins the person of that email:

* a visitor not seen before is linked to the oldest person with that email (or a new one);
* an *anonymous* visitor person (no email, no CRM record) is folded into the person of that
  email, so its earlier touches join that person; when nobody has the email yet, the visitor
  person simply takes it;
* a visitor person that is already someone else (another email, or CRM records: a shared
  computer) is never merged; only the visitor id moves to the person of the new email, so
  later touches go there and earlier ones stay with whoever made them.

Raw payloads are kept only when ``collector.raw_retention_days`` is above 0, and only in their
sanitised form (:meth:`~closedloop.webhooks.collector_requests.CollectRequest.sanitised`), each
with its ``expires_at``; :func:`purge_expired_payloads` deletes the expired ones (run it from
the scheduler).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert

from closedloop.runtime.clock import SYSTEM_CLOCK, Clock
from closedloop.store.schema import collector_payloads
from closedloop.sync import people as people_sql
from closedloop.sync.identity import IdentityStore, normalise_email, visitor_ref
from closedloop.sync.ledger import TouchLedger
from closedloop.sync.model import RecordRef
from closedloop.sync.sql import begin_write
from closedloop.webhooks.collector_requests import CollectRequest

__all__ = ["CollectorSink", "purge_expired_payloads", "resolve_visitor"]


def resolve_visitor(
    store: Engine, identity: IdentityStore, visitor_id: str, email: str | None, now: datetime
) -> str:
    """The person a visitor stands for, joining the person of ``email`` when one is given.

    See the module docstring for the rules. Returns the (surviving) person id.
    """
    ref = visitor_ref(visitor_id)
    email = normalise_email(email)
    if email is None:
        return identity.resolve(ref)
    current = identity.person_of(ref)
    if current is None:
        return identity.resolve(ref, email)
    visitor_person = identity.person(current)
    if visitor_person.email == email:
        return current
    owner = identity.find(email)
    anonymous = visitor_person.email is None and not visitor_person.records
    if owner is None:
        if anonymous:
            return identity.resolve(ref, email)
        return _move_to_new_person(store, ref, email, now)
    if owner == current:
        return current
    if anonymous:
        survivor_ref = identity.records_of(owner)[0]
        return identity.merge(survivor_ref, [ref])
    identity.link(ref, owner)
    return owner


def _move_to_new_person(store: Engine, ref: RecordRef, email: str, now: datetime) -> str:
    """Tie ``ref`` to a new person with ``email`` (its old person keeps its past touches)."""
    with begin_write(store) as conn:
        person_id = people_sql.by_email(conn, email) or people_sql.new_person(conn, email, now)
        people_sql.link(conn, ref, person_id, now)
        return person_id


class CollectorSink:
    """Record valid collector requests.

    Args:
        store: the state store (migrated).
        retention_days: days sanitised payloads are kept; 0 keeps none.
        clock: the source of ``received_at``.
    """

    def __init__(self, store: Engine, retention_days: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self._store = store
        self._retention_days = retention_days
        self._clock = clock
        self._identity = IdentityStore(store, clock)
        self._ledger = TouchLedger(store, clock)

    def record(self, request: CollectRequest, client_network: str | None) -> tuple[str, int]:
        """Resolve the person, add the touches, keep the sanitised payload; all committed.

        Returns:
            The person id and how many touches were new to the ledger.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the store failed (nothing is acknowledged).
        """
        now = self._clock.now()
        person_id = resolve_visitor(
            self._store, self._identity, request.visitor_id, request.email, now
        )
        added = self._ledger.add(person_id, request.touches)
        if self._retention_days > 0:
            with begin_write(self._store) as conn:
                conn.execute(
                    insert(collector_payloads).values(
                        received_at=now,
                        expires_at=now + timedelta(days=self._retention_days),
                        kind=request.kind,
                        visitor_id=request.visitor_id,
                        client_network=client_network,
                        person_id=person_id,
                        payload=request.sanitised(),
                    )
                )
        return person_id, added


def purge_expired_payloads(store: Engine, now: datetime) -> int:
    """Delete the sanitised payloads whose retention ended at or before ``now``.

    Returns how many rows were deleted.
    """
    with begin_write(store) as conn:
        result = conn.execute(
            delete(collector_payloads).where(collector_payloads.c.expires_at <= now)
        )
        return int(result.rowcount or 0)
