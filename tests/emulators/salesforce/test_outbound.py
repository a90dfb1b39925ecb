"""Outbound Messages: the SOAP envelope, retries with back-off until the exact ACK, and drops."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree
from flask import Flask, Response, request
from simple_salesforce import Salesforce

from closedloop.emulators.clock import EmulatorClock
from closedloop.emulators.salesforce import SalesforceEmulator, create_emulator
from closedloop.emulators.server import RunningServer

FIXTURES = Path(__file__).with_name("fixtures")
ACK = (FIXTURES / "salesforce_outbound_ack.xml").read_bytes()
OUT = "{http://soap.sforce.com/2005/09/outbound}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
SF = "{urn:sobject.enterprise.soap.sforce.com}"


class Receiver:
    """A tiny listener: fails ``failures`` times (500, then a wrong ACK), then ACKs."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.bodies: list[bytes] = []
        self.app = Flask("receiver")
        self.app.add_url_rule("/om", "om", self.handle, methods=["POST"])

    def handle(self) -> Response:
        self.bodies.append(request.get_data())
        assert request.content_type == "text/xml; charset=utf-8"
        if len(self.bodies) == 1 and self.failures:
            return Response("boom", status=500)
        if len(self.bodies) <= self.failures:
            return Response(ACK.replace(b"true", b"false"), mimetype="text/xml")
        return Response(ACK, mimetype="text/xml")


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    listener = Receiver(failures=2)
    with RunningServer(listener.app) as running:
        yield listener, f"{running.url}/om"


def _shape(element: Any) -> list[str]:
    return [child.tag for child in element]


def test_envelope_shape_and_retries_until_ack(
    sf: Salesforce,
    admin: Callable[..., Any],
    clock: EmulatorClock,
    receiver: tuple[Receiver, str],
    emulator: SalesforceEmulator,
) -> None:
    listener, url = receiver
    admin(
        "post",
        "outbound-messages",
        {
            "object": "Opportunity",
            "condition": "StageName changed",
            "fields": [
                "AccountId",
                "Amount",
                "CloseDate",
                "IsClosed",
                "IsWon",
                "LeadSource",
                "StageName",
            ],
            "endpoint": url,
            "action_id": "04k000000000001AAA",
        },
    )
    account = sf.Account.create({"Name": "Acme"})["id"]
    deal = sf.Opportunity.create(
        {
            "Name": "D",
            "StageName": "Prospecting",
            "CloseDate": "2026-06-30",
            "Amount": 50000,
            "AccountId": account,
            "LeadSource": "Web",
        }
    )["id"]
    assert admin("post", "outbound-messages/flush")["sent"] == 0  # creation is not a stage change
    sf.Opportunity.update(deal, {"StageName": "Closed Won"})

    assert admin("post", "outbound-messages/flush") == {"sent": 1, "acknowledged": 0, "dropped": 0}
    assert admin("post", "outbound-messages/flush")["sent"] == 0  # waiting for the back-off
    clock.advance(15)
    assert admin("post", "outbound-messages/flush") == {"sent": 1, "acknowledged": 0, "dropped": 0}
    clock.advance(29)
    assert admin("post", "outbound-messages/flush")["sent"] == 0  # second interval is 30 s
    clock.advance(1)
    assert admin("post", "outbound-messages/flush") == {"sent": 1, "acknowledged": 1, "dropped": 0}
    assert admin("get", "outbound-messages")["pending"] == []

    fixture = ElementTree.fromstring((FIXTURES / "salesforce_outbound_message.xml").read_bytes())
    sent = ElementTree.fromstring(listener.bodies[-1])
    expected = fixture.find(f".//{OUT}notifications")
    notifications = sent.find(f".//{OUT}notifications")
    assert notifications is not None
    assert expected is not None
    assert _shape(notifications)[:5] == _shape(expected)[:5]
    assert notifications.find(f"{OUT}OrganizationId").text == emulator.org.org_id
    assert notifications.find(f"{OUT}ActionId").text == "04k000000000001AAA"
    assert notifications.find(f"{OUT}SessionId").get(f"{XSI}nil") == "true"
    [note] = notifications.findall(f"{OUT}Notification")
    assert len(note.find(f"{OUT}Id").text) == 18
    sobject = note.find(f"{OUT}sObject")
    assert sobject.get(f"{XSI}type") == "sf:Opportunity"
    expected_fields = _shape(expected.find(f"{OUT}Notification/{OUT}sObject"))
    assert _shape(sobject) == expected_fields
    values = {child.tag.removeprefix(SF): child.text for child in sobject}
    assert values == {
        "Id": deal,
        "AccountId": account,
        "Amount": "50000.0",
        "CloseDate": "2026-06-30",
        "IsClosed": "true",
        "IsWon": "true",
        "LeadSource": "Web",
        "StageName": "Closed Won",
    }
    assert len(listener.bodies) == 3


def test_undelivered_messages_are_dropped_after_24_hours(
    sf: Salesforce, admin: Callable[..., Any], clock: EmulatorClock
) -> None:
    admin(
        "post",
        "outbound-messages",
        {
            "object": "Lead",
            "condition": "created",
            "fields": ["Company"],
            "endpoint": "http://127.0.0.1:9/unreachable",
        },
    )
    for i in range(3):
        sf.Lead.create({"LastName": f"L{i}", "Company": "C"})
    first = admin("post", "outbound-messages/flush")
    assert first == {"sent": 1, "acknowledged": 0, "dropped": 0}  # three notifications, one message
    intervals = []
    while admin("get", "outbound-messages")["pending"]:
        pending = admin("get", "outbound-messages")["pending"][0]
        intervals.append(pending["next_attempt"] - clock.timestamp())
        clock.set(clock.now().fromtimestamp(pending["next_attempt"], tz=clock.now().tzinfo))
        admin("post", "outbound-messages/flush")
    assert max(intervals) == pytest.approx(7200, abs=1)
    assert len(admin("get", "outbound-messages")["dropped"]) == 3


def test_background_thread_delivers(clock: EmulatorClock) -> None:
    listener = Receiver(failures=0)
    emu = create_emulator(clock=clock, outbound_poll_interval=0.05)
    try:
        with RunningServer(listener.app) as target:
            emu.outbound.configure(
                {
                    "object": "Lead",
                    "condition": "created",
                    "fields": ["LastName"],
                    "endpoint": f"{target.url}/om",
                }
            )
            with emu.lock:
                emu.org.writer.create(
                    emu.org.schema.objects["lead"], {"LastName": "T", "Company": "C"}
                )
            deadline = time.monotonic() + 5
            while not listener.bodies and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(listener.bodies) == 1
    finally:
        emu.close()
