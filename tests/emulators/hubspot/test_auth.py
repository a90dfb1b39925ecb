"""Bearer auth, scopes and OAuth, with expiry on the emulator clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, SimplePublicObjectInputForCreate
from hubspot.oauth import ApiException as OAuthApiException

from closedloop.emulators.hubspot import HubSpotEmulator

CLIENT_ID = "emulator-client-id"
CLIENT_SECRET = "test-client-secret"
REDIRECT = "https://closedloop.example/oauth/callback"


def test_wrong_token_answers_401(client_for: Callable[[str], HubSpot]) -> None:
    with pytest.raises(ApiException) as caught:
        client_for("not-a-token").crm.contacts.basic_api.get_page()
    assert caught.value.status == 401
    body = json.loads(caught.value.body)
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["status"] == "error"
    assert body["correlationId"]


def test_missing_scope_answers_403(client_for: Callable[[str], HubSpot], admin: Any) -> None:
    admin.post("tokens", {"token": "read-only", "scopes": ["crm.objects.contacts.read"]})
    client = client_for("read-only")
    assert client.crm.contacts.basic_api.get_page().results == []
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "a@x.com"})
        )
    assert caught.value.status == 403
    body = json.loads(caught.value.body)
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"] == {
        "requiredGranularScopes": ["crm.objects.contacts.write"]
    }


def exchange_code(hs: HubSpot, admin: Any, scopes: list[str]) -> Any:
    code = admin.post("oauth/code", {"scopes": scopes, "redirect_uri": REDIRECT})["code"]
    return hs.oauth.tokens_api.create(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )


def test_oauth_token_expires_after_thirty_emulator_minutes_then_refresh_works(
    hs: HubSpot, admin: Any, client_for: Callable[[str], HubSpot], emulator: HubSpotEmulator
) -> None:
    tokens = exchange_code(hs, admin, ["crm.objects.contacts.read"])
    assert tokens.expires_in == 1800
    assert tokens.token_type == "bearer"
    oauth_client = client_for(tokens.access_token)
    page, _, headers = oauth_client.crm.contacts.basic_api.get_page_with_http_info()
    assert page.results == []
    assert "X-HubSpot-RateLimit-Daily" not in headers
    assert headers["X-HubSpot-RateLimit-Max"] == "110"
    emulator.clock.advance(29 * 60)
    oauth_client.crm.contacts.basic_api.get_page()
    emulator.clock.advance(61)
    with pytest.raises(ApiException) as caught:
        oauth_client.crm.contacts.basic_api.get_page()
    assert caught.value.status == 401
    assert json.loads(caught.value.body)["category"] == "EXPIRED_AUTHENTICATION"
    refreshed = hs.oauth.tokens_api.create(
        grant_type="refresh_token",
        refresh_token=tokens.refresh_token,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert refreshed.access_token != tokens.access_token
    assert client_for(refreshed.access_token).crm.contacts.basic_api.get_page()


def test_oauth_errors(hs: HubSpot, admin: Any) -> None:
    with pytest.raises(OAuthApiException) as caught:
        hs.oauth.tokens_api.create(
            grant_type="authorization_code",
            code="made-up",
            redirect_uri=REDIRECT,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        )
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["status"] == "BAD_AUTH_CODE"
    code = admin.post("oauth/code", {"scopes": [], "redirect_uri": REDIRECT})["code"]
    with pytest.raises(OAuthApiException) as caught:
        hs.oauth.tokens_api.create(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT,
            client_id="someone-else",
            client_secret=CLIENT_SECRET,
        )
    assert json.loads(caught.value.body)["status"] == "BAD_CLIENT_ID"


def test_oauth_token_scopes_are_enforced(
    hs: HubSpot, admin: Any, client_for: Callable[[str], HubSpot]
) -> None:
    tokens = exchange_code(hs, admin, ["crm.objects.deals.read"])
    with pytest.raises(ApiException) as caught:
        client_for(tokens.access_token).crm.contacts.basic_api.get_page()
    assert caught.value.status == 403
    info = hs.oauth.access_tokens_api.get(tokens.access_token)
    assert info.scopes == ["crm.objects.deals.read"]
    assert info.hub_id == 62515


def test_writes_record_the_app_as_integration_source(hs: HubSpot, admin: Any) -> None:
    admin.post("tokens", {"token": "other-app", "appId": 999})
    created = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "src@x.com"})
    )
    got = hs.crm.contacts.basic_api.get_by_id(
        created.id,
        properties=["hs_object_source", "hs_object_source_id"],
        properties_with_history=["email"],
    )
    assert got.properties["hs_object_source"] == "INTEGRATION"
    assert got.properties["hs_object_source_id"] == "1160452"
    entry = got.properties_with_history["email"][0]
    assert (entry.source_type, entry.source_id) == ("INTEGRATION", "1160452")
