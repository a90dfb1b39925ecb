"""OAuth client credentials and JWT bearer, SOAP login, session expiry and API versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from closedloop.connectors.salesforce.transport import SalesforceHTTP
from closedloop.emulators.clock import EmulatorClock

USERNAME = "integration@closedloop-emulator.example"


def _key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_client_credentials_basic_and_body(http: SalesforceHTTP) -> None:
    url = "https://login.salesforce.com/services/oauth2/token"
    basic = http.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=("emulator-client-id", "emulator-client-secret"),
    )
    assert basic.status_code == 200
    body = basic.json()
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    assert body["instance_url"].startswith("https://127.0.0.1:")
    form = http.post(
        url,
        data={
            "grant_type": "client_credentials",
            "client_id": "emulator-client-id",
            "client_secret": "emulator-client-secret",
        },
    )
    assert form.status_code == 200
    wrong = http.post(
        url, data={"grant_type": "client_credentials"}, auth=("emulator-client-id", "nope")
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_client"
    password = http.post(url, data={"grant_type": "password", "client_id": "emulator-client-id"})
    assert password.status_code == 400


def test_client_credentials_mode_of_simple_salesforce(http: SalesforceHTTP) -> None:
    sf = Salesforce(
        consumer_key="emulator-client-id",
        consumer_secret="emulator-client-secret",
        domain="acme.my",
        session=http,
        version="59.0",
    )
    assert sf.query("SELECT Id FROM Organization")["totalSize"] == 1


def test_soap_login_with_username_password_and_token(http: SalesforceHTTP) -> None:
    sf = Salesforce(
        username=USERNAME,
        password="emulator-password",
        security_token="emulator-security-token",
        session=http,
        version="59.0",
    )
    assert sf.is_sandbox() is False
    with pytest.raises(SalesforceAuthenticationFailed) as failed:
        Salesforce(username=USERNAME, password="bad", security_token="x", session=http)
    assert failed.value.code == "INVALID_LOGIN"


def test_jwt_bearer_with_registered_key(http: SalesforceHTTP, admin: Callable[..., Any]) -> None:
    private, public = _key_pair()
    with pytest.raises(SalesforceAuthenticationFailed):
        Salesforce(
            username=USERNAME, consumer_key="emulator-client-id", privatekey=private, session=http
        )
    admin("post", "jwt-keys", {"certificate": public})
    sf = Salesforce(
        username=USERNAME,
        consumer_key="emulator-client-id",
        privatekey=private,
        session=http,
        version="59.0",
    )
    assert (
        sf.query(
            "SELECT Username FROM User WHERE Username = 'integration@closedloop-emulator.example'"
        )["totalSize"]
        == 1
    )
    other_private, _ = _key_pair()
    with pytest.raises(SalesforceAuthenticationFailed) as forged:
        Salesforce(
            username=USERNAME,
            consumer_key="emulator-client-id",
            privatekey=other_private,
            session=http,
        )
    assert forged.value.code == "invalid_grant"
    # Salesforce's wording for an unknown or unauthorised user makes simple-salesforce warn.
    with (
        pytest.raises(SalesforceAuthenticationFailed),
        pytest.warns(UserWarning, match="authorize"),
    ):
        Salesforce(
            username="someone@else.example",
            consumer_key="emulator-client-id",
            privatekey=private,
            session=http,
        )


def test_expired_session_is_401_then_a_fresh_token_works(
    connect: Callable[..., Salesforce], token: Callable[[], str], clock: EmulatorClock
) -> None:
    sf = connect(token())
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0
    clock.advance(2 * 3600 - 60)
    assert sf.query("SELECT Id FROM Lead")["done"] is True  # activity restarts the 2 h timer
    clock.advance(2 * 3600 + 1)
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Lead")
    assert expired.value.status == 401
    assert expired.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert connect(token()).query("SELECT Id FROM Lead")["totalSize"] == 0


def test_versions_list_and_unknown_versions(http: SalesforceHTTP, sf: Salesforce) -> None:
    versions = http.get("https://acme.my.salesforce.com/services/data/").json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    assert (
        "Sforce-Limit-Info" not in http.get("https://acme.my.salesforce.com/services/data/").headers
    )
    headers = {"Authorization": f"Bearer {sf.session_id}"}
    assert http.get("https://x/services/data/v99.0/limits", headers=headers).status_code == 404
    assert http.get("https://x/services/data/v30.0/limits", headers=headers).status_code == 410
    missing = http.get("https://x/services/data/v59.0/limits")
    assert missing.status_code == 401
    assert missing.json()[0]["errorCode"] == "INVALID_SESSION_ID"
