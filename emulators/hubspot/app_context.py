"""Where route functions find the emulator's state: the Flask app's ``extensions``.

:class:`closedloop.emulators.hubspot.emulator.HubSpotEmulator` stores its portal, token
registry, rate limiter and webhook sender there, so the blueprints can be module-level.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from closedloop.emulators.hubspot.auth import TokenRegistry
from closedloop.emulators.hubspot.portal import Portal
from closedloop.emulators.hubspot.rate_limits import RateLimiter
from closedloop.emulators.hubspot.webhook_sender import WebhookSender

EXTENSION = "closedloop.emulators.hubspot"


def attach_state(
    app: Flask,
    *,
    portal: Portal,
    tokens: TokenRegistry,
    limiter: RateLimiter,
    sender: WebhookSender,
) -> None:
    """Make the emulator's state reachable from requests to ``app``."""
    app.extensions[EXTENSION] = {
        "portal": portal,
        "tokens": tokens,
        "limiter": limiter,
        "sender": sender,
    }


def _state() -> dict[str, Any]:
    state: dict[str, Any] = current_app.extensions[EXTENSION]
    return state


def current_portal() -> Portal:
    """The portal of the app serving the current request."""
    portal: Portal = _state()["portal"]
    return portal


def current_tokens() -> TokenRegistry:
    """The token registry of the app serving the current request."""
    tokens: TokenRegistry = _state()["tokens"]
    return tokens


def current_limiter() -> RateLimiter:
    """The rate limiter of the app serving the current request."""
    limiter: RateLimiter = _state()["limiter"]
    return limiter


def current_sender() -> WebhookSender:
    """The webhook sender of the app serving the current request."""
    sender: WebhookSender = _state()["sender"]
    return sender
