"""Delivering webhook batches as HubSpot does, on a background thread and the emulator clock.

Events are grouped into JSON arrays of at most 100, signed, and POSTed to the target URL.
A delivery fails on a connection error, no answer within the timeout (5 s) or any non-2xx
status; it is retried with ``attemptNumber`` counting up, at most 10 attempts over about
a day of EMULATOR time, so advancing the clock releases the next retry. At most 10
requests are in flight. :meth:`WebhookSender.flush` waits until nothing is due.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import requests

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.hubspot.signatures import signature_headers
from closedloop.emulators.hubspot.webhook_settings import WebhookSettings

RETRY_DELAYS_SECONDS = (60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800)
POLL_SECONDS = 0.02


@dataclass
class Delivery:
    """One batch of events and where it is in its retry schedule."""

    id: int
    events: list[dict[str, Any]]
    attempt: int = 0
    due_ms: int = 0


class WebhookSender:
    """Turns CRM changes into signed webhook deliveries with retries."""

    def __init__(self, clock: EmulatorClock, client_secret: str, app_id: int, seed: int) -> None:
        self._clock = clock
        self._secret = client_secret
        self._factory = (app_id, seed)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.settings = WebhookSettings(app_id)
        self._rng = random.Random(seed)
        self._outbox: list[dict[str, Any]] = []
        self._scheduled: deque[Delivery] = deque()
        self._in_flight = 0
        self._next_delivery = 1
        self.log: list[dict[str, Any]] = []

    def reset(self) -> None:
        """Drop settings, queued events and the delivery log."""
        with self._cond:
            app_id, seed = self._factory
            self.settings = WebhookSettings(app_id)
            self._rng = random.Random(seed)
            self._outbox, self._scheduled, self.log = [], deque(), []

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply admin settings (see :class:`WebhookSettings`).

        Raises:
            ValueError: for invalid settings.
        """
        with self._cond:
            self.settings.apply(body)
            return self.settings.describe()

    def publish(self, events: list[dict[str, Any]]) -> None:
        """Queue CRM changes, once for every active subscription each one matches."""
        with self._cond:
            if not self.settings.target_url:
                return
            app_id = self.settings.app_id
            for event in events:
                self._outbox.extend(
                    {**event, "subscriptionId": subscription.id, "appId": app_id}
                    for subscription in self.settings.subscriptions
                    if subscription.accepts(event)
                )
            if self._outbox:
                self._ensure_thread()
                self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until no delivery is queued, due or in flight (future retries may remain)."""
        with self._cond:
            self._cond.notify_all()
            idle = self._cond.wait_for(self._idle, timeout=timeout)
            return {
                "idle": idle,
                "scheduled": len(self._scheduled),
                "next_due_ms": min((d.due_ms for d in self._scheduled), default=None),
                "attempts": len(self.log),
            }

    def close(self) -> None:
        """Stop the background thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _idle(self) -> bool:
        now = self._clock.now_ms()
        due = any(d.due_ms <= now for d in self._scheduled)
        return not self._outbox and not due and self._in_flight == 0

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="hubspot-webhooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                self._batch_outbox()
                started = self._start_due()
                if not started:
                    self._cond.wait(POLL_SECONDS)

    def _batch_outbox(self) -> None:
        if not self._outbox:
            return
        events, self._outbox = self._outbox, []
        if self.settings.reorder:
            self._rng.shuffle(events)
        size = self.settings.batch_size
        now = self._clock.now_ms()
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            copies = 2 if self.settings.duplicate else 1
            for _ in range(copies):
                self._scheduled.append(Delivery(self._next_delivery, list(chunk), 0, now))
                self._next_delivery += 1

    def _start_due(self) -> bool:
        now = self._clock.now_ms()
        due = [d for d in self._scheduled if d.due_ms <= now]
        if self.settings.reorder:
            due.reverse()
        started = False
        for delivery in due:
            if self._in_flight >= self.settings.max_concurrent:
                break
            self._scheduled.remove(delivery)
            self._in_flight += 1
            worker = threading.Thread(target=self._attempt, args=(delivery,), daemon=True)
            worker.start()
            started = True
        return started

    def _attempt(self, delivery: Delivery) -> None:
        with self._cond:
            target = self.settings.target_url or ""
            version, timeout = self.settings.signature_version, self.settings.timeout_seconds
        body = json.dumps([{**e, "attemptNumber": delivery.attempt} for e in delivery.events])
        headers = {
            "Content-Type": "application/json",
            **signature_headers(version, self._secret, "POST", target, body, self._clock.now_ms()),
        }
        status, error = None, None
        try:
            response = requests.post(target, data=body.encode(), headers=headers, timeout=timeout)
            status = response.status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        with self._cond:
            self._in_flight -= 1
            succeeded = status is not None and 200 <= status < 300
            self.log.append(
                {
                    "delivery": delivery.id,
                    "attemptNumber": delivery.attempt,
                    "events": len(delivery.events),
                    "status": status,
                    "error": error,
                    "at_ms": self._clock.now_ms(),
                    "succeeded": succeeded,
                }
            )
            if not succeeded and delivery.attempt + 1 < self.settings.max_attempts:
                delay = RETRY_DELAYS_SECONDS[min(delivery.attempt, len(RETRY_DELAYS_SECONDS) - 1)]
                jitter = self._rng.uniform(0, 0.25 * delay)
                delivery.attempt += 1
                delivery.due_ms = self._clock.now_ms() + int((delay + jitter) * 1000)
                self._scheduled.append(delivery)
            self._cond.notify_all()
