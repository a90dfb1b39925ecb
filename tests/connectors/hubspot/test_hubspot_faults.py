"""Fault plans and token expiry: every record arrives exactly once, retries stay bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from closedloop.config.schema import HubSpotSettings, Settings
from closedloop.connectors.contract import RowWrite
from closedloop.connectors.hubspot.connector import HubSpotConnector
from closedloop.emulators.server import RunningServer
from closedloop.runtime.clock import ManualClock
from closedloop.runtime.errors import FatalSyncError

Admin = Callable[..., Any]
RATE_LIMIT = {
    "status": "error",
    "message": "You have reached your ten_secondly_rolling limit.",
    "errorType": "RATE_LIMIT",
    "policyName": "TEN_SECONDLY_ROLLING",
}
UPSERT = "POST /crm/v3/objects/contacts/batch/upsert"


def rows(n: int) -> list[RowWrite]:
    return [
        RowWrite(f"k{i}", "contacts", {"firstname": f"F{i}"}, match=("email", f"f{i}@example.com"))
        for i in range(n)
    ]


def emails_in_portal(connector: HubSpotConnector) -> list[str]:
    return [
        str(r.fields.get("email"))
        for page in connector.read_all("contacts", ["email"])
        for r in page.records
    ]


@pytest.mark.parametrize(
    ("fault", "count"),
    [
        ({"status": 429, "body": RATE_LIMIT, "headers": {"Retry-After": "1"}}, 3),
        ({"status": 429, "body": RATE_LIMIT}, 3),
        ({"status": 423, "body": {"status": "error", "message": "locked"}}, 2),
        (
            {
                "status": 477,
                "body": {"status": "error", "message": "migrating"},
                "headers": {"Retry-After": "30"},
            },
            2,
        ),
        ({"status": 503, "body": {"status": "error", "message": "unavailable"}}, 4),
    ],
    ids=["429-retry-after", "429-bare", "423", "477", "503"],
)
def test_faults_are_retried_and_every_record_arrives_once(
    connector: HubSpotConnector, admin: Admin, clock: ManualClock, fault: dict[str, Any], count: int
) -> None:
    admin("post", "faults", {"faults": [{**fault, "path_pattern": "batch/upsert", "count": count}]})
    results = connector.write(rows(500))
    assert all(r.ok for r in results)
    calls = admin("get", "stats")["by_route"][UPSERT]
    assert calls == 5 + count  # the floor, plus one retry per injected fault
    assert connector.api.counter.retries <= 1.2 * count
    emails = emails_in_portal(connector)
    assert len(emails) == len(set(emails)) == 500
    if "Retry-After" in fault.get("headers", {}):
        assert float(fault["headers"]["Retry-After"]) in clock.slept


def test_a_call_is_never_tried_more_than_five_times(
    connector: HubSpotConnector, admin: Admin
) -> None:
    admin(
        "post",
        "faults",
        {"faults": [{"status": 503, "path_pattern": "batch/upsert", "count": None}]},
    )
    with pytest.raises(Exception, match="503"):
        connector.write(rows(1))
    assert admin("get", "stats")["by_route"][UPSERT] == 5


def test_daily_limit_429_stops_the_run(connector: HubSpotConnector, admin: Admin) -> None:
    daily = {**RATE_LIMIT, "policyName": "DAILY", "message": "You have reached your daily limit."}
    admin("post", "faults", {"faults": [{"status": 429, "body": daily, "count": 1}]})
    with pytest.raises(FatalSyncError, match="daily"):
        connector.write(rows(1))


def test_oauth_token_expiring_mid_run_is_renewed_without_loss(
    hubspot: RunningServer, admin: Admin
) -> None:
    scopes = ["crm.objects.contacts.read", "crm.objects.contacts.write"]
    code = admin("post", "oauth/code", {"scopes": scopes})["code"]
    exchanged = requests.post(
        f"{hubspot.url}/oauth/v1/token",
        data={
            "grant_type": "authorization_code",
            "client_id": "emulator-client-id",
            "client_secret": "cs",
            "code": code,
            "redirect_uri": "https://localhost/cb",
        },
        timeout=10,
    )
    assert exchanged.status_code == 200, exchanged.text
    refresh = exchanged.json()["refresh_token"]
    clock = ManualClock()
    settings = Settings(
        hubspot=HubSpotSettings(
            base_url=hubspot.url,
            client_id="emulator-client-id",
            client_secret="cs",
            refresh_token=refresh,
        )
    )
    connector = HubSpotConnector.from_settings(settings, clock=clock)
    first = connector.write(rows(150))
    # The emulator's token expires (31 minutes on its clock) while ours still trusts it.
    admin("post", "clock", {"advance_seconds": 31 * 60})
    second = connector.write([*rows(300)][150:])
    assert all(r.ok for r in first + second)
    assert connector.api.counter.reauthentications == 1
    # Proactive renewal: our clock passes the expiry margin, so no 401 is needed.
    clock.advance(26 * 60)
    connector.write(rows(1))
    assert connector.api.counter.reauthentications == 1
    emails = emails_in_portal(connector)
    assert len(emails) == len(set(emails)) == 300
