"""A fresh portal's schema and pipeline, and the properties, groups and pipelines APIs."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from hubspot.crm.pipelines import (
    PipelineInput,
    PipelineStageInput,
    PipelineStagePatchInput,
)
from hubspot.crm.properties import (
    ApiException,
    BatchInputPropertyCreate,
    BatchInputPropertyName,
    BatchReadInputPropertyName,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyGroupUpdate,
    PropertyName,
    PropertyUpdate,
)

SOURCE_PROPERTIES = {
    "hs_analytics_source",
    "hs_analytics_source_data_1",
    "hs_analytics_source_data_2",
    "hs_latest_source",
    "hs_latest_source_data_1",
    "hs_latest_source_data_2",
    "hs_latest_source_timestamp",
    "hs_analytics_first_url",
    "hs_analytics_first_referrer",
    "hs_analytics_first_touch_converting_campaign",
    "hs_google_click_id",
    "hs_facebook_click_id",
    "hs_object_source",
    "lastmodifieddate",
}


def closedloop_property(name: str, **extra: object) -> PropertyCreate:
    return PropertyCreate(
        name=name,
        label=name.title(),
        type="string",
        field_type="text",
        group_name="contactinformation",
        **extra,
    )


def test_fresh_portal_has_default_properties_and_no_custom_ones(hs: HubSpot) -> None:
    contacts = hs.crm.properties.core_api.get_all("contacts").results
    names = {p.name for p in contacts}
    assert names >= SOURCE_PROPERTIES
    assert all(p.hubspot_defined for p in contacts)
    source = next(p for p in contacts if p.name == "hs_analytics_source")
    assert {o.value for o in source.options} >= {"ORGANIC_SEARCH", "PAID_SEARCH", "OFFLINE"}
    assert source.modification_metadata.read_only_value is True
    deals = {p.name for p in hs.crm.properties.core_api.get_all("deals").results}
    assert deals >= {
        "dealname",
        "amount",
        "dealstage",
        "pipeline",
        "hs_is_closed_won",
        "deal_currency_code",
        "hs_lastmodifieddate",
        "amount_in_home_currency",
    }
    groups = {g.name for g in hs.crm.properties.groups_api.get_all("companies").results}
    assert {"companyinformation", "analyticsinformation"} <= groups


def test_property_lifecycle(hs: HubSpot) -> None:
    created, status, _ = hs.crm.properties.core_api.create_with_http_info(
        "contacts", closedloop_property("closedloop_external_id", has_unique_value=True)
    )
    assert status == 201
    assert created.hubspot_defined is False
    assert created.modification_metadata.archivable is True
    updated = hs.crm.properties.core_api.update(
        "contacts", "closedloop_external_id", PropertyUpdate(label="External id")
    )
    assert updated.label == "External id"
    contact = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"closedloop_external_id": "ext-1"})
    )
    found = hs.crm.contacts.basic_api.get_by_id("ext-1", id_property="closedloop_external_id")
    assert found.id == contact.id
    _, status, _ = hs.crm.properties.core_api.archive_with_http_info(
        "contacts", "closedloop_external_id"
    )
    assert status == 204
    archived = hs.crm.properties.core_api.get_all("contacts", archived=True).results
    assert [p.name for p in archived] == ["closedloop_external_id"]


def test_property_errors(hs: HubSpot) -> None:
    hs.crm.properties.core_api.create("contacts", closedloop_property("utm_source"))
    with pytest.raises(ApiException) as caught:
        hs.crm.properties.core_api.create("contacts", closedloop_property("utm_source"))
    assert caught.value.status == 409
    with pytest.raises(ApiException) as caught:
        hs.crm.properties.core_api.create(
            "contacts",
            PropertyCreate(
                name="bad",
                label="Bad",
                type="number",
                field_type="text",
                group_name="contactinformation",
            ),
        )
    assert caught.value.status == 400
    with pytest.raises(ApiException) as caught:
        hs.crm.properties.core_api.archive("contacts", "email")
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"
    with pytest.raises(ApiException) as caught:
        hs.crm.properties.core_api.get_by_name("contacts", "missing")
    assert caught.value.status == 404


def test_batch_properties_and_groups(hs: HubSpot) -> None:
    group, status, _ = hs.crm.properties.groups_api.create_with_http_info(
        "contacts", PropertyGroupCreate(name="closedloop", label="closedloop")
    )
    assert status == 201
    assert group.archived is False
    hs.crm.properties.groups_api.update(
        "contacts", "closedloop", PropertyGroupUpdate(label="Closed loop")
    )
    assert hs.crm.properties.groups_api.get_by_name("contacts", "closedloop").label == "Closed loop"
    inputs = [
        PropertyCreate(
            name="first_touch_channel",
            label="First touch channel",
            type="enumeration",
            field_type="select",
            group_name="closedloop",
            options=[OptionInput(label="Paid", value="paid", hidden=False, display_order=0)],
        ),
        PropertyCreate(
            name="closed_won_revenue",
            label="Revenue",
            type="number",
            field_type="number",
            group_name="closedloop",
        ),
    ]
    created, status, _ = hs.crm.properties.batch_api.create_with_http_info(
        "contacts", BatchInputPropertyCreate(inputs=inputs)
    )
    assert status == 201
    assert {p.name for p in created.results} == {"first_touch_channel", "closed_won_revenue"}
    read, status, _ = hs.crm.properties.batch_api.read_with_http_info(
        "contacts",
        BatchReadInputPropertyName(
            archived=False,
            inputs=[PropertyName(name="closed_won_revenue"), PropertyName(name="nope")],
        ),
    )
    assert status == 207
    assert read.errors[0].context == {"propertyName": ["nope"]}
    _, status, _ = hs.crm.properties.batch_api.archive_with_http_info(
        "contacts",
        BatchInputPropertyName(
            inputs=[
                PropertyName(name="closed_won_revenue"),
                PropertyName(name="first_touch_channel"),
            ]
        ),
    )
    assert status == 204
    _, status, _ = hs.crm.properties.groups_api.archive_with_http_info("contacts", "closedloop")
    assert status == 204


def test_default_deal_pipeline(hs: HubSpot) -> None:
    pipelines = hs.crm.pipelines.pipelines_api.get_all("deals").results
    assert [p.id for p in pipelines] == ["default"]
    stages = {s.id: s.metadata for s in pipelines[0].stages}
    assert list(stages) == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "presentationscheduled",
        "decisionmakerboughtin",
        "contractsent",
        "closedwon",
        "closedlost",
    ]
    assert stages["closedwon"] == {"isClosed": "true", "probability": "1.0"}
    assert stages["closedlost"] == {"isClosed": "true", "probability": "0.0"}
    assert stages["contractsent"]["isClosed"] == "false"


def test_pipeline_and_stage_crud(hs: HubSpot) -> None:
    created, status, _ = hs.crm.pipelines.pipelines_api.create_with_http_info(
        "deals",
        PipelineInput(
            label="Partners",
            display_order=1,
            stages=[
                PipelineStageInput(
                    label="Open",
                    display_order=0,
                    metadata={"isClosed": "false", "probability": "0.5"},
                ),
                PipelineStageInput(
                    label="Won",
                    display_order=1,
                    metadata={"isClosed": "true", "probability": "1.0"},
                ),
            ],
        ),
    )
    assert status == 201
    stage, status, _ = hs.crm.pipelines.pipeline_stages_api.create_with_http_info(
        "deals",
        created.id,
        PipelineStageInput(
            label="Lost", display_order=2, metadata={"isClosed": "true", "probability": "0.0"}
        ),
    )
    assert status == 201
    renamed = hs.crm.pipelines.pipeline_stages_api.update(
        "deals", created.id, stage.id, PipelineStagePatchInput(label="Lost (partner)")
    )
    assert renamed.label == "Lost (partner)"
    stages = hs.crm.pipelines.pipeline_stages_api.get_all("deals", created.id).results
    assert [s.label for s in stages] == ["Open", "Won", "Lost (partner)"]
    _, status, _ = hs.crm.pipelines.pipeline_stages_api.archive_with_http_info(
        "deals", created.id, stage.id
    )
    assert status == 204
    _, status, _ = hs.crm.pipelines.pipelines_api.archive_with_http_info("deals", created.id)
    assert status == 204
