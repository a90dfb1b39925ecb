"""A webhook sender that behaves like HubSpot: real changes, signed batches, retries until 2xx.

For each batch of (at most 100) contacts, :class:`HubSpotLikeSender` first changes each
contact's ``phone`` in the HubSpot emulator through its batch-update API (so the change is real
and a re-read finds it), then delivers the matching ``contact.propertyChange`` events as one
v3-signed webhook request. A connection error, a timeout (HubSpot's is 5 s) or any non-2xx
answer makes it send the same events again (``attemptNumber`` counting up, as HubSpot does)
after a compressed back-off, until the batch is acknowledged. Several batches are in flight at
once. ``in_flight`` lets the chaos controller kill the server while requests are open.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from closedloop.webhooks.signatures import sign_hubspot_v3

BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 4.0)
DELIVERY_TIMEOUT_SECONDS = 5.0
SUBSCRIPTION_ID = 4_200_001
APP_ID = 4_242


@dataclass(frozen=True)
class ChangeEvent:
    """One intended change: contact ``contact_id`` gets ``phone`` (unique per event)."""

    event_id: int
    contact_id: str
    phone: str


@dataclass
class SenderStats:
    """Counts of the burst, updated from several threads under ``lock``."""

    batches: int = 0
    batches_started: int = 0
    batches_acknowledged: int = 0
    events_sent: int = 0
    acknowledged: int = 0
    attempts: int = 0
    retries: int = 0
    in_flight: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failed(self, reason: str) -> None:
        """Count one failed delivery attempt by its reason."""
        with self.lock:
            self.failures[reason] = self.failures.get(reason, 0) + 1
            self.retries += 1


class HubSpotLikeSender:
    """Changes contacts in the HubSpot emulator and delivers their webhooks to ``serve``.

    Args:
        hubspot_url: the HubSpot emulator.
        token: its private-app token.
        listener_url: where ``serve`` listens (also its ``server.public_base_url``).
        client_secret: the app's client secret (the v3 signature key).
        portal_id: the Hub id to put in events.
    """

    def __init__(
        self,
        hubspot_url: str,
        token: str,
        listener_url: str,
        client_secret: str,
        portal_id: int,
    ) -> None:
        self.hubspot_url = hubspot_url
        self.token = token
        self.listener_url = listener_url
        self.client_secret = client_secret
        self.portal_id = portal_id
        self.stats = SenderStats()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def run(self, batches: list[list[ChangeEvent]], concurrency: int, pace: float) -> None:
        """Send every batch, one starting every ``pace`` seconds, at most ``concurrency`` open.

        Returns once every batch is acknowledged.
        """
        self.stats.batches = len(batches)
        start = time.monotonic()
        with ThreadPoolExecutor(concurrency, thread_name_prefix="sender") as pool:
            futures = [
                pool.submit(self._send_batch, batch, start + n * pace)
                for n, batch in enumerate(batches)
            ]
            for future in futures:
                future.result()

    def _send_batch(self, batch: list[ChangeEvent], not_before: float) -> None:
        time.sleep(max(0.0, not_before - time.monotonic()))
        self._change_in_hubspot(batch)
        occurred = int(time.time() * 1000)
        with self.stats.lock:
            self.stats.batches_started += 1
            self.stats.events_sent += len(batch)
        attempt = 0
        while True:
            if self._deliver(batch, occurred, attempt):
                with self.stats.lock:
                    self.stats.batches_acknowledged += 1
                    self.stats.acknowledged += len(batch)
                return
            time.sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)])
            attempt += 1

    def _change_in_hubspot(self, batch: list[ChangeEvent]) -> None:
        inputs = [{"id": e.contact_id, "properties": {"phone": e.phone}} for e in batch]
        for wait in (*BACKOFF_SECONDS, None):
            answer = self._session().post(
                f"{self.hubspot_url}/crm/v3/objects/contacts/batch/update",
                json={"inputs": inputs},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=30,
            )
            if answer.status_code < 300:
                return
            if wait is None:
                answer.raise_for_status()
                return
            time.sleep(wait)

    def _events(self, batch: list[ChangeEvent], occurred: int, attempt: int) -> bytes:
        events: list[dict[str, Any]] = [
            {
                "eventId": event.event_id,
                "subscriptionId": SUBSCRIPTION_ID,
                "portalId": self.portal_id,
                "appId": APP_ID,
                "occurredAt": occurred,
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": attempt,
                "objectId": int(event.contact_id),
                "propertyName": "phone",
                "propertyValue": event.phone,
                "changeSource": "CRM_UI",
                "sourceId": "userId:4242",
            }
            for event in batch
        ]
        return json.dumps(events).encode()

    def _deliver(self, batch: list[ChangeEvent], occurred: int, attempt: int) -> bool:
        body = self._events(batch, occurred, attempt)
        uri = f"{self.listener_url}/webhooks/hubspot"
        stamp = str(int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_hubspot_v3(self.client_secret, "POST", uri, body, stamp),
            "X-HubSpot-Request-Timestamp": stamp,
        }
        with self.stats.lock:
            self.stats.attempts += 1
            self.stats.in_flight += 1
        try:
            answer = self._session().post(
                uri, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS
            )
        except requests.Timeout:
            self.stats.failed("timeout")
            return False
        except requests.ConnectionError:
            self._local.session = None  # the server died: start from a fresh connection
            self.stats.failed("connection error")
            return False
        finally:
            with self.stats.lock:
                self.stats.in_flight -= 1
        if 200 <= answer.status_code < 300:
            return True
        self.stats.failed(f"HTTP {answer.status_code}")
        return False
