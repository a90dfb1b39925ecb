"""Request and response helpers shared by the listener's routes.

* :func:`read_body` reads the raw body with the size cap applied to declared and chunked
  bodies alike (the cap is checked while reading, so a chunked body cannot grow past it);
* :func:`request_target` gives the path and query exactly as the sender called them, for the
  signature base string;
* :func:`store_events` puts a request's events in the inbox in one committed transaction (the
  caller answers 2xx only after it returned), counts them and wakes the workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, jsonify, request

from closedloop.webhooks.errors import PayloadError
from closedloop.webhooks.hubspot_events import EventRejection
from closedloop.webhooks.inbox import InboxEvent
from closedloop.webhooks.outbound_messages import ACK_CONTENT_TYPE, fault_envelope
from closedloop.webhooks.services import Services

__all__ = [
    "OUTBOUND_MESSAGE_PATH",
    "accepted_response",
    "current_services",
    "error_response",
    "read_body",
    "request_target",
    "store_events",
]

OUTBOUND_MESSAGE_PATH = "/webhooks/salesforce/outbound-message"
_READ_CHUNK = 65_536
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def current_services() -> Services:
    """The :class:`Services` of the app handling the current request."""
    services: Services = current_app.extensions["closedloop.services"]
    return services


def read_body(max_bytes: int) -> bytes:
    """The raw request body, at most ``max_bytes`` long.

    Raises:
        PayloadError: the body is (or grows) larger than ``max_bytes`` (``too_large`` set).
    """
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise PayloadError("body too large", too_large=True)
    stream = request.stream
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_READ_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadError("body too large", too_large=True)
        chunks.append(chunk)
    return b"".join(chunks)


def request_target() -> str:
    """The request's path and query as the sender wrote them.

    ``RAW_URI`` or ``REQUEST_URI`` when the server provides them, else re-encoded from
    ``PATH_INFO`` and ``QUERY_STRING`` (waitress).
    """
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    target = quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE) or "/"
    query = environ.get("QUERY_STRING", "")
    return f"{target}?{query}" if query else target


def store_events(source: str, events: Sequence[InboxEvent], rejected: int = 0) -> int:
    """Store ``events`` durably (one transaction), count them; returns how many were new."""
    services = current_services()
    new = services.inbox.add(events)
    metrics = services.metrics
    name = "closedloop_webhook_events_total"
    metrics.inc(name, new, source=source, outcome="accepted")
    metrics.inc(name, len(events) - new, source=source, outcome="duplicate")
    metrics.inc(name, rejected, source=source, outcome="rejected")
    if new:
        services.inbox_signal.set()
    return new


def accepted_response(
    events: Sequence[InboxEvent], new: int, rejections: Sequence[EventRejection]
) -> Response:
    """The 200 JSON answer to a batch: counts and the index and reason of each rejection."""
    body: dict[str, Any] = {
        "accepted": len(events),
        "new": new,
        "duplicates": len(events) - new,
        "rejected": [{"index": r.index, "reason": r.reason} for r in rejections],
    }
    return jsonify(body)


def error_response(status: int, reason: str) -> Response:
    """A 4xx/5xx answer: a SOAP fault on the Outbound Message route, JSON everywhere else."""
    if request.path == OUTBOUND_MESSAGE_PATH:
        fault = fault_envelope(reason, code="Server" if status >= 500 else "Client")
        answer = Response(fault, status=status)
        answer.headers["Content-Type"] = ACK_CONTENT_TYPE
        return answer
    answer = jsonify({"error": reason, "status": status})
    answer.status_code = status
    return answer
