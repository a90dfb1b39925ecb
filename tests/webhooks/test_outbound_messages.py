"""Salesforce Outbound Messages: parsing, XML attacks, org-id checks, ACK and fault envelopes."""

from __future__ import annotations

from pathlib import Path

import defusedxml.ElementTree
import pytest

from closedloop.webhooks.errors import PayloadError, SignatureError
from closedloop.webhooks.outbound_messages import (
    ACK_CONTENT_TYPE,
    ack_envelope,
    fault_envelope,
    org_ids_match,
    parse_outbound_message,
    verify_organization_id,
)

DATA = Path(__file__).parent / "data"
MESSAGE = (DATA / "salesforce_outbound_message.xml").read_bytes()
ACK = (DATA / "salesforce_outbound_ack.xml").read_bytes()
ORG = "00D000000000001AAA"
# Real-shaped ids whose last three characters are the correct case checksum.
ORG_15, ORG_18 = "00D5g000004XyZa", "00D5g000004XyZaEAK"


def test_fixture_parses() -> None:
    message = parse_outbound_message(MESSAGE)
    assert message.organization_id == ORG
    assert message.action_id == "04k000000000001AAA"
    assert message.has_session_id is False
    assert message.enterprise_url.endswith("/services/Soap/c/59.0/00D000000000001")
    assert message.partner_url.endswith("/services/Soap/u/59.0/00D000000000001")
    first, second = message.notifications
    assert (first.notification_id, first.sobject_type, first.record_id) == (
        "04l000000000001AAA",
        "Opportunity",
        "006000000000001AAA",
    )
    assert dict(first.fields) == {
        "AccountId": "001000000000001AAA",
        "Amount": "50000.0",
        "CloseDate": "2026-06-30",
        "IsClosed": "true",
        "IsWon": "true",
        "LeadSource": "Web",
        "StageName": "Closed Won",
    }
    assert second.fields["LeadSource"] == "Partner Referral"
    assert "Partner" not in repr(second)


def test_session_id_presence_and_nil_fields() -> None:
    body = MESSAGE.replace(b'<SessionId xsi:nil="true"/>', b"<SessionId>00Dx!AQ.secret</SessionId>")
    body = body.replace(
        b"<sf:LeadSource>Web</sf:LeadSource>", b'<sf:LeadSource xsi:nil="true"/><sf:Name></sf:Name>'
    )
    message = parse_outbound_message(body)
    assert message.has_session_id is True
    assert "secret" not in repr(message)
    fields = message.notifications[0].fields
    assert fields["LeadSource"] is None
    assert fields["Name"] == ""
    assert "Description" not in fields


def test_ack_is_the_fixture_byte_for_byte() -> None:
    assert ack_envelope() == ACK
    assert ACK_CONTENT_TYPE == "text/xml; charset=utf-8"
    root = defusedxml.ElementTree.fromstring(ack_envelope())
    ack = root.find(".//{http://soap.sforce.com/2005/09/outbound}Ack")
    assert ack is not None
    assert ack.text == "true"


@pytest.mark.parametrize(
    "reason", ["bad <xml> & 'quotes'", "nul\x00 and \ud800 and \x1b", "x" * 500]
)
def test_fault_envelope_is_well_formed(reason: str) -> None:
    body = fault_envelope(reason)
    root = defusedxml.ElementTree.fromstring(body)
    assert root.findtext(".//faultcode") == "soapenv:Client"
    text = root.findtext(".//faultstring")
    assert text is not None
    assert len(text) <= 200
    assert "\x00" not in text
    assert b"soapenv:Server" in fault_envelope("x", code="Server")


BOMBS = {
    "billion laughs": b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><lolz>&lol3;</lolz>""",
    "external entity": b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>""",
    "external dtd": b"""<?xml version="1.0"?>
<!DOCTYPE foo SYSTEM "http://attacker.example/x.dtd"><foo/>""",
    "bare doctype": b"<!DOCTYPE soapenv:Envelope>" + MESSAGE.split(b"-->", 1)[1],
    "parameter entity": b"""<!DOCTYPE d [<!ENTITY % p SYSTEM "http://x/"> %p;]><d/>""",
}


@pytest.mark.parametrize("body", BOMBS.values(), ids=BOMBS.keys())
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(PayloadError, match="not acceptable XML"):
        parse_outbound_message(body)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"schemas.xmlsoap.org/soap/envelope/", b"www.w3.org/2003/05/soap-envelope", "SOAP 1.1"),
        (b"<OrganizationId>00D000000000001AAA", b"<OrganizationId>00D00000000000", "Organization"),
        (b"<ActionId>04k000000000001AAA</ActionId>", b"", "ActionId"),
        (b'<SessionId xsi:nil="true"/>', b"", "SessionId"),
        (b"<PartnerUrl>https://", b"<PartnerUrl>javascript:", "PartnerUrl"),
        (b'xsi:type="sf:Opportunity"', b'xsi:type="sf:"', "xsi:type"),
        (b"<sf:Id>006000000000001AAA</sf:Id>", b"", "sObject Id"),
        (
            b"<sf:Amount>50000.0</sf:Amount>",
            b"<sf:Amount>1</sf:Amount><sf:Amount>2</sf:Amount>",
            "repeated",
        ),
        (b"<sf:Amount>50000.0</sf:Amount>", b"<sf:Amount><sf:X/></sf:Amount>", "nested"),
        (b"<sf:Amount>50000.0</sf:Amount>", b"<Amount>1</Amount>", "foreign"),
        (b"<Id>04l000000000001AAA</Id>", b"<Id>04l-00000000001AAA</Id>", "Id is missing"),
        (b"</notifications>", b"</notifications><notifications/>", "exactly one notifications"),
        (b"</soapenv:Body>", b"</soapenv:Body", "not acceptable XML"),
    ],
)
def test_malformed_messages(old: bytes, new: bytes, reason: str) -> None:
    assert old in MESSAGE
    with pytest.raises(PayloadError, match=reason):
        parse_outbound_message(MESSAGE.replace(old, new, 1))


def test_notification_count_limits() -> None:
    head, rest = MESSAGE.split(b"<Notification>", 1)
    one = b"<Notification>" + rest.split(b"</Notification>", 1)[0] + b"</Notification>"
    tail = MESSAGE.rsplit(b"</Notification>", 1)[1]
    assert len(parse_outbound_message(head + one * 100 + tail).notifications) == 100
    with pytest.raises(PayloadError, match="1 to 100"):
        parse_outbound_message(head + one * 101 + tail)
    with pytest.raises(PayloadError, match="1 to 100"):
        parse_outbound_message(head + tail)


def test_size_limit_type_and_encodings() -> None:
    with pytest.raises(PayloadError, match="too large") as caught:
        parse_outbound_message(MESSAGE, max_bytes=100)
    assert caught.value.too_large
    with pytest.raises(PayloadError, match="must be bytes"):
        parse_outbound_message(MESSAGE.decode())  # type: ignore[arg-type]
    utf16 = MESSAGE.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert parse_outbound_message(utf16).organization_id == ORG
    with pytest.raises(PayloadError):
        parse_outbound_message(MESSAGE.replace(b'encoding="UTF-8"', b'encoding="x-nope"'))


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (ORG, ORG, True),
        (ORG, ORG.lower(), True),
        (ORG, "00D000000000001", True),  # the fixture's suffix is not a real checksum
        (ORG_18, ORG_15, True),
        (ORG_18.upper(), ORG_15, True),  # case lost from an 18-char id, restored by its suffix
        (ORG_18.lower(), ORG_18, True),
        (ORG_15, ORG_15.lower(), False),  # 15-char ids are case-sensitive
        (ORG_15.upper(), ORG_18, False),
        ("00D5g000004XyZb", ORG_18, False),
        ("00D5g000004XyZaEAL", ORG_18, False),
        (ORG_18 + "0", ORG_18, False),
        ("", ORG_18, False),
        ("00D5g000004XyZ!", "00D5g000004XyZ!", False),
    ],
)
def test_org_id_forms(first: str, second: str, same: bool) -> None:
    assert org_ids_match(first, second) is same
    assert org_ids_match(second, first) is same


def test_verify_organization_id() -> None:
    message = parse_outbound_message(MESSAGE)
    verify_organization_id(message, expected=ORG)
    verify_organization_id(message, expected="00D000000000001")
    with pytest.raises(SignatureError, match="does not match"):
        verify_organization_id(message, expected="00D000000000002AAA")
    with pytest.raises(SignatureError, match="no valid Salesforce organization id"):
        verify_organization_id(message, expected="")
    with pytest.raises(SignatureError, match="not an outbound message"):
        verify_organization_id(MESSAGE, expected=ORG)  # type: ignore[arg-type]


def test_comments_processing_instructions_and_single_byte_encodings_are_harmless() -> None:
    body = MESSAGE.replace(b"<sf:Amount>", b"<!-- c --><?pi x?><sf:Amount>", 1)
    body = body.replace(b"<Notification>", b"<!-- n --><Notification>", 1)
    assert parse_outbound_message(body).notifications[0].fields["Amount"] == "50000.0"
    latin = MESSAGE.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    fields = parse_outbound_message(latin.replace(b"Web<", b"W\xe9b<")).notifications[0].fields
    assert fields["LeadSource"] == "W\u00e9b"
