"""Open-model load: signed HubSpot webhook batches sent at a fixed arrival rate.

A closed loop (each client waiting for its answer before sending again) slows down with the
server and hides its queueing. Here a pacer thread releases request ``i`` at
``start + i / rate`` whatever happened before, hands it to a pool of sender threads, and each
latency is measured from the request's *scheduled* time to the end of its answer: time spent
waiting for a free sender or connection counts, so coordinated omission cannot flatter p99.

Every batch holds ``events`` distinct ``contact.propertyChange`` events (unique object ids and
values, so no event is a duplicate of another) and is signed with HubSpot's v3 scheme at send
time, so the timestamp is always fresh.
"""

from __future__ import annotations

import json
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from closedloop.webhooks.signatures import sign_hubspot_v3

BASE_OBJECT_ID = 10_000_000


def batch_body(index: int, events: int, *, run: str) -> bytes:
    """Batch ``index``: ``events`` distinct property changes, as HubSpot sends them."""
    now_ms = int(time.time() * 1000)
    batch = [
        {
            "eventId": index * events + n + 1,
            "subscriptionId": 4242,
            "portalId": 62515,
            "appId": 1160452,
            "occurredAt": now_ms,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": BASE_OBJECT_ID + index * events + n,
            "propertyName": "phone",
            "propertyValue": f"+1555{run}{index:07d}{n:03d}",
            "changeSource": "CRM",
        }
        for n in range(events)
    ]
    return json.dumps(batch, separators=(",", ":")).encode()


@dataclass
class LoadResult:
    """What one fixed-rate run observed."""

    rate: float
    seconds: float
    events_per_batch: int
    sent: int = 0
    accepted: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        """Events in 2xx-acknowledged batches per second of the run."""
        return self.accepted * self.events_per_batch / self.seconds

    def percentile_ms(self, share: float) -> float:
        """The latency below which ``share`` of the requests were answered (nearest rank)."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        rank = max(1, math.ceil(share * len(ordered)))
        return ordered[rank - 1]


class _Sender:
    """One sender thread's keep-alive session and the shared result (under a lock)."""

    def __init__(self, url: str, secret: str, result: LoadResult) -> None:
        self.url, self.secret, self.result = url, secret, result
        self.local = threading.local()
        self.lock = threading.Lock()

    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        return session

    def send(self, due: float, body: bytes) -> None:
        stamp = str(int(time.time() * 1000))
        signature = sign_hubspot_v3(self.secret, "POST", self.url, body, stamp)
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": stamp,
        }
        outcome = "ok"
        try:
            answer = self.session().post(self.url, data=body, headers=headers, timeout=30)
            if not 200 <= answer.status_code < 300:
                outcome = f"http {answer.status_code}"
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        latency_ms = (time.perf_counter() - due) * 1000
        with self.lock:
            if outcome == "ok":
                self.result.accepted += 1
                self.result.latencies_ms.append(latency_ms)
            else:
                self.result.errors[outcome] = self.result.errors.get(outcome, 0) + 1


def run_open_model(
    url: str,
    secret: str,
    *,
    rate: float,
    seconds: float,
    events: int = 50,
    senders: int = 64,
    run: str = "0",
) -> LoadResult:
    """Send ``rate`` batches per second for ``seconds`` to ``url``; never wait on answers."""
    total = int(rate * seconds)
    bodies = [batch_body(i, events, run=run) for i in range(total)]
    result = LoadResult(rate, seconds, events)
    sender = _Sender(url, secret, result)
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="sender") as pool:
        start = time.perf_counter()
        for i, body in enumerate(bodies):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(sender.send, due, body)
            result.sent += 1
    return result
