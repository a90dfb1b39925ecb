"""The chaos benchmark's processes: the long-lived emulators, and ``closedloop serve`` to kill.

The emulators (``closedloop emulate hubspot|salesforce``) run in their own sessions and survive
every kill. ``closedloop serve`` runs as the leader of its own process group
(``start_new_session=True``); :meth:`ServeGroup.kill` sends SIGKILL to the whole group with
``os.killpg``, so nothing of it survives to finish a request or a transaction.
:class:`StoreProbe` reads the inbox and outbox states straight from the SQLite file.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

STARTUP_TIMEOUT_SECONDS = 60.0


def log(message: str) -> None:
    """Progress goes to stderr (stdout carries the one JSON line)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def closedloop() -> str:
    """The venv's ``closedloop`` console script."""
    return str(Path(sys.executable).with_name("closedloop"))


def wait_until_up(url: str, process: subprocess.Popen[bytes], logfile: Path) -> None:
    """Poll ``url`` until it answers 200; fail if the process dies or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = logfile.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}: {tail}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {STARTUP_TIMEOUT_SECONDS:.0f} s")


def start_emulator(vendor: str, port: int, workdir: Path, *extra: str) -> subprocess.Popen[bytes]:
    """Start one vendor emulator in its own session and wait until it answers."""
    logfile = workdir / f"emulator-{vendor}.log"
    with logfile.open("ab") as out:
        process = subprocess.Popen(
            [closedloop(), "emulate", vendor, "--port", str(port), *extra],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until_up(f"http://127.0.0.1:{port}/__emulator__/stats", process, logfile)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a child we started, SIGKILL it after 10 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class ServeGroup:
    """``closedloop serve`` in its own process group, started, killed and restarted.

    Args:
        config: the configuration file.
        port: the port it listens on.
        workdir: where its log goes.
    """

    def __init__(self, config: Path, port: int, workdir: Path) -> None:
        self.config = config
        self.url = f"http://127.0.0.1:{port}"
        self.logfile = workdir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start serve (listener and two inbox workers, no scheduler) and wait until ready."""
        with self.logfile.open("ab") as out:
            self.process = subprocess.Popen(
                [closedloop(), "serve", "--config", str(self.config), "--no-scheduler"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        wait_until_up(f"{self.url}/readyz", self.process, self.logfile)

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the leader."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """Stop cleanly (SIGTERM), as an operator would."""
        if self.process is not None:
            stop(self.process)
            self.process = None


class StoreProbe:
    """Reads queue states from the SQLite store ``serve`` uses (read-only queries)."""

    def __init__(self, database: Path) -> None:
        self.database = database

    def _counts(self, table: str) -> dict[str, int]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=30) as conn:
            rows = conn.execute(f"SELECT state, count(*) FROM {table} GROUP BY state").fetchall()
        return {str(state): int(n) for state, n in rows}

    def inbox(self) -> dict[str, int]:
        """Inbox events per state."""
        return self._counts("webhook_inbox")

    def outbox(self) -> dict[str, int]:
        """Outbox rows per state."""
        return self._counts("outbox")

    def busy(self) -> bool:
        """Whether a worker holds a claim (an event processing, or a write being sent)."""
        return bool(self.inbox().get("processing") or self.outbox().get("sending"))

    def drained(self) -> bool:
        """Nothing pending or in progress in the inbox and the outbox."""
        inbox, outbox = self.inbox(), self.outbox()
        return not any(inbox.get(s) for s in ("pending", "processing")) and not any(
            outbox.get(s) for s in ("pending", "sending")
        )
