"""HubSpot webhook batches: whole-batch errors, per-event rejections, dedupe keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from closedloop.webhooks.errors import PayloadError
from closedloop.webhooks.hubspot_events import HubSpotBatch, parse_hubspot_batch

STAGE_CHANGE: dict[str, Any] = {
    "eventId": 100, "subscriptionId": 25, "portalId": 33, "appId": 1160452,
    "occurredAt": 1767261600000, "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
    "objectId": 5001, "propertyName": "dealstage", "propertyValue": "closedwon",
    "changeSource": "CRM_UI", "sourceId": "userId:47",
}  # fmt: skip
CREATION: dict[str, Any] = {
    "eventId": 101, "subscriptionId": 22, "portalId": 33, "appId": 1160452,
    "occurredAt": 1767261600500, "subscriptionType": "contact.creation", "attemptNumber": 0,
    "objectId": 9001, "changeFlag": "CREATED", "changeSource": "IMPORT",
}  # fmt: skip
ASSOCIATION: dict[str, Any] = {
    "eventId": 102, "subscriptionId": 23, "portalId": 33, "occurredAt": 1767261600600,
    "subscriptionType": "contact.associationChange", "attemptNumber": 1,
    "associationType": "CONTACT_TO_DEAL", "fromObjectId": 9001, "toObjectId": 5001,
    "associationRemoved": False, "isPrimaryAssociation": False,
}  # fmt: skip


def parse(*events: Any) -> HubSpotBatch:
    return parse_hubspot_batch(json.dumps(list(events)).encode("utf-8"))


def test_reference_payload_is_accepted() -> None:
    batch = parse(STAGE_CHANGE, CREATION, ASSOCIATION)
    assert batch.rejections == ()
    deal, contact, association = batch.events
    assert (deal.index, deal.event_id, deal.object_id) == (0, 100, 5001)
    assert (deal.property_name, deal.property_value) == ("dealstage", "closedwon")
    assert contact.subscription_type == "contact.creation"
    assert contact.property_name is None
    assert association.object_id is None
    assert association.attempt_number == 1
    assert deal.raw == STAGE_CHANGE
    assert "closedwon" not in repr(deal)
    assert len({e.dedupe_key for e in batch.events}) == 3


def test_legacy_event_type_field_is_accepted() -> None:
    old = {k: v for k, v in CREATION.items() if k != "subscriptionType"} | {
        "eventType": "contact.creation"
    }
    assert parse(old).events[0].subscription_type == "contact.creation"


def test_one_bad_event_never_rejects_its_batch_mates() -> None:
    bad = [
        "not an object",
        {**CREATION, "objectId": "9001"},
        {**CREATION, "eventId": True},
        {**CREATION, "occurredAt": 1.5},
        {**CREATION, "portalId": -1},
        {**CREATION, "subscriptionType": "creation"},
        {k: v for k, v in STAGE_CHANGE.items() if k != "propertyName"},
        {k: v for k, v in CREATION.items() if k != "objectId"},
        {**STAGE_CHANGE, "propertyValue": 7},
        {**ASSOCIATION, "associationRemoved": "no"},
        {**CREATION, "mergedObjectIds": [1, "2"]},
        {**CREATION, "note": "nul \x00 byte"},
        {**CREATION, "subscriptionId": 2**64},
    ]
    batch = parse(CREATION, *bad, STAGE_CHANGE)
    assert [e.index for e in batch.events] == [0, len(bad) + 1]
    assert [r.index for r in batch.rejections] == list(range(1, len(bad) + 1))
    reasons = [r.reason for r in batch.rejections]
    assert reasons[:3] == [
        "event is not a JSON object",
        "objectId is missing or not an integer",
        "eventId is missing or not an integer",
    ]
    assert all(reason and "9001" not in reason for reason in reasons)


@pytest.mark.parametrize(
    "text",
    [
        '{"eventId": NaN}',
        '{"eventId": 1e999}',
        '{"eventId": 1, "eventId": 2}',
        '{"eventId": ' + "9" * 5000 + "}",
        '{"x": "\\ud800"}',
    ],
)
def test_json_oddities_are_rejected_per_event(text: str) -> None:
    body = f"[{json.dumps(CREATION)}, {text}]".encode()
    batch = parse_hubspot_batch(body)
    assert [e.index for e in batch.events] == [0]
    assert [r.index for r in batch.rejections] == [1]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{}", "not a JSON array"),
        (b'"[]"', "not a JSON array"),
        (b"\xff[]", "not UTF-8"),
        (b"\xef\xbb\xbf[]", "not valid JSON"),
        ("[]".encode("utf-16"), "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json.dumps([CREATION] * 101).encode(), "more than 100 events"),
    ],
)
def test_whole_batch_errors(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        parse_hubspot_batch(body)


def test_size_limit_and_type() -> None:
    with pytest.raises(PayloadError, match="too large") as caught:
        parse_hubspot_batch(b"[" + b" " * 2_000_000 + b"]")
    assert caught.value.too_large
    assert parse_hubspot_batch(b"[]", max_bytes=2) == HubSpotBatch((), ())
    with pytest.raises(PayloadError, match="must be bytes"):
        parse_hubspot_batch("[]")  # type: ignore[arg-type]
    assert len(parse(*[CREATION] * 100).events) == 100


def test_dedupe_key_ignores_delivery_details_but_not_content() -> None:
    first = parse(STAGE_CHANGE).events[0].dedupe_key
    retried = {**STAGE_CHANGE, "attemptNumber": 3, "eventId": 999, "changeSource": "API"}
    assert parse(retried).events[0].dedupe_key == first
    assert first == f"hs2:{STAGE_CHANGE['occurredAt']:013d}:" + first.rsplit(":", 1)[1]
    assert len(first) == 4 + 13 + 1 + 64
    for change in (
        {"propertyValue": "closedlost"},
        {"propertyName": "amount"},
        {"occurredAt": 1767261600001},
        {"objectId": 5002},
        {"subscriptionId": 26},
        {"portalId": 34},
    ):
        assert parse({**STAGE_CHANGE, **change}).events[0].dedupe_key != first


def test_association_dedupe_key_distinguishes_direction_and_removal() -> None:
    keys = {
        parse(event).events[0].dedupe_key
        for event in (
            ASSOCIATION,
            {**ASSOCIATION, "associationRemoved": True},
            {**ASSOCIATION, "toObjectId": 5002},
            {**ASSOCIATION, "associationType": "DEAL_TO_CONTACT"},
        )
    }
    assert len(keys) == 4


def test_duplicates_inside_a_batch_are_all_returned_with_one_key() -> None:
    batch = parse(STAGE_CHANGE, {**STAGE_CHANGE, "attemptNumber": 1})
    assert len(batch.events) == 2
    assert batch.events[0].dedupe_key == batch.events[1].dedupe_key
