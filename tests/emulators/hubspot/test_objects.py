"""CRM v3 single-record endpoints through the official client."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import (
    ApiException,
    PublicGdprDeleteInput,
    PublicMergeInput,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealInput
from hubspot.crm.objects import ApiException as ObjectsApiException
from hubspot.crm.objects import SimplePublicObjectInputForCreate as ObjectInput

from closedloop.emulators.hubspot import HubSpotEmulator


def new_contact(hs: HubSpot, email: str, **properties: str) -> str:
    created = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": email, **properties})
    )
    return str(created.id)


def test_create_answers_201_with_a_full_record(hs: HubSpot) -> None:
    created = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "Ada@Example.com", "firstname": "Ada"}
        )
    )
    assert created is not None, "a non-201 status makes the client return None"
    assert created.properties["email"] == "ada@example.com"
    assert created.properties["hs_object_id"] == created.id
    assert created.properties["createdate"] == "2026-01-05T10:00:00.000Z"
    assert created.created_at.year == 2026
    assert created.archived is False


def test_get_with_properties_history_and_id_property(hs: HubSpot, admin: object) -> None:
    contact_id = new_contact(hs, "grace@example.com", firstname="Grace")
    hs.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"firstname": "G"})
    )
    by_email = hs.crm.contacts.basic_api.get_by_id(
        "GRACE@example.com",
        id_property="email",
        properties=["firstname"],
        properties_with_history=["firstname"],
    )
    assert by_email.id == contact_id
    assert by_email.properties["firstname"] == "G"
    assert "email" not in by_email.properties
    history = by_email.properties_with_history["firstname"]
    assert [h.value for h in history] == ["G", "Grace"]
    assert history[0].source_type == "INTEGRATION"
    assert history[0].source_id == "1160452"


def test_unknown_record_answers_404(hs: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.basic_api.get_by_id("999")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_unknown_property_answers_400_property_doesnt_exist(hs: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        new_contact(hs, "x@example.com", favourite_colour="blue")
    body = json.loads(caught.value.body)
    assert caught.value.status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert body["errors"][0]["context"] == {"propertyName": ["favourite_colour"]}
    assert body["correlationId"]


def test_invalid_values_and_read_only_properties_are_refused(hs: HubSpot) -> None:
    with pytest.raises(DealsApiException) as caught:
        hs.crm.deals.basic_api.create(
            DealInput(
                properties={
                    "dealname": "Bad",
                    "dealstage": "closedwon",
                    "amount": "lots",
                    "hs_is_closed_won": "true",
                }
            )
        )
    codes = {e["code"] for e in json.loads(caught.value.body)["errors"]}
    assert codes == {"INVALID_INTEGER", "READ_ONLY_VALUE"}


def test_duplicate_email_conflicts(hs: HubSpot) -> None:
    existing = new_contact(hs, "dup@example.com")
    with pytest.raises(ApiException) as caught:
        new_contact(hs, "DUP@example.com")
    assert caught.value.status == 409
    assert (
        json.loads(caught.value.body)["message"]
        == f"Contact already exists. Existing ID: {existing}"
    )


def test_list_pages_by_id_with_after_cursor(hs: HubSpot) -> None:
    ids = [new_contact(hs, f"p{i}@example.com") for i in range(5)]
    first = hs.crm.contacts.basic_api.get_page(limit=2, properties=["email"])
    assert [r.id for r in first.results] == ids[:2]
    second = hs.crm.contacts.basic_api.get_page(limit=2, after=first.paging.next.after)
    assert [r.id for r in second.results] == ids[2:4]
    everything = hs.crm.contacts.get_all()
    assert [r.id for r in everything] == ids
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.basic_api.get_page(limit=101)
    assert caught.value.status == 400


def test_archive_then_list_archived_only(hs: HubSpot) -> None:
    keep = new_contact(hs, "keep@example.com")
    gone = new_contact(hs, "gone@example.com")
    assert hs.crm.contacts.basic_api.archive(gone) is None
    live = hs.crm.contacts.basic_api.get_page(archived=False)
    archived = hs.crm.contacts.basic_api.get_page(archived=True)
    assert [r.id for r in live.results] == [keep]
    assert [r.id for r in archived.results] == [gone]
    assert archived.results[0].archived is True
    assert archived.results[0].archived_at is not None
    with pytest.raises(ApiException):
        hs.crm.contacts.basic_api.get_by_id(gone)
    assert hs.crm.contacts.basic_api.get_by_id(gone, archived=True).id == gone


def test_update_answers_200_and_bumps_last_modified(hs: HubSpot, emulator: HubSpotEmulator) -> None:
    contact_id = new_contact(hs, "u@example.com")
    emulator.clock.advance(1.5)
    updated = hs.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"lifecyclestage": "lead"})
    )
    assert updated.properties["lastmodifieddate"] == "2026-01-05T10:00:01.500Z"
    got = hs.crm.contacts.basic_api.get_by_id(
        contact_id, properties=["hs_lifecyclestage_lead_date"]
    )
    assert got.properties["hs_lifecyclestage_lead_date"] == "2026-01-05T10:00:01.500Z"
    cleared = hs.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"lifecyclestage": ""})
    )
    assert "lifecyclestage" not in cleared.properties


def test_merge_keeps_primary_and_redirects_the_merged_id(hs: HubSpot) -> None:
    primary = new_contact(hs, "main@example.com", firstname="Main")
    other = new_contact(hs, "alt@example.com", firstname="Alt", jobtitle="CTO")
    merged = hs.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=primary, object_id_to_merge=other)
    )
    assert merged.id == primary
    got = hs.crm.contacts.basic_api.get_by_id(
        other, properties=["jobtitle", "firstname", "hs_merged_object_ids", "hs_additional_emails"]
    )
    assert got.id == primary
    assert got.properties["firstname"] == "Main"
    assert got.properties["jobtitle"] == "CTO"
    assert got.properties["hs_merged_object_ids"] == other
    assert got.properties["hs_additional_emails"] == "alt@example.com"


def test_gdpr_delete_is_permanent(hs: HubSpot) -> None:
    contact_id = new_contact(hs, "forget@example.com")
    hs.crm.contacts.basic_api.purge(
        PublicGdprDeleteInput(object_id="forget@example.com", id_property="email")
    )
    with pytest.raises(ApiException):
        hs.crm.contacts.basic_api.get_by_id(contact_id, archived=True)
    assert hs.crm.contacts.basic_api.get_page(archived=True).results == []


def test_deal_outcome_follows_stage_metadata(hs: HubSpot) -> None:
    won = hs.crm.deals.basic_api.create(
        DealInput(
            properties={
                "dealname": "Big one",
                "dealstage": "closedwon",
                "amount": "1000",
                "deal_currency_code": "EUR",
            }
        )
    )
    got = hs.crm.deals.basic_api.get_by_id(
        won.id,
        properties=[
            "hs_is_closed_won",
            "hs_is_closed",
            "closedate",
            "pipeline",
            "amount_in_home_currency",
            "hs_deal_stage_probability",
            "hs_closed_amount",
        ],
    )
    assert got.properties["pipeline"] == "default"
    assert got.properties["hs_is_closed_won"] == "true"
    assert got.properties["hs_is_closed"] == "true"
    assert got.properties["hs_deal_stage_probability"] == "1"
    assert got.properties["amount_in_home_currency"] == "1080"
    assert got.properties["hs_closed_amount"] == "1000"
    assert got.properties["closedate"] == "2026-01-05T10:00:00.000Z"
    with pytest.raises(DealsApiException) as caught:
        hs.crm.deals.basic_api.create(DealInput(properties={"dealname": "x", "dealstage": "nope"}))
    assert json.loads(caught.value.body)["errors"][0]["code"] == "INVALID_OPTION"
    with pytest.raises(DealsApiException):
        hs.crm.deals.basic_api.create(DealInput(properties={"dealname": "no stage"}))


def test_generic_objects_path_accepts_type_ids(hs: HubSpot) -> None:
    created = hs.crm.objects.basic_api.create(
        "0-2", ObjectInput(properties={"name": "Acme", "domain": "acme.com"})
    )
    assert hs.crm.companies.basic_api.get_by_id(created.id).properties["name"] == "Acme"
    assert hs.crm.objects.basic_api.get_by_id("companies", created.id).id == created.id
    with pytest.raises(ObjectsApiException) as caught:
        hs.crm.objects.basic_api.get_page("widgets")
    assert caught.value.status == 400
    assert "Unable to infer object type" in json.loads(caught.value.body)["message"]


def test_company_needs_a_name_or_domain(hs: HubSpot) -> None:
    from hubspot.crm.companies import ApiException as CompaniesApiException  # noqa: PLC0415

    with pytest.raises(CompaniesApiException) as caught:
        hs.crm.companies.basic_api.create(CompanyInput(properties={"city": "Oslo"}))
    assert caught.value.status == 400
