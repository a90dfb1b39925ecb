"""The Outbound Message wire format: the ``notifications`` SOAP envelope and its ACK.

The envelope follows the outbound-messaging WSDL (namespace
``http://soap.sforce.com/2005/09/outbound``): ``OrganizationId``, ``ActionId``, ``SessionId``
(``xsi:nil`` unless the session id is sent), ``EnterpriseUrl``, ``PartnerUrl``, then 1 to 100
``Notification`` elements, each an ``Id`` and an ``sObject`` of ``xsi:type="sf:<Object>"``
holding ``sf:Id`` and the selected fields that have a value. The listener must answer 200
with ``notificationsResponse/Ack`` = ``true``; anything else is a failed delivery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"


@dataclass(frozen=True)
class EnvelopeNotification:
    """One ``Notification``: its id, the object type and the field values to send."""

    notification_id: str
    sobject: str
    values: Mapping[str, Any]


def soap_value(value: Any) -> str:
    """A stored value as SOAP text (``true``/``false``, ``50000.0``, ``…T10:00:00.000Z``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(float(value)) if isinstance(value, float) else str(value)
    text = str(value)
    if len(text) == 28 and text.endswith("+0000") and text[10] == "T":
        return text[:-5] + "Z"
    return text


def build_envelope(
    *,
    organization_id: str,
    action_id: str,
    session_id: str | None,
    enterprise_url: str,
    partner_url: str,
    notifications: Sequence[EnvelopeNotification],
) -> str:
    """The ``notifications`` SOAP envelope for up to 100 notifications.

    Raises:
        ValueError: when there are no notifications or more than 100.
    """
    if not 1 <= len(notifications) <= 100:
        raise ValueError("an outbound message carries 1 to 100 notifications")
    session = (
        f"<SessionId>{escape(session_id)}</SessionId>"
        if session_id
        else '<SessionId xsi:nil="true"/>'
    )
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        "<soapenv:Body>",
        f'<notifications xmlns="{OUTBOUND_NS}">',
        f"<OrganizationId>{organization_id}</OrganizationId>",
        f"<ActionId>{action_id}</ActionId>",
        session,
        f"<EnterpriseUrl>{escape(enterprise_url)}</EnterpriseUrl>",
        f"<PartnerUrl>{escape(partner_url)}</PartnerUrl>",
    ]
    for notification in notifications:
        parts.append(f"<Notification><Id>{notification.notification_id}</Id>")
        parts.append(f'<sObject xsi:type="sf:{notification.sobject}" xmlns:sf="{SOBJECT_NS}">')
        parts.append(f"<sf:Id>{notification.values['Id']}</sf:Id>")
        for name, value in notification.values.items():
            if name != "Id" and value is not None:
                parts.append(f"<sf:{name}>{escape(soap_value(value))}</sf:{name}>")
        parts.append("</sObject></Notification>")
    parts.append("</notifications></soapenv:Body></soapenv:Envelope>")
    return "".join(parts)


def is_ack(status: int, body: bytes) -> bool:
    """Whether a listener reply is the ACK: HTTP 200 and ``notificationsResponse/Ack`` true."""
    if status != 200:
        return False
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException):
        return False
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        return False
    ack = root.find(
        f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notificationsResponse/{{{OUTBOUND_NS}}}Ack"
    )
    return ack is not None and (ack.text or "").strip() == "true"
