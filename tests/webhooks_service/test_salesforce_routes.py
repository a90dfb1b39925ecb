"""The Salesforce routes over real HTTP: Outbound Message ACKs and faults, Apex and Flow auth."""

from __future__ import annotations

import json
import time
from typing import Any

import defusedxml.ElementTree
import pytest
from webhook_support import (
    DATA,
    FLOW_TOKEN,
    ORG_ID,
    WHSEC_NEW,
    WHSEC_OLD,
    ListenerFactory,
    standard_headers,
)

MESSAGE = (DATA / "salesforce_outbound_message.xml").read_bytes()
ACK = (DATA / "salesforce_outbound_ack.xml").read_bytes()
OUTBOUND = "/webhooks/salesforce/outbound-message"
EVENTS = "/webhooks/salesforce/events"
SOAP_FAULT = "{http://schemas.xmlsoap.org/soap/envelope/}Fault"


def _fault(answer: Any) -> str:
    root = defusedxml.ElementTree.fromstring(answer.content)
    fault = root.find(f".//{SOAP_FAULT}")
    assert fault is not None
    return str(fault.findtext("faultstring"))


def test_outbound_message_gets_exactly_the_ack_after_storing(listener: ListenerFactory) -> None:
    run = listener(record_deals=True)
    answer = run.post(OUTBOUND, MESSAGE, {"Content-Type": "text/xml; charset=utf-8"})
    assert answer.status_code == 200
    assert answer.content == ACK
    assert answer.headers["Content-Type"] == "text/xml; charset=utf-8"
    rows = run.rows()
    assert rows
    assert {(r.system, r.object_type) for r in rows} == {("salesforce", "Opportunity")}
    assert all(r.payload["organization_id"] == ORG_ID for r in rows)
    assert run.post(OUTBOUND, MESSAGE, {"Content-Type": "text/xml"}).content == ACK
    assert len(run.rows()) == len(rows)
    run.worker.process_once()
    ids = list(dict.fromkeys(r.record_id for r in rows))
    assert run.calls == [("salesforce", "Opportunity", ids)]


def test_outbound_message_from_another_org_is_refused_with_a_fault(
    listener: ListenerFactory,
) -> None:
    run = listener(organization_id="00D000000000009AAA")
    answer = run.post(OUTBOUND, MESSAGE, {"Content-Type": "text/xml"})
    assert answer.status_code == 401
    assert _fault(answer) == "unauthorized"
    assert run.rows() == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol3;</soapenv:Body></soapenv:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&xxe;</soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<notxml",
        b"{}",
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        MESSAGE.replace(b"<OrganizationId>", b"<Other>", 1),
    ],
    ids=["empty", "malformed", "json", "billion-laughs", "external-entity", "wrong-shape"],
)
def test_bad_outbound_messages_get_a_400_fault(body: bytes, listener: ListenerFactory) -> None:
    run = listener()
    answer = run.post(OUTBOUND, body, {"Content-Type": "text/xml"})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("text/xml")
    assert _fault(answer)
    assert b"root:" not in answer.content
    assert run.rows() == []


def _change(n: int) -> dict[str, Any]:
    return {"object": "Lead", "id": f"00Q00000000000{n}AAA"[:18], "changed_fields": ["Phone"]}


def test_standard_webhooks_accept_either_secret_during_rotation(listener: ListenerFactory) -> None:
    run = listener()
    body = json.dumps({"events": [_change(1), _change(2)]}).encode()
    for n, secret in enumerate((WHSEC_OLD, WHSEC_NEW)):
        answer = run.post(EVENTS, body, standard_headers(body, secret=secret, msg_id=f"msg_{n}"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["new"] == 2
    retried = run.post(EVENTS, body, standard_headers(body, secret=WHSEC_NEW, msg_id="msg_1"))
    assert retried.json()["duplicates"] == 2
    other = "whsec_" + "c2VjcmV0IG9mIHNvbWVib2R5IGVsc2U="
    assert run.post(EVENTS, body, standard_headers(body, secret=other)).status_code == 401
    stale = standard_headers(body, timestamp_s=int(time.time()) - 301)
    assert run.post(EVENTS, body, stale).status_code == 401
    future = standard_headers(body, timestamp_s=int(time.time()) + 301)
    assert run.post(EVENTS, body, future).status_code == 401
    assert len(run.rows()) == 4


def test_flow_callouts_need_their_shared_secret(listener: ListenerFactory) -> None:
    run = listener()
    body = json.dumps(_change(3) | {"occurred_at": "2026-01-05T10:00:00Z"}).encode()
    assert run.post(EVENTS, body, {"X-ClosedLoop-Token": "wrong"}).status_code == 401
    assert run.post(EVENTS, body, {}).status_code == 401
    answer = run.post(EVENTS, body, {"X-ClosedLoop-Token": FLOW_TOKEN})
    assert answer.status_code == 200
    assert run.post(EVENTS, body, {"X-ClosedLoop-Token": FLOW_TOKEN}).json()["duplicates"] == 1
    (row,) = run.rows()
    assert row.event_type == "flow:lead_flow:updated"
    assert row.payload["changed_fields"] == ["Phone"]


def test_change_events_are_validated_one_by_one(listener: ListenerFactory) -> None:
    run = listener()
    body = json.dumps({"events": [_change(4), {"object": "Lead", "id": "short"}, 7]}).encode()
    answer = run.post(EVENTS, body, {"X-ClosedLoop-Token": FLOW_TOKEN})
    assert answer.status_code == 200
    assert [r["index"] for r in answer.json()["rejected"]] == [1, 2]
    assert len(run.rows()) == 1
