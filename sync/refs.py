"""Naming the records a person stands behind: record references as text, emails, visitor ids.

Helpers of :mod:`closedloop.sync.identity` (which re-exports them): parse what an operator
types (``closedloop explain salesforce:00Q...``), normalise emails before they are compared,
and name an anonymous visitor id as a :class:`~closedloop.sync.model.RecordRef`.
"""

from __future__ import annotations

from closedloop.sync.model import RecordRef

__all__ = ["VISITOR", "normalise_email", "parse_ref", "visitor_ref"]

VISITOR = "visitor"
_DEFAULT_OBJECT = {"hubspot": "contacts", VISITOR: "anonymous"}
_SALESFORCE_PREFIXES = {"00Q": "Lead", "003": "Contact", "006": "Opportunity", "001": "Account"}


def visitor_ref(visitor_id: str) -> RecordRef:
    """The ref of an anonymous visitor id (a first-party cookie, a marketing-tool user token)."""
    return RecordRef(VISITOR, "anonymous", visitor_id)


def normalise_email(email: str | None) -> str | None:
    """An email trimmed and lower-cased; None when empty."""
    text = (email or "").strip().lower()
    return text or None


def parse_ref(text: str) -> RecordRef:
    """Parse ``system:object:id`` or ``system:id``.

    Two parts: HubSpot means contacts, a visitor means an anonymous id, and a Salesforce id's
    key prefix names its object (``00Q`` Lead, ``003`` Contact, ``006`` Opportunity).

    Raises:
        ValueError: the text is neither form, or the object cannot be inferred.
    """
    parts = [part.strip() for part in text.strip().split(":", 2)]
    if len(parts) == 3 and all(parts):
        return RecordRef(parts[0].lower(), parts[1], parts[2])
    if len(parts) == 2 and all(parts):
        system, record_id = parts[0].lower(), parts[1]
        object_type = _DEFAULT_OBJECT.get(system)
        if system == "salesforce":
            object_type = _SALESFORCE_PREFIXES.get(record_id[:3])
        if object_type is not None:
            return RecordRef(system, object_type, record_id)
    raise ValueError(f"not a record reference: {text!r} (use system:object:id)")
