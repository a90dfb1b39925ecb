"""Create SQLAlchemy engines for the embedded SQLite store and for PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from closedloop.runtime.errors import StoreError

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
    "PRAGMA synchronous=NORMAL",
)


def parse_url(url: str) -> URL:
    """Parse a database URL; plain ``postgresql://`` and ``postgres://`` use psycopg 3.

    Raises:
        StoreError: when the URL cannot be parsed or names an unsupported database.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            "database.url is not a valid database URL",
            hint="use sqlite:///path/to/closedloop.db or postgresql://user@host/db",
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {parsed.get_backend_name()!r}",
            hint="closedloop supports SQLite and PostgreSQL",
        )
    return parsed


def describe_url(url: str | URL) -> str:
    """The URL with its password hidden, safe to print or log."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def create_store_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite gets WAL, foreign keys and a busy timeout.

    Raises:
        StoreError: when the URL is invalid or the SQLite folder cannot be created.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, pool_pre_ping=True, future=True)


def _sqlite_engine(parsed: URL) -> Engine:
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().resolve().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the data directory {folder}: {exc.strerror}",
                hint="set database.url or CLOSEDLOOP_DATA_DIR to a writable place",
            ) from exc
    engine = create_engine(parsed, connect_args={"check_same_thread": False}, future=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    return engine
