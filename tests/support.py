"""Helpers shared by test modules (importable as ``support``; see pytest ``pythonpath``)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    """The PostgreSQL URL tests create their databases from."""
    return os.environ.get("CLOSEDLOOP_TEST_DATABASE_URL", DEFAULT_PG_URL)


@dataclass(frozen=True)
class CliResult:
    """What one run of the real ``closedloop`` command did."""

    code: int
    stdout: str
    stderr: str
