"""The two receivers ``bench/webhooks.py`` compares, each run as its own server process.

    python bench/webhook_receivers.py closedloop --database URL --port P --threads T
    python bench/webhook_receivers.py baseline   --database URL --port P --threads T

``closedloop`` is the real listener (:func:`closedloop.webhooks.app.create_app`) on the real
store; ``baseline`` is the least a correct receiver can do: check the v3 signature on the raw
body, insert those bytes in one transaction, answer 200. Both run under waitress with the same
thread count, on a store engine from :func:`closedloop.store.engine.create_store_engine` (so
SQLite gets the same WAL and synchronous settings), and verify with the same secret and public
URL. The inbox workers do not run: the benchmark measures acknowledgement, not processing.
"""

from __future__ import annotations

import argparse
import time

import waitress
from flask import Flask, Response, request
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert

from closedloop.config.schema import DatabaseSettings, HubSpotSettings, ServerSettings, Settings
from closedloop.store.engine import create_store_engine
from closedloop.webhooks.errors import SignatureError
from closedloop.webhooks.signatures import verify_hubspot_v3

SECRET = "bench-client-secret"
PATH = "/webhooks/hubspot"

_baseline_metadata = MetaData()
baseline_events = Table(
    "bench_baseline_events",
    _baseline_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("body", LargeBinary, nullable=False),
)


def public_url(port: int) -> str:
    """The base URL the load generator signs requests for."""
    return f"http://127.0.0.1:{port}"


def baseline_app(database_url: str, port: int) -> Flask:
    """Signature check plus one insert of the raw body, and nothing else."""
    engine = create_store_engine(database_url)
    _baseline_metadata.create_all(engine)
    app = Flask("baseline")
    uri = public_url(port) + PATH

    @app.post(PATH)
    def receive() -> Response:
        body = request.get_data(cache=False)
        try:
            verify_hubspot_v3(
                request.headers,
                body,
                method="POST",
                uri=uri,
                secrets=SECRET,
                now_ms=int(time.time() * 1000),
            )
        except SignatureError as exc:
            return Response(str(exc), status=401)
        with engine.begin() as conn:
            conn.execute(insert(baseline_events).values(body=body))
        return Response(status=200)

    return app


def closedloop_app(database_url: str, port: int) -> Flask:
    """The real listener on a freshly migrated store."""
    from closedloop.sync.setup import open_store  # noqa: PLC0415  (only this receiver needs it)
    from closedloop.webhooks.app import create_app  # noqa: PLC0415

    settings = Settings(
        database=DatabaseSettings(url=database_url),
        hubspot=HubSpotSettings(client_secret=SECRET),
        server=ServerSettings(port=port, public_base_url=public_url(port)),
    )
    open_store(settings).dispose()
    return create_app(settings)


def main() -> None:
    """Serve the chosen receiver until terminated."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("receiver", choices=["closedloop", "baseline"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    build = closedloop_app if args.receiver == "closedloop" else baseline_app
    app = build(args.database, args.port)
    waitress.serve(
        app, host="127.0.0.1", port=args.port, threads=args.threads, _quiet=True, backlog=1024
    )


if __name__ == "__main__":
    main()
