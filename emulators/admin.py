"""What every emulator shares: request statistics, fault injection and the admin API.

The admin API lives under ``/__emulator__/`` and is documented in ``docs/emulators.md``.
Admin requests are neither counted in the statistics nor subject to faults or vendor auth,
so tests and benchmarks read exact vendor-call counts from ``GET /__emulator__/stats``.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, g, jsonify, request

from closedloop.emulators.clock import EmulatorClock

ADMIN_PREFIX = "/__emulator__"


class RouteStats:
    """Thread-safe counters of the vendor calls an emulator answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()
        self._rate_limited = 0

    def record(self, route: str, status: int, *, rate_limited: bool) -> None:
        """Count one answered request (route = method + path without its query string)."""
        with self._lock:
            self._by_route[route] += 1
            self._by_status[status] += 1
            if rate_limited:
                self._rate_limited += 1

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._by_route.clear()
            self._by_status.clear()
            self._rate_limited = 0

    def snapshot(self) -> dict[str, Any]:
        """The counters as the JSON body of ``GET /__emulator__/stats``."""
        with self._lock:
            return {
                "total": sum(self._by_route.values()),
                "rate_limited": self._rate_limited,
                "by_route": dict(sorted(self._by_route.items())),
                "by_status": {str(k): v for k, v in sorted(self._by_status.items())},
            }


@dataclass
class Fault:
    """One planned misbehaviour: answer ``status`` (or only add latency) ``count`` times."""

    path_pattern: str = ".*"
    method: str | None = None
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    count: int | None = 1
    latency_ms: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request and still has firings left."""
        if self.count is not None and self.fired >= self.count:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return re.search(self.path_pattern, path) is not None


class FaultPlan:
    """An ordered list of faults; the first that matches a request fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def load(self, spec: dict[str, Any]) -> list[Fault]:
        """Replace (or with ``"append": true`` extend) the plan from an admin request body.

        Raises:
            ValueError: when a fault entry has an unknown key or a wrongly typed value.
        """
        entries = spec.get("faults", [spec] if "status" in spec or "latency_ms" in spec else [])
        built: list[Fault] = []
        allowed = {"path_pattern", "method", "status", "body", "headers", "count", "latency_ms"}
        for entry in entries:
            unknown = set(entry) - allowed
            if unknown:
                raise ValueError(f"unknown fault keys: {sorted(unknown)}")
            re.compile(str(entry.get("path_pattern", ".*")))
            built.append(Fault(**entry))
        with self._lock:
            if not spec.get("append"):
                self._faults = []
            self._faults.extend(built)
        return built

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults = []

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that fires for this request, if any (its count is used up by one)."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.fired += 1
                    return fault
        return None

    def describe(self) -> list[dict[str, Any]]:
        """The plan with how often each fault has fired."""
        with self._lock:
            return [dict(vars(f)) for f in self._faults]


class Emulator(Protocol):
    """What the shared admin API needs from a vendor emulator."""

    clock: EmulatorClock
    stats: RouteStats
    faults: FaultPlan

    def reset(self) -> None:
        """Empty the data and the rate windows."""

    def seed(self, options: dict[str, Any]) -> dict[str, Any]:
        """Create realistic synthetic data and say how much."""


def mark_rate_limited() -> None:
    """Count the current request as rate-limited in the statistics (vendor code calls this)."""
    g.closedloop_rate_limited = True


def install_emulator_hooks(app: Flask, emulator: Emulator) -> None:
    """Attach fault injection, statistics and the shared admin routes to a vendor app."""

    @app.before_request
    def _inject_fault() -> Response | None:
        if request.path.startswith(ADMIN_PREFIX):
            return None
        fault = emulator.faults.take(request.method, request.path)
        if fault is None:
            return None
        if fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if fault.status is None:
            return None
        response = jsonify(fault.body) if fault.body is not None else Response(status=fault.status)
        response.status_code = fault.status
        for name, value in fault.headers.items():
            response.headers[name] = value
        return response

    @app.after_request
    def _count(response: Response) -> Response:
        if not request.path.startswith(ADMIN_PREFIX):
            limited = bool(g.get("closedloop_rate_limited")) or response.status_code == 429
            emulator.stats.record(
                f"{request.method} {request.path}", response.status_code, rate_limited=limited
            )
        return response

    app.register_blueprint(_admin_blueprint(emulator))


def _admin_blueprint(emulator: Emulator) -> Blueprint:
    admin = Blueprint("emulator_admin", __name__, url_prefix=ADMIN_PREFIX)

    @admin.post("/reset")
    def reset() -> Response:
        emulator.reset()
        emulator.stats.reset()
        emulator.faults.clear()
        return jsonify({"reset": True})

    @admin.post("/seed")
    def seed() -> Response:
        return jsonify(emulator.seed(request.get_json(silent=True) or {}))

    @admin.get("/stats")
    def stats() -> Response:
        return jsonify(emulator.stats.snapshot())

    @admin.post("/stats/reset")
    def stats_reset() -> Response:
        emulator.stats.reset()
        return jsonify(emulator.stats.snapshot())

    @admin.get("/faults")
    def faults_list() -> Response:
        return jsonify({"faults": emulator.faults.describe()})

    @admin.post("/faults")
    def faults_load() -> tuple[Response, int]:
        try:
            built = emulator.faults.load(request.get_json(silent=True) or {})
        except (TypeError, ValueError, re.error) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"loaded": len(built), "faults": emulator.faults.describe()}), 200

    @admin.route("/clock", methods=["GET", "POST"])
    def clock() -> tuple[Response, int]:
        if request.method == "GET":
            return jsonify(emulator.clock.describe()), 200
        try:
            return jsonify(emulator.clock.apply(request.get_json(silent=True) or {})), 200
        except (TypeError, ValueError) as exc:
            return jsonify({"error": str(exc)}), 400

    return admin
