"""Associations v4 (single and batch) and associations on v3 reads and creates."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    ApiException,
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiArchive,
    PublicAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealInput


@pytest.fixture
def records(hs: HubSpot) -> dict[str, str]:
    contact = hs.crm.contacts.basic_api.create(ContactInput(properties={"email": "a@acme.com"}))
    company = hs.crm.companies.basic_api.create(CompanyInput(properties={"name": "Acme"}))
    deal = hs.crm.deals.basic_api.create(
        DealInput(properties={"dealname": "D", "dealstage": "appointmentscheduled"})
    )
    return {"contact": contact.id, "company": company.id, "deal": deal.id}


def test_labelled_create_answers_201_and_lists_both_directions(
    hs: HubSpot, records: dict[str, str]
) -> None:
    pair, status, _ = hs.crm.associations.v4.basic_api.create_with_http_info(
        "contacts",
        records["contact"],
        "companies",
        records["company"],
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)],
    )
    assert status == 201
    assert pair.labels == ["Primary"]
    assert pair.from_object_type_id == "0-1"
    page = hs.crm.associations.v4.basic_api.get_page("companies", records["company"], "contacts")
    assert page.results[0].to_object_id == records["contact"]
    assert [t.type_id for t in page.results[0].association_types] == [2]


def test_default_create_answers_200_and_shows_on_v3_get(
    hs: HubSpot, records: dict[str, str]
) -> None:
    answer, status, _ = hs.crm.associations.v4.basic_api.create_default_with_http_info(
        "deals", records["deal"], "contacts", records["contact"]
    )
    assert status == 200
    assert answer.results[0].association_spec.association_type_id == 3
    deal = hs.crm.deals.basic_api.get_by_id(records["deal"], associations=["contacts"])
    assert deal.associations["contacts"].results[0].id == records["contact"]
    assert deal.associations["contacts"].results[0].type == "deal_to_contact"


def test_wrong_type_id_is_refused(hs: HubSpot, records: dict[str, str]) -> None:
    with pytest.raises(ApiException) as caught:
        hs.crm.associations.v4.basic_api.create(
            "contacts",
            records["contact"],
            "companies",
            records["company"],
            [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=3)],
        )
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_archive_answers_204(hs: HubSpot, records: dict[str, str]) -> None:
    hs.crm.associations.v4.basic_api.create_default(
        "contacts", records["contact"], "companies", records["company"]
    )
    _, status, _ = hs.crm.associations.v4.basic_api.archive_with_http_info(
        "contacts", records["contact"], "companies", records["company"]
    )
    assert status == 204
    page = hs.crm.associations.v4.basic_api.get_page("contacts", records["contact"], "companies")
    assert page.results == []


def test_batch_create_read_default_and_archive(hs: HubSpot, records: dict[str, str]) -> None:
    batch = hs.crm.associations.v4.batch_api
    created, status, _ = batch.create_with_http_info(
        "deals",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                PublicAssociationMultiPost(
                    _from=PublicObjectId(id=records["deal"]),
                    to=PublicObjectId(id=records["company"]),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=5
                        )
                    ],
                )
            ]
        ),
    )
    assert status == 201
    assert created.results[0].labels == ["Primary"]
    default, status, _ = batch.create_default_with_http_info(
        "contacts",
        "companies",
        BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                PublicDefaultAssociationMultiPost(
                    _from=PublicObjectId(id=records["contact"]),
                    to=PublicObjectId(id=records["company"]),
                )
            ]
        ),
    )
    assert status == 200
    assert default.results[0].association_spec.association_type_id == 279
    read, status, _ = batch.get_page_with_http_info(
        "companies",
        "deals",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=records["company"]),
                PublicFetchAssociationsBatchRequest(id="404404"),
            ]
        ),
    )
    assert status == 207
    assert read.results[0].to[0].to_object_id == records["deal"]
    assert read.errors[0].context == {"fromObjectId": ["404404"]}
    _, status, _ = batch.archive_with_http_info(
        "deals",
        "companies",
        BatchInputPublicAssociationMultiArchive(
            inputs=[
                PublicAssociationMultiArchive(
                    _from=PublicObjectId(id=records["deal"]),
                    to=[PublicObjectId(id=records["company"])],
                )
            ]
        ),
    )
    assert status == 204
    page = hs.crm.associations.v4.basic_api.get_page("deals", records["deal"], "companies")
    assert page.results == []


def test_batch_label_archive_keeps_other_types(hs: HubSpot, records: dict[str, str]) -> None:
    specs = [
        AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=t)
        for t in (1, 279)
    ]
    hs.crm.associations.v4.basic_api.create(
        "contacts", records["contact"], "companies", records["company"], specs
    )
    hs.crm.associations.v4.batch_api.archive_labels(
        "contacts",
        "companies",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                PublicAssociationMultiPost(
                    _from=PublicObjectId(id=records["contact"]),
                    to=PublicObjectId(id=records["company"]),
                    types=[specs[0]],
                )
            ]
        ),
    )
    page = hs.crm.associations.v4.basic_api.get_page("contacts", records["contact"], "companies")
    assert [t.type_id for t in page.results[0].association_types] == [279]


def test_too_many_batch_inputs(hs: HubSpot) -> None:
    inputs = [PublicFetchAssociationsBatchRequest(id=str(i)) for i in range(1001)]
    with pytest.raises(ApiException) as caught:
        hs.crm.associations.v4.batch_api.get_page(
            "contacts", "companies", BatchInputPublicFetchAssociationsBatchRequest(inputs=inputs)
        )
    assert caught.value.status == 400


def test_create_with_associations_on_v3(hs: HubSpot, records: dict[str, str]) -> None:
    contact = hs.crm.contacts.basic_api.create(
        ContactInput(
            properties={"email": "b@acme.com"},
            associations=[
                {
                    "to": {"id": records["company"]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                }
            ],
        )
    )
    got = hs.crm.contacts.basic_api.get_by_id(contact.id, associations=["companies"])
    assert got.associations["companies"].results[0].type == "contact_to_company_unlabeled"
