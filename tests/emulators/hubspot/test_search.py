"""CRM search: every operator, sorting, paging, the 10,000 cap and the request limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInputForCreate,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectInput,
)
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import PublicObjectSearchRequest as DealSearch
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealInput

from closedloop.emulators.hubspot import HubSpotEmulator

PEOPLE = [
    {"email": "ada@alpha.com", "firstname": "Ada", "lifecyclestage": "lead", "city": "Oslo"},
    {"email": "ben@beta.io", "firstname": "Ben", "lifecyclestage": "customer"},
    {"email": "cy@alpha.com", "firstname": "Cy Young", "lifecyclestage": "lead", "city": "Rome"},
]


@pytest.fixture
def people(hs: HubSpot) -> list[str]:
    answer = hs.crm.contacts.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[SimplePublicObjectBatchInputForCreate(properties=p) for p in PEOPLE]
        )
    )
    return sorted(r.id for r in answer.results)


def search(hs: HubSpot, *filters: dict[str, Any], **options: Any) -> Any:
    groups = [{"filters": list(filters)}] if filters else []
    return hs.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(filter_groups=groups, **options)
    )


def emails(page: Any) -> list[str]:
    return [r.properties["email"] for r in page.results]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"propertyName": "firstname", "operator": "EQ", "value": "ada"}, ["ada@alpha.com"]),
        (
            {"propertyName": "firstname", "operator": "NEQ", "value": "Ada"},
            ["ben@beta.io", "cy@alpha.com"],
        ),
        ({"propertyName": "hs_object_id", "operator": "LT", "value": "1000002"}, ["ada@alpha.com"]),
        (
            {"propertyName": "hs_object_id", "operator": "LTE", "value": "1000002"},
            ["ada@alpha.com", "ben@beta.io"],
        ),
        ({"propertyName": "hs_object_id", "operator": "GT", "value": "1000002"}, ["cy@alpha.com"]),
        (
            {"propertyName": "hs_object_id", "operator": "GTE", "value": "1000002"},
            ["ben@beta.io", "cy@alpha.com"],
        ),
        (
            {
                "propertyName": "hs_object_id",
                "operator": "BETWEEN",
                "value": "1000002",
                "highValue": "1000003",
            },
            ["ben@beta.io", "cy@alpha.com"],
        ),
        (
            {"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer"]},
            ["ben@beta.io"],
        ),
        (
            {"propertyName": "lifecyclestage", "operator": "NOT_IN", "values": ["customer"]},
            ["ada@alpha.com", "cy@alpha.com"],
        ),
        ({"propertyName": "city", "operator": "HAS_PROPERTY"}, ["ada@alpha.com", "cy@alpha.com"]),
        ({"propertyName": "city", "operator": "NOT_HAS_PROPERTY"}, ["ben@beta.io"]),
        (
            {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@alpha.com"},
            ["ada@alpha.com", "cy@alpha.com"],
        ),
        (
            {"propertyName": "firstname", "operator": "CONTAINS_TOKEN", "value": "young"},
            ["cy@alpha.com"],
        ),
        (
            {"propertyName": "email", "operator": "NOT_CONTAINS_TOKEN", "value": "*@alpha.com"},
            ["ben@beta.io"],
        ),
        (
            {"propertyName": "createdate", "operator": "GTE", "value": "1767607200000"},
            ["ada@alpha.com", "ben@beta.io", "cy@alpha.com"],
        ),
        ({"propertyName": "createdate", "operator": "LT", "value": "2026-01-05T10:00:00Z"}, []),
    ],
)
def test_operator(
    hs: HubSpot, people: list[str], rule: dict[str, Any], expected: list[str]
) -> None:
    page = search(hs, rule, properties=["email"])
    assert emails(page) == expected
    assert page.total == len(expected)


def test_groups_are_ored_and_filters_anded(hs: HubSpot, people: list[str]) -> None:
    page = hs.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
                        {"propertyName": "city", "operator": "EQ", "value": "rome"},
                    ]
                },
                {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Ben"}]},
            ],
            properties=["email"],
        )
    )
    assert emails(page) == ["ben@beta.io", "cy@alpha.com"]


def test_sort_paging_and_default_properties(hs: HubSpot, people: list[str]) -> None:
    page = search(hs, sorts=[{"propertyName": "firstname", "direction": "DESCENDING"}], limit=2)
    assert [r.properties["firstname"] for r in page.results] == ["Cy Young", "Ben"]
    assert set(page.results[0].properties) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
    }
    assert page.paging.next.after == "2"
    rest = search(
        hs,
        sorts=[{"propertyName": "firstname", "direction": "DESCENDING"}],
        limit=2,
        after=page.paging.next.after,
    )
    assert [r.properties["firstname"] for r in rest.results] == ["Ada"]
    assert rest.paging is None


def test_free_text_query(hs: HubSpot, people: list[str]) -> None:
    assert emails(search(hs, query="beta", properties=["email"])) == ["ben@beta.io"]


@pytest.mark.parametrize(
    "request_options",
    [
        {"limit": 201},
        {"after": "10000"},
        {"sorts": [{"propertyName": "email"}, {"propertyName": "firstname"}]},
        {
            "filter_groups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}]
            * 6
        },
        {
            "filter_groups": [
                {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}
            ]
        },
        {
            "filter_groups": [
                {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 5}
            ]
            * 4
        },
        {"query": "x" * 3001},
        {"filter_groups": [{"filters": [{"propertyName": "nope", "operator": "HAS_PROPERTY"}]}]},
    ],
    ids=[
        "limit-201",
        "after-10000",
        "two-sorts",
        "six-groups",
        "seven-filters",
        "twenty-filters",
        "body-too-large",
        "unknown-property",
    ],
)
def test_limits_answer_400_validation_error(hs: HubSpot, request_options: dict[str, Any]) -> None:
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.search_api.do_search(PublicObjectSearchRequest(**request_options))
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"


def test_ten_thousand_cap_with_records_sharing_one_millisecond(
    hs: HubSpot, emulator: HubSpotEmulator, admin: Any
) -> None:
    admin.post("seed", {"contacts": 10_001, "journeys": False, "utm_properties": False})
    touched = admin.post("records/touch", {"objectType": "contacts", "timestampMs": 1767600000123})
    assert touched["touched"] == 10_001
    rule = {"propertyName": "lastmodifieddate", "operator": "EQ", "value": "1767600000123"}
    page = search(
        hs,
        rule,
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        limit=200,
        after="9800",
    )
    assert page.total == 10_001
    assert len(page.results) == 200
    assert page.paging.next.after == "10000"
    with pytest.raises(ApiException) as caught:
        search(hs, rule, limit=200, after=page.paging.next.after)
    assert caught.value.status == 400
    del emulator


def test_index_lag_hides_fresh_writes(
    hs: HubSpot, emulator: HubSpotEmulator, admin: Any, people: list[str]
) -> None:
    admin.post("search-index", {"lag_ms": 2000})
    hs.crm.contacts.basic_api.update(
        people[0], SimplePublicObjectInput(properties={"city": "Lima"})
    )
    rule = {"propertyName": "city", "operator": "EQ", "value": "Lima"}
    assert search(hs, rule).total == 0
    emulator.clock.advance(2)
    assert search(hs, rule).total == 1


def test_archived_records_never_match(hs: HubSpot, people: list[str]) -> None:
    hs.crm.contacts.basic_api.archive(people[0])
    assert search(hs).total == 2


def test_deal_search_by_association_and_won_flag(hs: HubSpot, people: list[str]) -> None:
    deal = hs.crm.deals.basic_api.create(
        DealInput(
            properties={"dealname": "Won", "dealstage": "closedwon", "amount": "50"},
            associations=[
                {
                    "to": {"id": people[1]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                }
            ],
        )
    )
    hs.crm.deals.basic_api.create(
        DealInput(properties={"dealname": "Open", "dealstage": "qualifiedtobuy"})
    )
    won = hs.crm.deals.search_api.do_search(
        DealSearch(
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"}
                    ]
                }
            ]
        )
    )
    assert [r.id for r in won.results] == [deal.id]
    linked = hs.crm.deals.search_api.do_search(
        DealSearch(
            filter_groups=[
                {
                    "filters": [
                        {
                            "propertyName": "associations.contact",
                            "operator": "EQ",
                            "value": people[1],
                        }
                    ]
                }
            ]
        )
    )
    assert [r.id for r in linked.results] == [deal.id]
    assert set(linked.results[0].properties) >= {"dealname", "amount", "dealstage", "pipeline"}
    with pytest.raises(DealsApiException):
        hs.crm.deals.search_api.do_search(DealSearch(limit=500))
