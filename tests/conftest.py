"""Shared fixtures: the database backends every store test runs on, and the CLI runner.

PostgreSQL comes from ``CLOSEDLOOP_TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets a fresh database created from
it and dropped afterwards. Outside CI an unreachable server skips those tests; under CI
(``CI`` set) it fails them, so a green run always includes PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from support import CliResult, postgres_admin_url

CLI = Path(sys.executable).with_name("closedloop")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = make_url(postgres_admin_url()).set(drivername="postgresql")
    name = f"closedloop_test_{uuid.uuid4().hex[:12]}"
    conninfo = admin.render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        _unavailable(str(exc).strip().splitlines()[0])
    yield admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'closedloop.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., CliResult]:
    """Run the installed ``closedloop`` console script in a clean environment."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSEDLOOP")}
    base_env["CLOSEDLOOP_DATA_DIR"] = str(tmp_path / "data")
    base_env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
        proc = subprocess.run(
            [str(CLI), *args],
            capture_output=True,
            text=True,
            env={**base_env, **(env or {})},
            cwd=cwd or tmp_path,
            timeout=120,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
