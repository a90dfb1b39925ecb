"""The webhook listener: a Flask app factory for ``closedloop serve`` and for tests.

Routes: ``POST /webhooks/hubspot`` (:mod:`closedloop.webhooks.routes_hubspot`),
``POST /webhooks/salesforce/outbound-message`` and ``POST /webhooks/salesforce/events``
(:mod:`closedloop.webhooks.routes_salesforce`), ``GET /healthz``, ``/readyz`` and ``/metrics``
(:mod:`closedloop.webhooks.health`).

Every answer is decided here or in a route, never left to a default error page: an
unauthenticated request gets 401, a malformed one 400, one over ``webhooks.max_body_bytes``
413 (a SOAP fault on the Outbound Message route, JSON elsewhere, always with a reason), and an
unexpected failure (the store is down, say) 503 "try again", because the vendors retry. Logs
name the error type and the route, never a payload, header value or secret.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from closedloop.config.schema import Settings
from closedloop.webhooks.collector import collector_blueprint
from closedloop.webhooks.errors import PayloadError, SignatureError
from closedloop.webhooks.health import health_blueprint
from closedloop.webhooks.http_io import current_services, error_response
from closedloop.webhooks.routes_hubspot import hubspot_blueprint
from closedloop.webhooks.routes_salesforce import salesforce_blueprint
from closedloop.webhooks.services import Services

__all__ = ["create_app", "register_extensions"]

log = logging.getLogger("closedloop.webhooks")


def create_app(settings: Settings, *, services: Services | None = None) -> Flask:
    """Build the listener.

    Args:
        settings: the whole configuration (``webhooks.*``, ``server.public_base_url``,
            ``hubspot.client_secret``, ``salesforce.organization_id`` are read here).
        services: the store, sync engine and clock to use; built from ``settings`` (which
            opens and migrates ``database.url``) when omitted.

    Returns:
        The Flask app; ``app.extensions["closedloop.services"]`` holds ``services``.
    """
    services = services or Services.from_settings(settings)
    app = Flask("closedloop.webhooks")
    # Declared lengths over the cap are refused before reading; chunked bodies are cut off
    # while reading (closedloop.webhooks.http_io.read_body).
    app.config["MAX_CONTENT_LENGTH"] = settings.webhooks.max_body_bytes
    app.extensions["closedloop.services"] = services
    app.extensions["closedloop.settings"] = settings
    app.register_blueprint(hubspot_blueprint(settings))
    app.register_blueprint(salesforce_blueprint(settings))
    app.register_blueprint(health_blueprint())
    _install_error_handlers(app)
    _install_request_metrics(app)
    register_extensions(app, services)
    return app


def register_extensions(app: Flask, services: Services) -> None:
    """Register the blueprints of other closedloop parts on the listener.

    This is the one place to add them (the touchpoint collector's ``/collect`` and
    ``/collect.js`` go here); each gets ``services`` for the store and the clock.
    """
    settings: Settings = app.extensions["closedloop.settings"]
    if settings.collector.enabled:
        app.register_blueprint(collector_blueprint(settings, services.store, clock=services.clock))


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(SignatureError)
    def unauthenticated(exc: SignatureError) -> Response:
        log.warning("refused %s: %s", request.path, exc.reason)
        return error_response(401, "unauthorized")

    @app.errorhandler(PayloadError)
    def malformed(exc: PayloadError) -> Response:
        status = 413 if exc.too_large else 400
        log.info("refused %s (%d): %s", request.path, status, exc.reason)
        return error_response(status, exc.reason)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 400
        if status >= 500:
            return error_response(503, "temporarily unavailable; try again")
        reason = (exc.name or "bad request").lower()
        if status == 413:
            reason = "body too large"
        return error_response(status, reason)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.error("unexpected %s on %s; answered 503", type(exc).__name__, request.path)
        return error_response(503, "temporarily unavailable; try again")


def _install_request_metrics(app: Flask) -> None:
    @app.before_request
    def start_timer() -> None:
        g.closedloop_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        rule = request.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"
        metrics = current_services().metrics
        metrics.inc(
            "closedloop_webhook_requests_total", endpoint=endpoint, status=str(response.status_code)
        )
        started = g.get("closedloop_started")
        if started is not None:
            metrics.observe(
                "closedloop_webhook_request_seconds",
                time.perf_counter() - started,
                endpoint=endpoint,
            )
        return response
