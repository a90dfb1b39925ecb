"""HubSpot's allowances: 10-second window per app, search per second, daily quota, headers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest

from closedloop.emulators.hubspot import HubSpotEmulator


def spend(hs: HubSpot, calls: int) -> None:
    api = hs.crm.contacts.basic_api
    for _ in range(calls):
        api.get_page()


def test_headers_on_ordinary_answers(hs: HubSpot) -> None:
    _, status, headers = hs.crm.contacts.basic_api.get_page_with_http_info()
    assert status == 200
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "189"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily"] == "625000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "624999"
    _, _, search_headers = hs.crm.contacts.search_api.do_search_with_http_info(
        PublicObjectSearchRequest()
    )
    assert not [h for h in search_headers if h.lower().startswith("x-hubspot-ratelimit")]


def test_ten_second_window_answers_429_then_rolls(
    hs: HubSpot, emulator: HubSpotEmulator, admin: Any
) -> None:
    spend(hs, 190)
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.basic_api.get_page()
    assert caught.value.status == 429
    body = json.loads(caught.value.body)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in caught.value.headers
    assert admin.get("stats")["rate_limited"] == 1
    emulator.clock.advance(10)
    hs.crm.contacts.basic_api.get_page()


def test_other_apps_have_their_own_window(
    hs: HubSpot, admin: Any, client_for: Callable[[str], HubSpot]
) -> None:
    admin.post("tokens", {"token": "second-app", "appId": 77})
    admin.post("limits", {"tier": "free", "retry_after_seconds": 10})
    spend(hs, 100)
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.basic_api.get_page()
    assert caught.value.headers["Retry-After"] == "10"
    assert client_for("second-app").crm.contacts.basic_api.get_page().results == []


def test_search_allows_five_per_second(hs: HubSpot, emulator: HubSpotEmulator) -> None:
    for _ in range(5):
        hs.crm.contacts.search_api.do_search(PublicObjectSearchRequest())
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.search_api.do_search(PublicObjectSearchRequest())
    assert caught.value.status == 429
    assert json.loads(caught.value.body)["policyName"] == "SECONDLY"
    assert not [h for h in caught.value.headers if h.lower().startswith("x-hubspot-ratelimit")]
    emulator.clock.advance(1)
    hs.crm.contacts.search_api.do_search(PublicObjectSearchRequest())


def test_daily_allowance(hs: HubSpot, emulator: HubSpotEmulator, admin: Any) -> None:
    admin.post("limits", {"daily": 3})
    spend(hs, 3)
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.basic_api.get_page()
    assert json.loads(caught.value.body)["policyName"] == "DAILY"
    emulator.clock.advance(86_400)
    hs.crm.contacts.basic_api.get_page()


def test_associations_have_their_own_lower_window(hs: HubSpot) -> None:
    api = hs.crm.associations.v4.basic_api
    _, _, headers = api.get_page_with_http_info("contacts", "1", "companies")
    assert headers["X-HubSpot-RateLimit-Max"] == "150"
    for _ in range(149):
        api.get_page("contacts", "1", "companies")
    with pytest.raises(AssociationsApiException) as caught:
        api.get_page("contacts", "1", "companies")
    assert caught.value.status == 429
    hs.crm.contacts.basic_api.get_page()


def test_reset_empties_the_windows(hs: HubSpot, emulator: HubSpotEmulator) -> None:
    spend(hs, 190)
    emulator.reset()
    hs.crm.contacts.basic_api.get_page()
