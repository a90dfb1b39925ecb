"""Touches rebuilt from HubSpot property history, read through the official client."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC

import pytest
import requests

from closedloop.config.schema import HubSpotSettings, Settings
from closedloop.connectors.contract import Watermark
from closedloop.connectors.hubspot.connector import HubSpotConnector
from closedloop.emulators.hubspot import create_emulator
from closedloop.emulators.server import RunningServer
from closedloop.sync.model import compute_stamps
from closedloop.sync.touch_sources import (
    HUBSPOT_TOUCH_FIELDS,
    HUBSPOT_TOUCH_HISTORY,
    hubspot_touches,
)


@pytest.fixture(scope="module")
def seeded() -> Iterator[HubSpotConnector]:
    emulator = create_emulator(token="tok")
    with RunningServer(emulator.app) as server:
        requests.post(
            f"{server.url}/__emulator__/seed",
            json={"contacts": 200, "companies": 10, "deals": 10, "seed": 4},
            timeout=30,
        ).raise_for_status()
        settings = Settings(hubspot=HubSpotSettings(base_url=server.url, access_token="tok"))
        yield HubSpotConnector.from_settings(settings)


def test_every_seeded_journey_becomes_ordered_classified_touches(
    seeded: HubSpotConnector,
) -> None:
    ids = [r.id for p in seeded.read_changes("contacts", Watermark(), ["email"]) for r in p.records]
    records = seeded.read_records("contacts", ids, HUBSPOT_TOUCH_FIELDS, HUBSPOT_TOUCH_HISTORY)
    channels: Counter[str] = Counter()
    for record in records:
        touches = hubspot_touches(record)
        assert touches, record.id
        times = [t.occurred_at for t in touches]
        assert times == sorted(times)
        assert all(t.occurred_at.tzinfo == UTC for t in touches)
        assert all(t.origin == "hubspot" for t in touches)
        channels.update(t.channel or "" for t in touches)
        stamps = compute_stamps(touches)
        assert stamps.first_touch is touches[0]
        assert stamps.last_touch is touches[-1]
        assert stamps.touch_count == len(touches)
    assert {"Paid Search", "Organic Search", "Email", "Direct"} <= set(channels)
    assert "Unassigned" not in channels


def test_utm_and_click_ids_come_from_the_same_instant(seeded: HubSpotConnector) -> None:
    ids = [r.id for p in seeded.read_all("contacts", ["email"]) for r in p.records]
    records = seeded.read_records("contacts", ids, HUBSPOT_TOUCH_FIELDS, HUBSPOT_TOUCH_HISTORY)
    paid = [t for r in records for t in hubspot_touches(r) if "gclid" in t.click_ids]
    assert paid
    assert all(t.channel == "Paid Search" for t in paid)
    assert all(t.utm_source for t in paid)
