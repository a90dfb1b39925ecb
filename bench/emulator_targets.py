"""What is measured: an operation made raw and through the official client, on a target server.

A :class:`Target` prepares its server before each measurement (reset, lift rate limits, seed)
and lists its :class:`Operation` s. The baseline target and the bare Flask app it measures
(:func:`serve_baseline`, run in the child process started with ``--serve-baseline``) live here,
with the loopback HTTP helpers every target uses (:func:`loopback_session`, :func:`expect`); the
vendor targets are in ``emulator_hubspot.py`` and ``emulator_salesforce.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from emulator_load import Call, CallFactory
from emulator_servers import BenchError


def expect(response: requests.Response, status: int = 200) -> None:
    """Raise :class:`BenchError` unless ``response`` has the expected status."""
    if response.status_code != status:
        raise BenchError(
            f"{response.request.method} {response.url}: {response.status_code} "
            f"{response.text[:300]}"
        )


def loopback_session(headers: dict[str, str] | None = None) -> requests.Session:
    """A session for loopback calls that skips proxy and CA look-ups.

    It would keep connections alive, but the werkzeug server closes each one after answering.
    """
    session = requests.Session()
    session.trust_env = False
    session.headers.update(headers or {})
    return session


@dataclass(frozen=True)
class Operation:
    """One representative vendor call, made raw and through the official client."""

    key: str
    label: str
    records: int
    raw: CallFactory
    client: CallFactory
    check: Callable[[], None]


class Target:
    """A server under test: how to prepare it and which operations to drive."""

    name = ""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = loopback_session()

    def admin_post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to an ``/__emulator__/`` admin route and return its JSON answer."""
        response = self.admin.post(f"{self.url}/__emulator__/{path}", json=body, timeout=60)
        expect(response)
        return response.json()

    def prepare(self) -> None:
        """Bring the server to a known state before a measurement."""

    def operations(self) -> list[Operation]:
        """The operations to measure, in order."""
        raise NotImplementedError


class BaselineTarget(Target):
    """The bare Flask app: one GET answering a fixed small JSON body."""

    name = "baseline"

    def operations(self) -> list[Operation]:
        """A single GET /ping, raw only."""

        def raw(index: int) -> Call:
            del index
            session = loopback_session()
            url = f"{self.url}/ping"

            def call() -> None:
                expect(session.get(url, timeout=30))

            return call

        def check() -> None:
            expect(self.admin.get(f"{self.url}/ping", timeout=30))

        return [Operation("get", "GET /ping, fixed JSON (bare Flask)", 1, raw, raw, check)]


def serve_baseline(port: int) -> None:
    """Serve a minimal Flask app on the emulators' WSGI server until terminated."""
    from flask import Flask, Response, jsonify  # noqa: PLC0415  (only the child needs it)

    from closedloop.emulators.server import serve_forever  # noqa: PLC0415

    app = Flask("bench-baseline")
    body = {"id": "1000001", "status": "ok"}

    @app.get("/ping")
    def ping() -> Response:
        return jsonify(body)

    serve_forever(app, "127.0.0.1", port)
