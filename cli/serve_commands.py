"""``closedloop serve`` (listener, inbox workers, sync scheduler) and ``closedloop replay``."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

import click
from rich.table import Table
from waitress.server import create_server

from closedloop.cli.options import common_options, console, emit_json, settings
from closedloop.config.schema import Settings
from closedloop.revenue.loop import RevenueLoop
from closedloop.sync.flush import flush_outbox
from closedloop.sync.outbox import Outbox
from closedloop.sync.schedule import SyncScheduler
from closedloop.sync.staging import StagingArea
from closedloop.webhooks.app import create_app
from closedloop.webhooks.collector_store import purge_expired_payloads
from closedloop.webhooks.inbox import StoredEvent
from closedloop.webhooks.services import DealHandler, Services
from closedloop.webhooks.worker import InboxWorker

log = logging.getLogger("closedloop.serve")
FORMATS = click.Choice(["table", "json"])
# Staged rows older than this were left by a run whose process died (a run takes minutes).
STAGED_ROWS_KEPT = timedelta(days=1)


def revenue_handler(services: Services, config: Settings) -> DealHandler:
    """The inbox workers' deal handler: the revenue loop, built on the first deal event."""
    built: list[RevenueLoop] = []
    lock = threading.Lock()

    def handle(system: str, object_type: str, ids: list[str]) -> None:
        with lock:
            if not built:
                engine = services.sync_engine
                built.append(RevenueLoop(config, engine.state, engine.connectors, engine.clock))
        built[0].handle_deals(system, object_type, ids)

    return handle


def purge_inbox(services: Services, config: Settings) -> int:
    """Delete processed webhook events older than ``webhooks.done_retention_days``."""
    keep = timedelta(days=config.webhooks.done_retention_days)
    return services.inbox.purge_done(services.clock.now() - keep)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default server.host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default server.port).")
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Do not run the scheduled sync jobs.")
@common_options
def serve(host: str | None, port: int | None, threads: int, no_scheduler: bool) -> None:
    """Run the webhook listener, the inbox workers and the sync scheduler until stopped."""
    config = settings()
    services = Services.from_settings(config)
    services.on_deals = revenue_handler(services, config)
    app = create_app(config, services=services)
    server: Any = create_server(
        app,
        host=host or config.server.host,
        port=config.server.port if port is None else port,
        threads=threads,
        ident="closedloop",
    )
    worker = InboxWorker(services, config)
    scheduler = None
    if not no_scheduler:
        engine = services.sync_engine
        revenue = RevenueLoop(config, engine.state, engine.connectors, engine.clock)
        scheduler = SyncScheduler(engine, config, revenue=revenue)
        scheduler.every(
            "collector_purge",
            lambda: purge_expired_payloads(services.store, services.clock.now()),
            hours=1,
        )
        scheduler.every("inbox_purge", lambda: purge_inbox(services, config), hours=1)
        scheduler.every(
            "staging_purge",
            lambda: StagingArea(services.store).discard_older_than(
                services.clock.now() - STAGED_ROWS_KEPT
            ),
            hours=6,
        )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        raise SystemExit(0)  # waitress's loop closes the server on SystemExit

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker.start()
    if scheduler is not None:
        scheduler.start()
    local = f"http://{server.effective_host}:{server.effective_port}"
    public = config.server.public_base_url or local
    log.info(
        "closedloop serving on %s: webhooks %s/webhooks/hubspot, %s/webhooks/salesforce/"
        "outbound-message, %s/webhooks/salesforce/events; health %s/healthz, %s/readyz; "
        "metrics %s/metrics (%d threads, %d inbox workers, scheduler %s)",
        local,
        public,
        public,
        public,
        local,
        local,
        local,
        threads,
        config.webhooks.workers,
        "off" if scheduler is None else "on",
    )
    try:
        server.run()
    finally:
        server.close()
        worker.stop()
        if scheduler is not None:
            scheduler.shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        services.store.dispose()
        log.info("closedloop stopped")


def _event_json(event: StoredEvent, queue: str = "inbox") -> dict[str, Any]:
    return {
        "queue": queue,
        "id": event.id,
        "source": event.source,
        "record": f"{event.system}:{event.object_type}:{event.record_id}",
        "event_type": event.event_type,
        "state": event.state,
        "attempts": event.attempts,
        "note": event.last_error,
    }


@click.command()
@click.option("--id", "event_id", type=int, default=None, help="Replay one inbox event by id.")
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter (inbox+outbox).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@common_options
def replay(event_id: int | None, replay_all: bool, fmt: str) -> None:
    """Re-queue dead-lettered events and process them now (without options: list them)."""
    if event_id is not None and replay_all:
        raise click.UsageError("give either --id ID or --all, not both")
    config = settings()
    services = Services.from_settings(config)
    services.on_deals = revenue_handler(services, config)
    inbox = services.inbox
    rows: list[dict[str, Any]] = []
    try:
        if event_id is None and not replay_all:
            rows = [_event_json(e) for e in inbox.events("dead")]
            rows += _outbox_rows(services, replay=False)
        else:
            if event_id is not None and inbox.get(event_id) is None:
                raise click.BadParameter(f"no inbox event with id {event_id}", param_hint="--id")
            ids = inbox.replay(event_id)
            InboxWorker(services, config).process_ids(ids)
            rows = [_event_json(e) for i in ids if (e := inbox.get(i)) is not None]
            if replay_all:
                rows += _outbox_rows(services, replay=True)
    finally:
        services.store.dispose()
    if fmt == "json":
        emit_json({"replayed": event_id is not None or replay_all, "events": rows})
        return
    table = Table("queue", "id", "record", "type", "state", "attempts", "note")
    for row in rows:
        table.add_row(
            row["queue"],
            str(row["id"]),
            row["record"],
            row["event_type"],
            row["state"],
            str(row["attempts"]),
            row["note"] or "",
        )
    out = console()
    out.print(table)
    out.print(f"{len(rows)} event(s)" + ("" if event_id or replay_all else " dead (not replayed)"))


def _outbox_rows(services: Services, *, replay: bool) -> list[dict[str, Any]]:
    """Dead outbox rows, labelled ``outbox``; with ``replay``, re-queued and flushed first."""
    outbox = Outbox(services.store, services.clock)
    items = outbox.dead_letters(10_000)
    if replay and items:
        outbox.replay()
        engine = services.sync_engine
        state = engine.state
        flush_outbox(
            state.outbox, engine.connectors, state.shadow, state.identity, clock=engine.clock
        )
        items = [now for item in items if (now := outbox.get(item.push_key)) is not None]
    return [
        {
            "queue": "outbox",
            "id": item.id,
            "source": "sync",
            "record": f"{item.system}:{item.object_type}:{item.record_id or '(new)'}",
            "event_type": "write",
            "state": item.state,
            "attempts": item.attempts,
            "note": item.last_error,
        }
        for item in items
    ]
