"""Portable SQL helpers shared by the sync engine's repositories (SQLite and PostgreSQL).

Three differences between the backends matter to the repositories:

* **Write transactions.** SQLite in WAL mode allows one writer. A deferred transaction that
  reads first and writes later fails with ``database is locked`` when another connection wrote
  in between, so read-modify-write transactions start with ``BEGIN IMMEDIATE``
  (:func:`begin_write`): the write lock is taken up front and waits out ``busy_timeout``.
  PostgreSQL uses an ordinary transaction; repositories add ``FOR UPDATE`` where they read rows
  they are about to change.
* **Idempotent inserts.** ``INSERT ... ON CONFLICT DO NOTHING`` exists on both (SQLite >= 3.24)
  but is built by each dialect's own ``insert`` (:func:`insert_ignoring`).
* **Unique violations** surface as :class:`~sqlalchemy.exc.IntegrityError` on both; callers
  that race to create a row retry with :func:`retry_on_conflict`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import TypeVar

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert

__all__ = [
    "CHUNK",
    "Conflict",
    "begin_write",
    "chunked",
    "insert_ignoring",
    "is_postgresql",
    "retry_on_conflict",
    "transaction",
]

T = TypeVar("T")

CHUNK = 500
"""Rows per statement for ``IN (...)`` lookups and multi-row inserts."""


class Conflict(Exception):  # noqa: N818  (a signal, not an error the caller sees)
    """Raised inside a transaction that lost a race and must run again (see below)."""


def is_postgresql(bind: Connection | Engine) -> bool:
    """Whether ``bind`` talks to PostgreSQL (otherwise SQLite)."""
    return bind.dialect.name == "postgresql"


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: ``BEGIN IMMEDIATE`` on SQLite, a plain one elsewhere.

    Commits when the block ends normally and rolls back when it raises.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


@contextmanager
def transaction(engine: Engine, connection: Connection | None) -> Iterator[Connection]:
    """Join the caller's ``connection`` (their transaction) or open a write transaction."""
    if connection is not None:
        yield connection
        return
    with begin_write(engine) as own:
        yield own


def insert_ignoring(table: Table, bind: Connection | Engine, conflict: Sequence[str]) -> Insert:
    """``INSERT ... ON CONFLICT (conflict) DO NOTHING`` in the dialect of ``bind``."""
    if is_postgresql(bind):
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(conflict))


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def retry_on_conflict(action: Callable[[], T], attempts: int = 5) -> T:
    """Run ``action`` (one whole transaction) again when it loses a race.

    A race shows as a unique-constraint violation or as a :class:`Conflict` the action raised.

    The loser's transaction is rolled back by then, and the retry sees the winner's row.

    Raises:
        IntegrityError: when every attempt conflicted (or the violation is not a race).
        Conflict: when every attempt lost its race.
    """
    for _ in range(attempts - 1):
        try:
            return action()
        except (IntegrityError, Conflict):
            continue
    return action()
