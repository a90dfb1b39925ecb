"""The HubSpot parser's fast paths refuse exactly what the slow checks refused.

The parser skips the per-string scan for NUL and lone surrogates when the body holds no ``\\u``
escape, parses numbers natively and checks their range afterwards, and writes the dedupe
key's canonical JSON by hand. Each test here feeds the case the shortcut must not miss.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from closedloop.webhooks.hubspot_events import parse_hubspot_batch

EVENT: dict[str, Any] = {
    "eventId": 7, "subscriptionId": 25, "portalId": 33, "occurredAt": 1767261600000,
    "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 9001,
    "propertyName": "phone", "propertyValue": "+15550100",
}  # fmt: skip
UNSTORABLE = "event holds NUL or unpaired surrogate characters"
OUT_OF_RANGE = "event holds a number outside the JSON range HubSpot sends"


def _with_text(field_json: str) -> bytes:
    """A batch of [good, EVENT plus ``field_json`` spliced in verbatim, good]."""
    good = json.dumps(EVENT)
    spliced = json.dumps(EVENT)[:-1] + ", " + field_json + "}"
    return f"[{good}, {spliced}, {good}]".encode()


@pytest.mark.parametrize(
    "field_json",
    [
        '"note": "a\\u0000b"',
        '"\\u0000": 1',
        '"note": ["ok", {"deep": "\\u0000"}]',
        '"note": "\\ud800"',
        '"note": "\\udfff tail"',
        '"nested": {"\\udc00": "x"}',
        '"changeSource": "\\u0000"',
    ],
)
def test_escaped_nul_or_lone_surrogate_is_rejected_per_event(field_json: str) -> None:
    batch = parse_hubspot_batch(_with_text(field_json))
    assert [e.index for e in batch.events] == [0, 2]
    assert [(r.index, r.reason) for r in batch.rejections] == [(1, UNSTORABLE)]


@pytest.mark.parametrize(
    ("field_json", "value"),
    [
        ('"note": "caf\\u00e9"', "café"),
        ('"note": "\\ud83d\\ude00"', "\U0001f600"),
        ('"note": "\\u0041\\u005c"', "A\\"),
    ],
)
def test_other_escapes_are_accepted(field_json: str, value: str) -> None:
    batch = parse_hubspot_batch(_with_text(field_json))
    assert batch.rejections == ()
    assert batch.events[1].raw["note"] == value


@pytest.mark.parametrize(
    ("field_json", "reason"),
    [
        ('"note": 100000000000000000000', OUT_OF_RANGE),  # 21 digits
        ('"note": [-10000000000000000000]', OUT_OF_RANGE),  # 21 characters
        ('"note": {"n": ' + "7" * 5000 + "}", OUT_OF_RANGE),  # beyond int()'s digit limit
        ('"note": [NaN]', OUT_OF_RANGE),
        ('"note": {"x": -Infinity}', OUT_OF_RANGE),
        ('"note": 1e400', OUT_OF_RANGE),
        ('"note": {"a": 1, "a": 2}', "event repeats a key"),
        ('"objectId": 1, "objectId": 2', "event repeats a key"),
    ],
)
def test_numbers_and_keys_hubspot_never_sends_are_rejected_per_event(
    field_json: str, reason: str
) -> None:
    batch = parse_hubspot_batch(_with_text(field_json))
    assert [e.index for e in batch.events] == [0, 2]
    assert [(r.index, r.reason) for r in batch.rejections] == [(1, reason)]


@pytest.mark.parametrize(
    "field_json",
    ['"note": 99999999999999999999', '"note": -9999999999999999999', '"note": [-0, 1.5e300]'],
)
def test_numbers_in_range_are_accepted(field_json: str) -> None:
    assert parse_hubspot_batch(_with_text(field_json)).rejections == ()


def _documented_key(event: dict[str, Any]) -> str:
    """reliability.md's content key, serialised the way the parser always has (json.dumps)."""
    identity_fields = (
        "objectId", "fromObjectId", "toObjectId", "primaryObjectId", "newObjectId",
        "mergedObjectIds", "associationType", "associationRemoved",
    )  # fmt: skip
    identity = {k: event[k] for k in identity_fields if event.get(k) is not None}
    parts = [
        event["portalId"],
        event["subscriptionId"],
        identity,
        event["occurredAt"],
        event.get("propertyName"),
        event.get("propertyValue"),
    ]
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()
    return f"hs2:{event['occurredAt']:013d}:{digest}"


ids = st.integers(min_value=0, max_value=2**63 - 1)
texts = st.text(st.characters(exclude_categories=["Cs"]).filter(lambda c: c != "\x00"))


@given(
    st.fixed_dictionaries(
        {"portalId": ids, "subscriptionId": ids, "occurredAt": ids, "eventId": ids},
        optional={
            "objectId": ids,
            "fromObjectId": ids,
            "toObjectId": ids,
            "primaryObjectId": ids,
            "newObjectId": ids,
            "mergedObjectIds": st.lists(ids, max_size=3),
            "associationType": texts,
            "associationRemoved": st.booleans(),
            "propertyName": texts,
            "propertyValue": texts,
        },
    )
)
def test_dedupe_key_is_the_documented_json_content_key(fields: dict[str, Any]) -> None:
    event = {"subscriptionType": "contact.associationChange", "primaryObjectId": 1, **fields}
    (parsed,) = parse_hubspot_batch(json.dumps([event]).encode()).events
    assert parsed.dedupe_key == _documented_key(event)
