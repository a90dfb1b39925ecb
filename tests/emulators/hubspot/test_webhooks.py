"""Webhook deliveries: signed arrays of <= 100 events, retries on the emulator clock.

``receiver`` (conftest) is a real Flask app on another loopback port.
"""

from __future__ import annotations

from typing import Any

from hubspot import HubSpot
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    PublicMergeInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealInput
from hubspot.utils.signature import Signature
from hubspot.webhooks import SettingsChangeRequest, SubscriptionCreateRequest, ThrottlingSettings

from closedloop.emulators.hubspot import HubSpotEmulator

SECRET = "test-client-secret"


def subscribe(admin: Any, receiver: Any, *types: str, **settings: Any) -> None:
    subscriptions = []
    for kind in types:
        name, _, prop = kind.partition(":")
        subscriptions.append({"eventType": name, **({"propertyName": prop} if prop else {})})
    admin.post("webhooks", {"targetUrl": receiver.url, "subscriptions": subscriptions, **settings})


def create_contact(hs: HubSpot, email: str, **properties: str) -> str:
    return str(
        hs.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": email, **properties})
        ).id
    )


def test_creation_and_property_change_are_signed_v3_and_v1(
    hs: HubSpot, admin: Any, receiver: Any, emulator: HubSpotEmulator
) -> None:
    subscribe(admin, receiver, "contact.creation", "contact.propertyChange:firstname")
    contact_id = create_contact(hs, "hook@x.com", firstname="Hook")
    emulator.flush_webhooks()
    assert len(receiver.requests) == 1
    delivered = receiver.requests[0]
    headers, body = delivered["headers"], delivered["body"]
    assert headers["X-Hubspot-Request-Timestamp"] == str(emulator.clock.now_ms())
    expected_v3 = Signature.get_signature(
        SECRET, body, "v3", delivered["url"], "POST", headers["X-Hubspot-Request-Timestamp"]
    )
    assert headers["X-Hubspot-Signature-V3"] == expected_v3
    assert headers["X-Hubspot-Signature"] == Signature.get_signature(SECRET, body, "v1")
    events = {e["subscriptionType"]: e for e in delivered["json"]}
    assert events["contact.creation"]["objectId"] == int(contact_id)
    assert events["contact.creation"]["attemptNumber"] == 0
    assert events["contact.creation"]["changeSource"] == "INTEGRATION"
    change = events["contact.propertyChange"]
    assert (change["propertyName"], change["propertyValue"]) == ("firstname", "Hook")
    assert change["portalId"] == 62515
    assert change["appId"] == 1160452
    hs.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"city": "Oslo"})
    )
    emulator.flush_webhooks()
    assert len(receiver.requests) == 1, "city is not subscribed"


def test_failed_delivery_is_retried_when_the_clock_moves(
    hs: HubSpot, admin: Any, receiver: Any, emulator: HubSpotEmulator
) -> None:
    subscribe(admin, receiver, "contact.creation")
    receiver.statuses.extend([500])
    create_contact(hs, "retry@x.com")
    state = emulator.flush_webhooks()
    assert len(receiver.requests) == 1
    assert state["scheduled"] == 1
    emulator.flush_webhooks()
    assert len(receiver.requests) == 1, "no retry before the clock moves"
    emulator.clock.advance(76)
    emulator.flush_webhooks()
    assert [r["json"][0]["attemptNumber"] for r in receiver.requests] == [0, 1]
    log = admin.get("webhooks/deliveries")["deliveries"]
    assert [(d["status"], d["succeeded"]) for d in log] == [(500, False), (204, True)]


def test_answer_slower_than_the_timeout_counts_as_failure(
    hs: HubSpot, admin: Any, receiver: Any, emulator: HubSpotEmulator
) -> None:
    subscribe(admin, receiver, "contact.creation", timeoutSeconds=0.2)
    receiver.delay_seconds = 0.5
    create_contact(hs, "slow@x.com")
    state = emulator.flush_webhooks()
    log = admin.get("webhooks/deliveries")["deliveries"]
    assert [(d["error"], d["succeeded"]) for d in log] == [("ReadTimeout", False)]
    assert state["scheduled"] == 1


def test_gives_up_after_ten_attempts_within_a_day(
    hs: HubSpot, admin: Any, receiver: Any, emulator: HubSpotEmulator
) -> None:
    subscribe(admin, receiver, "contact.creation")
    receiver.statuses.extend([503] * 12)
    create_contact(hs, "never@x.com")
    emulator.flush_webhooks()
    for _ in range(24 * 4):
        emulator.clock.advance(15 * 60)
        emulator.flush_webhooks()
    assert receiver.requests[-1]["json"][0]["attemptNumber"] == 9, "all ten within 24 hours"
    for _ in range(4):
        emulator.clock.advance(12 * 3600)
        emulator.flush_webhooks()
    attempts = [r["json"][0]["attemptNumber"] for r in receiver.requests]
    assert attempts == list(range(10))
    assert emulator.flush_webhooks()["scheduled"] == 0


def test_batches_hold_at_most_one_hundred_events(
    hs: HubSpot, admin: Any, receiver: Any, emulator: HubSpotEmulator
) -> None:
    subscribe(admin, receiver, "contact.creation")
    for start in (0, 100):
        hs.crm.contacts.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    SimplePublicObjectBatchInputForCreate(
                        properties={"email": f"{start + i}@x.com"}
                    )
                    for i in range(75)
                ]
            )
        )
    emulator.flush_webhooks()
    sizes = [len(r["json"]) for r in receiver.requests]
    assert sum(sizes) == 150
    assert max(sizes) <= 100


def test_deletion_merge_and_association_events(
    hs: HubSpot, admin: Any, receiver: Any, emulator: HubSpotEmulator
) -> None:
    subscribe(admin, receiver, "contact.deletion", "contact.merge", "deal.associationChange")
    first, second = create_contact(hs, "m1@x.com"), create_contact(hs, "m2@x.com")
    hs.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=first, object_id_to_merge=second)
    )
    deal = hs.crm.deals.basic_api.create(
        DealInput(properties={"dealname": "D", "dealstage": "closedwon"})
    )
    hs.crm.associations.v4.basic_api.create(
        "deals",
        deal.id,
        "contacts",
        first,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=3)],
    )
    hs.crm.contacts.basic_api.archive(first)
    emulator.flush_webhooks()
    events = {e["subscriptionType"]: e for e in receiver.events()}
    assert events["contact.merge"]["mergedObjectIds"] == [int(second)]
    assert events["contact.merge"]["primaryObjectId"] == int(first)
    assert events["deal.associationChange"]["associationType"] == "DEAL_TO_CONTACT"
    assert events["deal.associationChange"]["associationRemoved"] is False
    assert events["contact.deletion"]["objectId"] == int(first)


def test_duplicate_and_reorder_modes(
    hs: HubSpot, admin: Any, receiver: Any, emulator: HubSpotEmulator
) -> None:
    subscribe(admin, receiver, "contact.creation", duplicate=True, reorder=True, batchSize=1)
    ids = [int(create_contact(hs, f"d{i}@x.com")) for i in range(4)]
    emulator.flush_webhooks()
    delivered = [e["objectId"] for e in receiver.events()]
    assert sorted(delivered) == sorted(ids * 2)


def test_settings_through_the_webhooks_api(
    hs: HubSpot, receiver: Any, emulator: HubSpotEmulator
) -> None:
    hs.webhooks.settings_api.configure(
        1160452,
        SettingsChangeRequest(
            target_url=receiver.url, throttling=ThrottlingSettings(max_concurrent_requests=10)
        ),
    )
    created = hs.webhooks.subscriptions_api.create(
        1160452,
        SubscriptionCreateRequest(
            event_type="contact.propertyChange", property_name="lifecyclestage", active=True
        ),
    )
    assert created.event_type == "contact.propertyChange"
    assert hs.webhooks.settings_api.get_all(1160452).target_url == receiver.url
    create_contact(hs, "lc@x.com", lifecyclestage="lead")
    emulator.flush_webhooks()
    assert [e["propertyValue"] for e in receiver.events()] == ["lead"]
    assert receiver.events()[0]["subscriptionId"] == int(created.id)
