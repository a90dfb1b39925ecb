"""Salesforce Outbound Messages: parse the SOAP envelope, check the org id, build the answers.

Outbound Messages carry no signature. The listener authenticates them with TLS plus
:func:`verify_organization_id` on every message (and, optionally, a URL token checked with
:func:`closedloop.webhooks.signatures.verify_token`), stores ``(OrganizationId, Notification Id,
sObject)``, then answers HTTP 200 with :func:`ack_envelope`. A malformed body gets HTTP 400 with
:func:`fault_envelope`; Salesforce retries anything but a 200 carrying ``<Ack>true</Ack>`` for
up to 24 hours.

Parsing goes through :mod:`defusedxml` with DTDs forbidden outright, so entity-expansion bombs
(billion laughs, quadratic blow-up), external entities and external DTDs are refused before any
expansion happens; Salesforce never sends a DOCTYPE. Every failure raises
:class:`~closedloop.webhooks.errors.PayloadError`.

The ACK: Salesforce reads the SOAP response as XML, so only its infoset matters (namespace
``http://soap.sforce.com/2005/09/outbound``, element ``notificationsResponse`` holding
``<Ack>true</Ack>``); whitespace between elements is insignificant to it. :func:`ack_envelope`
nevertheless returns one fixed byte string, identical to the project fixture, so the answer is
deterministic and testable byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring

from closedloop.webhooks.errors import PayloadError, SignatureError

__all__ = [
    "ACK_CONTENT_TYPE",
    "DEFAULT_MAX_BYTES",
    "MAX_NOTIFICATIONS",
    "OutboundMessage",
    "OutboundNotification",
    "ack_envelope",
    "fault_envelope",
    "org_ids_match",
    "parse_outbound_message",
    "verify_organization_id",
]

ACK_CONTENT_TYPE = "text/xml; charset=utf-8"
DEFAULT_MAX_BYTES = 1_048_576
MAX_NOTIFICATIONS = 100

_SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
_OM = "{http://soap.sforce.com/2005/09/outbound}"
_SF = "{urn:sobject.enterprise.soap.sforce.com}"
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_ID18 = re.compile(r"[A-Za-z0-9]{18}")
_ANY_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_OBJECT = re.compile(r"(?:[A-Za-z_][\w.-]*:)?([A-Za-z][A-Za-z0-9_]*)")
_URL = re.compile(r"https?://[!-~]+")
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ENVELOPE_OPEN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
)
_ENVELOPE_CLOSE = b"</soapenv:Body></soapenv:Envelope>\n"
_ACK = (
    _ENVELOPE_OPEN
    + b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    + b"</notificationsResponse>"
    + _ENVELOPE_CLOSE
)


@dataclass(frozen=True)
class OutboundNotification:
    """One ``Notification``: its id (the dedupe key) and the sObject as sent.

    ``fields`` maps each selected field other than ``Id`` to its text, or ``None`` when sent as
    ``xsi:nil``. A field missing from the mapping is *unknown* (not selected, or unreadable for
    the sending user), never null.
    """

    notification_id: str
    sobject_type: str
    record_id: str
    fields: Mapping[str, str | None] = field(repr=False)


@dataclass(frozen=True)
class OutboundMessage:
    """The ``notifications`` element. The session id itself is never kept, only whether it came."""

    organization_id: str
    action_id: str
    has_session_id: bool
    enterprise_url: str
    partner_url: str
    notifications: tuple[OutboundNotification, ...]


def _nil(element: Element) -> bool:
    return element.get(f"{_XSI}nil") in ("true", "1")


def _one(parent: Element, tag: str, name: str) -> Element:
    found = parent.findall(tag)
    if len(found) != 1:
        raise PayloadError(f"expected exactly one {name} element")
    return found[0]


def _text(parent: Element, tag: str, pattern: re.Pattern[str]) -> str:
    name = tag.rpartition("}")[2]
    value = (_one(parent, tag, name).text or "").strip()
    if not pattern.fullmatch(value):
        raise PayloadError(f"{name} is missing or malformed")
    return value


def _notification(element: Element) -> OutboundNotification:
    notification_id = _text(element, f"{_OM}Id", _ID18)
    sobject = _one(element, f"{_OM}sObject", "sObject")
    kind = _OBJECT.fullmatch(sobject.get(f"{_XSI}type") or "")
    if kind is None:
        raise PayloadError("sObject has no usable xsi:type")
    values: dict[str, str | None] = {}
    for child in sobject:
        name = child.tag.rpartition("}")[2] if child.tag.startswith(_SF) else ""
        if not name or name in values or len(child):
            raise PayloadError("sObject holds a foreign, repeated or nested field")
        values[name] = None if _nil(child) else (child.text or "")
    record_id = values.pop("Id", None)
    if record_id is None or not _ID18.fullmatch(record_id.strip()):
        raise PayloadError("sObject Id is missing or malformed")
    return OutboundNotification(
        notification_id, kind.group(1), record_id.strip(), MappingProxyType(values)
    )


def parse_outbound_message(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> OutboundMessage:
    """Parse a Salesforce Outbound Message SOAP envelope.

    Args:
        body: the raw request body (``text/xml``), exactly as received.
        max_bytes: refuse larger bodies before parsing them.

    Returns:
        The message: org and action ids, whether a session id was sent, the API URLs, and 1-100
        notifications in document order.

    Raises:
        PayloadError: not bytes, too large, not well-formed XML, a DTD or entity declaration,
            or not the outbound-messaging shape (``too_large`` set for the size limit).
    """
    if not isinstance(body, (bytes, bytearray)):
        raise PayloadError("body must be bytes")
    if len(body) > max_bytes:
        raise PayloadError("body too large", too_large=True)
    try:
        root = fromstring(bytes(body), forbid_dtd=True)
    except (ParseError, ValueError, LookupError):  # DefusedXmlException is a ValueError
        raise PayloadError("body is not acceptable XML (malformed, DTD or entities)") from None
    if root.tag != f"{_SOAP}Envelope":
        raise PayloadError("root element is not a SOAP 1.1 Envelope")
    payload = list(_one(root, f"{_SOAP}Body", "Body"))
    if len(payload) != 1 or payload[0].tag != f"{_OM}notifications":
        raise PayloadError("expected exactly one notifications element in the SOAP Body")
    notifications = payload[0]
    session = _one(notifications, f"{_OM}SessionId", "SessionId")
    items = tuple(_notification(n) for n in notifications.findall(f"{_OM}Notification"))
    if not 1 <= len(items) <= MAX_NOTIFICATIONS:
        raise PayloadError(f"expected 1 to {MAX_NOTIFICATIONS} Notification elements")
    return OutboundMessage(
        organization_id=_text(notifications, f"{_OM}OrganizationId", _ID18),
        action_id=_text(notifications, f"{_OM}ActionId", _ID18),
        has_session_id=not _nil(session) and bool((session.text or "").strip()),
        enterprise_url=_text(notifications, f"{_OM}EnterpriseUrl", _URL),
        partner_url=_text(notifications, f"{_OM}PartnerUrl", _URL),
        notifications=items,
    )


def _checksum(id15: str) -> str:
    chunks = (id15[start : start + 5] for start in (0, 5, 10))
    bits = (sum(1 << i for i, char in enumerate(chunk) if char.isupper()) for chunk in chunks)
    return "".join(_CHECKSUM_ALPHABET[value] for value in bits)


def _restore_case(id18: str) -> str | None:
    restored = []
    for position, char in enumerate(id18[:15]):
        bits = _CHECKSUM_ALPHABET.find(id18[15 + position // 5].upper())
        upper = bool(bits >> (position % 5) & 1)
        if bits < 0 or (upper and not char.isalpha()):
            return None
        restored.append(char.upper() if upper else char.lower())
    return "".join(restored)


def org_ids_match(first: str, second: str) -> bool:
    """Whether two Salesforce ids name the same record, in 15- or 18-character form.

    15-character ids are case-sensitive. 18-character ids are case-insensitive (their last three
    characters encode the case of the first 15), so two of them compare without case, and a
    15-character id matches an 18-character one whose first 15 characters equal it exactly or
    after restoring their case from the suffix. Anything else, malformed input included, is
    ``False``.
    """
    ids = [first, second]
    if not all(isinstance(value, str) and _ANY_ID.fullmatch(value) for value in ids):
        return False
    short, long_ = sorted(ids, key=len)
    if len(short) == len(long_):
        return short == long_ if len(short) == 15 else short.upper() == long_.upper()
    return long_[:15] == short or _restore_case(long_) == short


def verify_organization_id(message: OutboundMessage, *, expected: str) -> None:
    """Check that ``message`` comes from the configured org (15- or 18-character id).

    Raises:
        SignatureError: no usable org id is configured, or the message names another org.
    """
    if not isinstance(expected, str) or not _ANY_ID.fullmatch(expected):
        raise SignatureError("no valid Salesforce organization id configured")
    if not isinstance(message, OutboundMessage):
        raise SignatureError("not an outbound message")
    if not org_ids_match(message.organization_id, expected):
        raise SignatureError("OrganizationId does not match the configured org")


def ack_envelope() -> bytes:
    """The ``notificationsResponse`` ACK for every notification of a message (send with 200)."""
    return _ACK


def fault_envelope(reason: str, *, code: Literal["Client", "Server"] = "Client") -> bytes:
    """A SOAP 1.1 fault for a refused message (send with 400; Salesforce retries it).

    ``reason`` is cut to 200 characters; characters XML cannot carry become ``?``.
    """
    text = _NOT_XML_CHAR.sub("?", reason if isinstance(reason, str) else "invalid request")[:200]
    fault_code = "Server" if code == "Server" else "Client"
    fault = (
        f"<soapenv:Fault><faultcode>soapenv:{fault_code}</faultcode>"
        f"<faultstring>{escape(text)}</faultstring></soapenv:Fault>"
    )
    return _ENVELOPE_OPEN + fault.encode("utf-8") + _ENVELOPE_CLOSE
