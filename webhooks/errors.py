"""Errors raised by the webhook verification and parsing functions.

Every function in :mod:`closedloop.webhooks` that looks at a request raises exactly one of the
two leaf types below, whatever the input (wrong types, random bytes, hostile XML, huge bodies).
The listener maps them to HTTP answers without looking further::

    ClosedLoopError
    └── WebhookError          never raised itself; catch it to handle both leaves at once
        ├── SignatureError    the sender is not authenticated (bad or missing signature, stale
        │                     or future timestamp, wrong token, wrong Salesforce org id,
        │                     legacy scheme not enabled) -> 401 with an empty body
        └── PayloadError      the body is malformed (not JSON / XML, wrong shape, too large,
                              forbidden DTD or entity) -> 400 (a SOAP fault for Salesforce)

``reason`` is a short, fixed English phrase meant for logs and metrics. It never contains a
secret, an expected signature, a header value or any part of the body, so it is always safe to
log; the listener still should not send it back on a 401 (OWASP: no explanation to the caller).
"""

from __future__ import annotations

from closedloop.runtime.errors import ClosedLoopError

__all__ = ["PayloadError", "SignatureError", "WebhookError"]


class WebhookError(ClosedLoopError):
    """Base of the errors raised while verifying or parsing an inbound webhook request.

    Attributes:
        reason: a short phrase saying what was wrong, safe to log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r})"


class SignatureError(WebhookError):
    """The request could not be authenticated; answer 401 and do not process it.

    Raised for a missing, malformed or non-matching signature, a timestamp outside the replay
    window, a legacy (replayable) HubSpot scheme that was not explicitly enabled, a wrong shared
    secret, a Salesforce ``OrganizationId`` other than the configured one, and for unusable
    verifier arguments (no secret configured, an invalid ``whsec_`` value, a bad base URL):
    failing closed is the safe answer to a misconfiguration too.
    """


class PayloadError(WebhookError):
    """The request body is malformed or too large; answer 400 (or 413 for ``too large``).

    A HubSpot batch raises this only when the batch as a whole is unusable (not a JSON array,
    more than 100 events, over the size limit). A single bad event inside a good batch is
    reported as an :class:`~closedloop.webhooks.hubspot_events.EventRejection` instead, so its
    batch-mates are still accepted.

    Attributes:
        too_large: true when the body exceeded the size limit (the listener may answer 413).
    """

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.too_large = too_large
