"""Load generation: client threads calling back to back, counted in one-second slices.

:func:`measure` starts one :class:`Worker` thread per client, each with its own call (built by a
:data:`CallFactory` so every thread owns its session or official client), warms up for
:data:`WARMUP_SECONDS`, then snapshots the call counters and the CPU clocks (server process,
this process, whole machine) every :data:`SLICE_SECONDS`. The resulting :class:`Measurement`
reports the median slice rate and how busy each side was.
"""

from __future__ import annotations

import itertools
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emulator_servers import ServerProcess

WARMUP_SECONDS = 1.0
SLICE_SECONDS = 1.0  # rates are the median of slices this long

# A call made by one load-generator thread; it raises when the answer is not a success.
Call = Callable[[], None]
# Builds the call of one thread (its index in 0..clients-1), with its own session or client.
CallFactory = Callable[[int], Call]


def machine_cpu_seconds() -> float:
    """Busy CPU time of every core since boot (from /proc/stat), kernel work included."""
    with Path("/proc/stat").open() as stat:
        jiffies = [int(value) for value in stat.readline().split()[1:]]
    idle = jiffies[3] + jiffies[4]  # idle, iowait
    busy = sum(jiffies[:8]) - idle  # user … steal; guest time is already inside user
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measurement:
    """The outcome of driving one operation for a fixed time."""

    calls: int
    errors: int
    seconds: float
    records_per_call: int
    server_cpu_seconds: float
    client_cpu_seconds: float
    machine_cpu_seconds: float
    slice_rps: tuple[float, ...]
    first_error: str | None = None

    @property
    def rps(self) -> float:
        """Successful calls per second: the median of the one-second slices.

        The median shrugs off a slice slowed by another program on a shared machine.
        """
        return statistics.median(self.slice_rps)

    @property
    def mean_rps(self) -> float:
        """Successful calls per second over the whole window."""
        return self.calls / self.seconds

    @property
    def records_per_s(self) -> float:
        """Records moved per second (calls times records per call)."""
        return self.rps * self.records_per_call

    @property
    def server_busy(self) -> float:
        """Share of its one core the server used; near 1.0 means the server was the limit."""
        return self.server_cpu_seconds / self.seconds

    @property
    def client_busy(self) -> float:
        """Cores' worth of CPU the load generator used (all threads)."""
        return self.client_cpu_seconds / self.seconds

    @property
    def other_busy(self) -> float:
        """Cores' worth of CPU used by neither process: kernel networking and other programs."""
        spent = self.machine_cpu_seconds - self.server_cpu_seconds - self.client_cpu_seconds
        return max(0.0, spent / self.seconds)


class Worker(threading.Thread):
    """One load-generator thread: makes calls back to back until told to stop."""

    def __init__(self, call: Call, stop: threading.Event, index: int) -> None:
        super().__init__(name=f"bench-client-{index}", daemon=True)
        self._call = call
        self._halt = stop
        self.calls = 0
        self.errors = 0
        self.first_error: str | None = None

    def run(self) -> None:
        """Call until stopped, counting successes and failures."""
        while not self._halt.is_set():
            try:
                self._call()
            except Exception as error:  # noqa: BLE001  (every failure is counted and reported)
                self.errors += 1
                self.first_error = self.first_error or f"{type(error).__name__}: {error}"[:500]
            else:
                self.calls += 1


@dataclass(frozen=True)
class Snapshot:
    """Counters at one instant of a measurement."""

    at: float
    calls: int
    errors: int
    server_cpu: float
    client_cpu: float
    machine_cpu: float

    @classmethod
    def take(cls, server: ServerProcess, workers: list[Worker]) -> Snapshot:
        """Read the call counters and the CPU clocks now."""
        return cls(
            at=time.perf_counter(),
            calls=sum(w.calls for w in workers),
            errors=sum(w.errors for w in workers),
            server_cpu=server.cpu_seconds(),
            client_cpu=time.process_time(),
            machine_cpu=machine_cpu_seconds(),
        )


def measure(
    server: ServerProcess, factory: CallFactory, *, clients: int, seconds: float, records: int
) -> Measurement:
    """Drive ``clients`` threads for a warm-up and ``seconds``; count what completed in between."""
    calls = [factory(index) for index in range(clients)]
    stop = threading.Event()
    workers = [Worker(call, stop, index) for index, call in enumerate(calls)]
    for worker in workers:
        worker.start()
    slices = max(1, round(seconds / SLICE_SECONDS))
    try:
        time.sleep(WARMUP_SECONDS)
        marks = [Snapshot.take(server, workers)]
        for _ in range(slices):
            time.sleep(seconds / slices)
            marks.append(Snapshot.take(server, workers))
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    start, end = marks[0], marks[-1]
    return Measurement(
        calls=end.calls - start.calls,
        errors=end.errors - start.errors,
        seconds=end.at - start.at,
        records_per_call=records,
        server_cpu_seconds=end.server_cpu - start.server_cpu,
        client_cpu_seconds=end.client_cpu - start.client_cpu,
        machine_cpu_seconds=end.machine_cpu - start.machine_cpu,
        slice_rps=tuple(
            (later.calls - earlier.calls) / (later.at - earlier.at)
            for earlier, later in itertools.pairwise(marks)
        ),
        first_error=next((w.first_error for w in workers if w.first_error), None),
    )
