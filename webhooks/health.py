"""The listener's health, readiness and metrics routes.

``GET /healthz``: the process answers. ``GET /readyz``: the store is reachable and at the newest
schema. ``GET /metrics``: Prometheus text format (see :mod:`closedloop.webhooks.metrics`).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy.exc import SQLAlchemyError

from closedloop.store.migrate import current_revision, head_revision
from closedloop.webhooks.http_io import current_services
from closedloop.webhooks.metrics import Labels

__all__ = ["METRICS_CONTENT_TYPE", "health_blueprint"]

log = logging.getLogger("closedloop.webhooks")

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def health_blueprint() -> Blueprint:
    """The health, readiness and metrics routes."""
    blueprint = Blueprint("health", __name__)
    head = head_revision()

    @blueprint.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @blueprint.get("/readyz")
    def readyz() -> Response:
        try:
            revision = current_revision(current_services().store)
        except SQLAlchemyError as exc:
            log.warning("readiness: the store is unreachable (%s)", type(exc).__name__)
            answer = jsonify({"status": "unavailable", "reason": "the store is unreachable"})
            answer.status_code = 503
            return answer
        if revision != head:
            answer = jsonify(
                {
                    "status": "unavailable",
                    "reason": "the store is not at the newest schema: run closedloop db upgrade",
                    "revision": revision,
                    "expected": head,
                }
            )
            answer.status_code = 503
            return answer
        return jsonify({"status": "ready", "revision": revision})

    @blueprint.get("/metrics")
    def metrics() -> Response:
        services = current_services()
        gauges: dict[str, dict[Labels, float]] = {}
        try:
            counts = services.inbox.counts()
        except SQLAlchemyError as exc:
            log.warning("metrics: the store is unreachable (%s)", type(exc).__name__)
            gauges["closedloop_store_up"] = {(): 0}
        else:
            gauges["closedloop_store_up"] = {(): 1}
            gauges["closedloop_inbox_events"] = {
                (("state", state),): n for state, n in counts.items()
            }
        text = services.metrics.render(gauges)
        return Response(text, status=200, headers={"Content-Type": METRICS_CONTENT_TYPE})

    return blueprint
