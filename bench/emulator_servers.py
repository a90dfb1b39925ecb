"""The servers under test: child processes pinned to one core, started and always stopped.

Each server (``closedloop emulate hubspot|salesforce`` or the bare Flask baseline) runs in its
own process pinned to :data:`SERVER_CORE` with ``os.sched_setaffinity``; the load generator
uses the other cores (:func:`client_cores`). :class:`ServerProcess` reads the server's CPU time
from ``/proc`` so a measurement can say whether the server core was saturated.
:class:`BenchError` is what every part of the benchmark raises when a figure cannot be trusted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SERVER_CORE = 0
STARTUP_TIMEOUT_SECONDS = 30.0


class BenchError(RuntimeError):
    """The benchmark cannot produce a trustworthy figure (a server or an answer is wrong)."""


def free_port() -> int:
    """A loopback TCP port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pin_to_server_core() -> None:
    """Run in the child between fork and exec: keep the server (and its threads) on one core."""
    os.sched_setaffinity(0, {SERVER_CORE})


def client_cores() -> set[int]:
    """The cores the load generator may use: every allowed core but the server's, if any."""
    allowed = os.sched_getaffinity(0)
    return (allowed - {SERVER_CORE}) or allowed


@dataclass
class ServerProcess:
    """A server running in a child process pinned to :data:`SERVER_CORE`."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process (all its threads) has used so far."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")


def wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Block until ``port`` accepts connections; raise if the process dies or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"server did not listen on port {port} within {STARTUP_TIMEOUT_SECONDS}s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process, killing it if it does not stop within five seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def server_process(argv: list[str], port: int) -> Iterator[ServerProcess]:
    """Start ``argv`` pinned to the server core, wait for ``port``, and always stop it."""
    with tempfile.TemporaryDirectory(prefix="closedloop-bench-") as scratch:
        log = Path(scratch) / "server.log"
        with log.open("wb") as log_file:
            # No load-generator thread runs while a server starts, so preexec_fn is safe.
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=pin_to_server_core,  # noqa: PLW1509
            )
        try:
            wait_for_port(process, port, log)
            yield ServerProcess(process, port)
        finally:
            stop_process(process)


def closedloop_executable() -> Path:
    """The venv's ``closedloop`` console script, next to the running interpreter."""
    script = Path(sys.executable).with_name("closedloop")
    if not script.exists():
        raise BenchError(f"{script} not found: install closedloop in this venv (make install)")
    return script


def emulator_argv(vendor: str, port: int) -> list[str]:
    """The command line that starts one vendor's emulator on ``port``."""
    return [str(closedloop_executable()), "emulate", vendor, "--port", str(port)]
