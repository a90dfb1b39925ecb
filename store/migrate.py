"""Bring a database to the newest schema with Alembic, without an ``alembic.ini``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from closedloop.runtime.errors import StoreError
from closedloop.store.engine import describe_url
from closedloop.store.schema import installation

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class UpgradeResult:
    """What ``closedloop db upgrade`` did."""

    database: str
    before: str | None
    after: str | None
    applied: tuple[str, ...]
    installation_id: str | None


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    """The newest revision the code ships."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> UpgradeResult:
    """Apply every pending migration in one transaction; a no-op when already current.

    Raises:
        StoreError: when the database cannot be reached or a migration fails.
    """
    database = describe_url(engine.url)
    try:
        before = current_revision(engine)
        script = ScriptDirectory.from_config(_alembic_config())
        pending = [
            rev.revision
            for rev in reversed(list(script.walk_revisions("base", "heads")))
            if before is None or _is_after(script, rev.revision, before)
        ]
        if pending:
            config = _alembic_config()
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        after = current_revision(engine)
        with engine.connect() as connection:
            install_id = connection.execute(select(installation.c.id)).scalar_one_or_none()
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None)
        reason = str(original) if original is not None else type(exc).__name__
        raise StoreError(
            f"cannot upgrade the database at {database}: {reason.strip().splitlines()[0]}",
            hint="check database.url and that the server is running",
        ) from exc
    return UpgradeResult(database, before, after, tuple(pending), install_id)


def _is_after(script: ScriptDirectory, revision: str, current: str) -> bool:
    """Whether ``revision`` comes after ``current`` in the migration history."""
    return revision != current and current in {
        r.revision for r in script.iterate_revisions(revision, "base")
    }
