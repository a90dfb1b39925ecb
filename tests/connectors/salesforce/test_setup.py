"""check, provision, and signing in with each OAuth flow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from closedloop.config.schema import SalesforceSettings, Settings
from closedloop.connectors.contract import RowWrite, Watermark
from closedloop.connectors.registry import connector_class
from closedloop.connectors.salesforce.connector import SalesforceConnector
from closedloop.runtime.errors import ConfigError

Admin = Callable[..., Any]
TOOLING_CREATE = "POST /services/data/v59.0/tooling/sobjects/CustomField$"


def items(connector: SalesforceConnector) -> dict[str, Any]:
    return {item.topic: item for item in connector.check()}


def test_check_on_a_fresh_org_names_the_missing_fields(connector: SalesforceConnector) -> None:
    found = items(connector)
    assert found["sign in"].ok
    assert found["API access"].ok
    fields = found["closedloop fields"]
    assert not fields.ok
    assert "Lead.CL_First_Touch_Source__c" in fields.detail
    assert "closedloop provision" in (fields.fix or "")
    assert not found["field access"].ok
    assert found["outbound messages (manual)"].fix


def test_provision_dry_run_then_create_then_nothing(
    connector: SalesforceConnector, calls: Callable[[str], int]
) -> None:
    plan = connector.provision(dry_run=True)
    kinds = {step.kind for step in plan}
    assert kinds == {
        "custom field",
        "permission set",
        "field permission",
        "permission set assignment",
    }
    assert not any(step.exists for step in plan)
    targets = {step.target for step in plan if step.kind == "custom field"}
    assert {
        "Lead.CL_First_Touch_Source__c",
        "Contact.CL_Won_Revenue_Total__c",
        "Opportunity.closedloop_id__c",
        "Account.closedloop_id__c",
        "Campaign.CL_Attributed_Revenue_Linear__c",
    } <= targets
    assert calls("POST /services/data") == 0  # a dry run writes nothing

    connector.provision(dry_run=False)
    assert calls(TOOLING_CREATE) == len(targets)
    again = connector.provision(dry_run=False)
    assert all(step.exists for step in again)
    assert calls(TOOLING_CREATE) == len(targets)  # the second run created nothing
    assert calls("POST /services/data/v59.0/composite/sobjects$") == 1  # 120 grants, one call

    found = items(connector)
    assert all(found[t].ok for t in ("closedloop fields", "field visibility", "field access"))
    lead = connector.api.describe("Lead", fresh=True)
    external = next(f for f in lead["fields"] if f["name"] == "closedloop_id__c")
    assert external["externalId"]
    assert external["unique"]
    written = connector.write(
        [
            RowWrite(
                "k",
                "Lead",
                {"LastName": "L", "Company": "C", "CL_Touch_Count__c": 3},
                match=("closedloop_id__c", "k"),
            )
        ]
    )
    assert written[0].ok


def test_fields_hidden_from_the_integration_user_are_reported(
    provisioned: SalesforceConnector, admin: Admin
) -> None:
    admin("post", "permission-sets/unassign", {"permission_set": "closedloop_integration"})
    found = items(provisioned)
    assert found["closedloop fields"].ok
    assert not found["field visibility"].ok
    assert "cannot see" in found["field visibility"].detail
    assert "closedloop_integration" in (found["field visibility"].fix or "")
    assert "not assigned" in found["field access"].detail
    steps = provisioned.provision(dry_run=False)
    assert [s.kind for s in steps if not s.exists] == ["permission set assignment"]
    assert items(provisioned)["field visibility"].ok


def test_lead_conversion_that_lost_closedloop_values_is_reported(
    provisioned: SalesforceConnector, admin: Admin
) -> None:
    assert items(provisioned)["lead conversion mapping (manual)"].ok
    lead = provisioned.write(
        [
            RowWrite(
                "l",
                "Lead",
                {"LastName": "L", "Company": "C", "CL_First_Touch_Source__c": "google"},
                match=("closedloop_id__c", "l"),
            )
        ]
    )[0]
    admin("post", "convert-lead", {"lead_id": lead.record_id})
    mapping = items(provisioned)["lead conversion mapping"]
    assert not mapping.ok
    assert "CL_First_Touch_Source__c" in mapping.detail
    assert "Map Lead Fields" in (mapping.fix or "")


def test_jwt_bearer_flow_signs_in_and_renews(
    make_connector: Callable[..., SalesforceConnector], admin: Admin, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    admin("post", "jwt-keys", {"certificate": public.decode()})
    (tmp_path / "key.pem").write_bytes(pem)
    connector = make_connector(
        auth_flow="jwt",
        client_secret=None,
        username="integration@closedloop-emulator.example",
        private_key_file=str(tmp_path / "key.pem"),
    )
    assert items(connector)["sign in"].ok
    admin("post", "settings", {"revoke_sessions": True})
    assert list(connector.read_changes("Lead", Watermark(), ["LastName"]))
    assert connector.describe()["reauthentications"] == 1


def test_refused_credentials_are_reported_in_plain_words(
    make_connector: Callable[..., SalesforceConnector],
) -> None:
    connector = make_connector(client_secret="wrong")
    [sign_in] = connector.check()
    assert not sign_in.ok
    assert "refused closedloop's credentials" in sign_in.detail
    assert "client_secret" in (sign_in.fix or "")


def test_registry_builds_the_connector_and_missing_settings_are_config_errors() -> None:
    assert connector_class("salesforce") is SalesforceConnector
    with pytest.raises(ConfigError):
        SalesforceConnector.from_settings(Settings())
    jwt_without_key = SalesforceSettings(
        instance_url="https://acme.my.salesforce.com", client_id="id", auth_flow="jwt"
    )
    with pytest.raises(ConfigError) as problems:
        SalesforceConnector.from_settings(Settings(salesforce=jwt_without_key))
    keys = {p.key for p in problems.value.problems}
    assert keys == {"salesforce.username", "salesforce.private_key_file"}
