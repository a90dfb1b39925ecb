"""The listener over real HTTP: signatures, batches, size caps, SOAP answers, durability."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import defusedxml.ElementTree
import pytest
import requests
from sqlalchemy import Engine, func, select
from webhook_support import (
    DATA,
    ListenerFactory,
    hubspot_event,
    hubspot_headers,
)

from closedloop.runtime.clock import ManualClock
from closedloop.store.engine import create_store_engine
from closedloop.store.schema import webhook_inbox

VECTORS = json.loads((DATA / "hubspot_signature_vectors.json").read_text("utf-8"))["vectors"]
MESSAGE = (DATA / "salesforce_outbound_message.xml").read_bytes()
ACK = (DATA / "salesforce_outbound_ack.xml").read_bytes()
OUTBOUND = "/webhooks/salesforce/outbound-message"
EVENTS = "/webhooks/salesforce/events"
SOAP_FAULT = "{http://schemas.xmlsoap.org/soap/envelope/}Fault"


def _vendor_path(target: str) -> Callable[[Any], Any]:
    """A reverse proxy's path mapping: the vendor calls ``target``, the app serves its route."""

    def wrap(app: Any) -> Any:
        def middleware(environ: dict[str, Any], start_response: Any) -> Any:
            environ["PATH_INFO"] = "/webhooks/hubspot"
            environ["QUERY_STRING"] = ""
            environ["RAW_URI"] = environ["REQUEST_URI"] = target
            return app(environ, start_response)

        return middleware

    return wrap


def _split(uri: str) -> tuple[str, str]:
    scheme, _, rest = uri.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host}", slash + path


def _fault(answer: Any) -> str:
    root = defusedxml.ElementTree.fromstring(answer.content)
    fault = root.find(f".//{SOAP_FAULT}")
    assert fault is not None
    return str(fault.findtext("faultstring"))


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS if v["method"] != "GET"], ids=lambda v: v["id"]
)
def test_vendor_vectors_pass_through_the_endpoint(
    vector: dict[str, Any], listener: ListenerFactory
) -> None:
    legacy = vector["version"] != "v3"
    base, target = _split(vector["uri"] or "https://hooks.example.com/webhooks/hubspot")
    stamp = int(vector["timestamp"] or 1_700_000_000_000)
    run = listener(
        clock=ManualClock(datetime.fromtimestamp(stamp / 1000, tz=UTC)),
        public_base_url=base,
        hubspot_legacy_signatures=legacy,
        wrap=_vendor_path(target),
        hubspot_secret=vector["secret"],
    )
    body = vector["body"].encode()
    if legacy:
        headers = {
            "X-HubSpot-Signature": vector["expected_signature"],
            "X-HubSpot-Signature-Version": vector["version"],
        }
    else:
        headers = {
            "X-HubSpot-Signature-v3": vector["expected_signature"],
            "X-HubSpot-Request-Timestamp": vector["timestamp"],
        }
    answer = run.post(target, body, headers)
    assert answer.status_code != 401, answer.text
    assert answer.status_code in (200, 400)
    headers = {**headers, next(iter(headers)): "A" + vector["expected_signature"][1:]}
    assert run.post(target, body, headers).status_code == 401


def test_legacy_signatures_are_refused_unless_enabled(listener: ListenerFactory) -> None:
    (vector,) = [v for v in VECTORS if v["id"] == "v1-docs"]
    run = listener(hubspot_secret=vector["secret"])
    headers = {
        "X-HubSpot-Signature": vector["expected_signature"],
        "X-HubSpot-Signature-Version": "v1",
    }
    answer = run.post("/webhooks/hubspot", vector["body"].encode(), headers)
    assert answer.status_code == 401
    assert answer.json() == {"error": "unauthorized", "status": 401}
    assert run.rows() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"X-HubSpot-Signature-v3": "bm9wZQ=="}, 401),
        ({"X-HubSpot-Signature-v3": None}, 401),
        ({"X-HubSpot-Request-Timestamp": None}, 401),
        ({"stale": -301_000}, 401),
        ({"stale": 301_000}, 401),
        ({"stale": -299_000}, 200),
        ({"stale": 299_000}, 200),
    ],
)
def test_hubspot_signature_and_window(
    change: dict[str, Any], expected: int, listener: ListenerFactory
) -> None:
    run = listener()
    body = json.dumps([hubspot_event(1)]).encode()
    url = run.url + "/webhooks/hubspot"
    change = dict(change)
    stamp = int(time.time() * 1000) + change.pop("stale", 0)
    headers: dict[str, Any] = {**hubspot_headers(url, body, timestamp_ms=stamp), **change}
    answer = run.post(
        "/webhooks/hubspot", body, {k: v for k, v in headers.items() if v is not None}
    )
    assert answer.status_code == expected, answer.text
    assert len(run.rows()) == (1 if expected == 200 else 0)


def test_a_replayed_batch_is_acknowledged_and_processed_once(listener: ListenerFactory) -> None:
    run = listener(record_deals=True)
    events = [
        hubspot_event(n, subscriptionType="deal.propertyChange", propertyName="dealstage")
        for n in range(3)
    ]
    first = run.post_hubspot(events)
    assert first.status_code == 200
    assert first.json() == {"accepted": 3, "new": 3, "duplicates": 0, "rejected": []}
    assert run.worker.process_once().done == 3
    again = run.post_hubspot([{**e, "attemptNumber": 1, "eventId": 9} for e in events])
    assert again.status_code == 200
    assert again.json()["duplicates"] == 3
    assert len(run.rows()) == 3
    assert run.worker.process_once().claimed == 0
    assert run.calls == [("hubspot", "deals", ["5000", "5001", "5002"])]


def test_one_bad_event_never_costs_its_batch_mates(listener: ListenerFactory) -> None:
    run = listener()
    events: list[Any] = [hubspot_event(n) for n in range(100)]
    events[37] = {**events[37], "objectId": "not a number"}
    answer = run.post_hubspot(events)
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 99
    assert [r["index"] for r in body["rejected"]] == [37]
    assert "objectId" in body["rejected"][0]["reason"]
    assert len(run.rows()) == 99
    assert {row.record_id for row in run.rows()} == {str(5000 + n) for n in range(100) if n != 37}


def test_more_than_100_events_is_a_bad_request(listener: ListenerFactory) -> None:
    run = listener()
    answer = run.post_hubspot([hubspot_event(n) for n in range(101)])
    assert answer.status_code == 400
    assert "100" in answer.json()["error"]
    assert run.rows() == []


def test_a_body_over_the_cap_is_413_declared_or_chunked(listener: ListenerFactory) -> None:
    run = listener(max_body_bytes=4096)
    big = json.dumps([hubspot_event(n) for n in range(40)]).encode()
    assert len(big) > 4096
    url = run.url + "/webhooks/hubspot"
    declared = run.post("/webhooks/hubspot", big, hubspot_headers(url, big))
    assert declared.status_code == 413
    assert declared.json()["error"] == "body too large"
    chunked = requests.post(
        url, data=iter([big[:3000], big[3000:]]), headers=hubspot_headers(url, big), timeout=30
    )
    assert chunked.status_code == 413
    soap = run.post(OUTBOUND, b"<x>" + b" " * 5000 + b"</x>", {"Content-Type": "text/xml"})
    assert soap.status_code == 413
    assert _fault(soap) == "body too large"
    assert run.rows() == []


def test_the_inbox_row_is_committed_when_the_answer_arrives(
    listener: ListenerFactory, store: Engine
) -> None:
    run = listener()
    observer = create_store_engine(store.url.render_as_string(hide_password=False))
    try:
        for n in range(20):
            assert run.post_hubspot([hubspot_event(n)]).status_code == 200
            # Another engine (its own connections): only committed rows are visible to it.
            with observer.connect() as conn:
                count = conn.execute(select(func.count()).select_from(webhook_inbox)).scalar_one()
            assert count == n + 1
    finally:
        observer.dispose()


def test_unknown_routes_and_methods_answer_json(listener: ListenerFactory) -> None:
    run = listener()
    assert requests.get(run.url + "/nope", timeout=10).json()["status"] == 404
    assert requests.get(run.url + "/webhooks/hubspot", timeout=10).status_code == 405


def test_health_readiness_and_metrics(listener: ListenerFactory) -> None:
    run = listener(record_deals=True)
    assert requests.get(run.url + "/healthz", timeout=10).json() == {"status": "ok"}
    ready = requests.get(run.url + "/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    deal = hubspot_event(1, subscriptionType="deal.creation")
    run.post_hubspot([deal, {"bad": True}])
    run.post_hubspot([deal])
    text = requests.get(run.url + "/metrics", timeout=10).text
    assert 'closedloop_webhook_events_total{outcome="accepted",source="hubspot"} 1' in text
    assert 'closedloop_webhook_events_total{outcome="duplicate",source="hubspot"} 1' in text
    assert 'closedloop_webhook_events_total{outcome="rejected",source="hubspot"} 1' in text
    assert 'closedloop_webhook_requests_total{endpoint="/webhooks/hubspot",status="200"} 2' in text
    assert 'closedloop_inbox_events{state="pending"} 1' in text
    assert "closedloop_webhook_request_seconds_bucket" in text
    run.worker.process_once()
    text = requests.get(run.url + "/metrics", timeout=10).text
    assert 'closedloop_inbox_events{state="done"} 1' in text
    assert 'closedloop_inbox_events_processed_total{outcome="done"} 1' in text
    assert "closedloop_inbox_processing_seconds_count 1" in text
