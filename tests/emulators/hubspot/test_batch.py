"""CRM v3 batch endpoints: exact statuses, 207 bodies and the 100-input limit."""

from __future__ import annotations

import json

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInputUpsert as ObjectsUpsert
from hubspot.crm.objects import SimplePublicObjectBatchInputUpsert as ObjectUpsertRow


def create_rows(hs: HubSpot, emails: list[str]) -> list[str]:
    answer = hs.crm.contacts.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[SimplePublicObjectBatchInputForCreate(properties={"email": e}) for e in emails]
        )
    )
    return [r.id for r in answer.results]


def test_batch_create_answers_201(hs: HubSpot) -> None:
    answer, status, _headers = hs.crm.contacts.batch_api.create_with_http_info(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties={"email": "a@x.com"}, object_write_trace_id="t-1"
                ),
            ]
        )
    )
    assert status == 201
    assert answer.status == "COMPLETE"
    assert answer.results[0].properties["email"] == "a@x.com"
    assert answer.results[0].object_write_trace_id == "t-1"


def test_batch_create_reports_rows_when_every_input_has_a_trace_id(hs: HubSpot) -> None:
    answer, status, _ = hs.crm.contacts.batch_api.create_with_http_info(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties={"email": "ok@x.com"}, object_write_trace_id="r-1"
                ),
                SimplePublicObjectBatchInputForCreate(
                    properties={"bogus": "1"}, object_write_trace_id="r-2"
                ),
            ]
        )
    )
    assert status == 207
    assert answer.num_errors == 1
    assert [r.properties["email"] for r in answer.results] == ["ok@x.com"]
    error = answer.errors[0]
    assert error.category == "VALIDATION_ERROR"
    assert error.context == {"objectWriteTraceId": ["r-2"]}
    assert error.errors[0].code == "PROPERTY_DOESNT_EXIST"


def test_batch_create_without_trace_ids_fails_whole_call(hs: HubSpot) -> None:
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    SimplePublicObjectBatchInputForCreate(properties={"email": "fine@x.com"}),
                    SimplePublicObjectBatchInputForCreate(properties={"bogus": "1"}),
                ]
            )
        )
    assert caught.value.status == 400
    assert hs.crm.contacts.basic_api.get_page().results == []


def test_batch_of_101_is_refused(hs: HubSpot) -> None:
    rows = [
        SimplePublicObjectBatchInputForCreate(properties={"email": f"{i}@x.com"})
        for i in range(101)
    ]
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(inputs=rows)
        )
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["category"] == "VALIDATION_ERROR"
    with pytest.raises(ApiException):
        hs.crm.contacts.batch_api.read(
            BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=str(i)) for i in range(101)],
                properties=[],
                properties_with_history=[],
            )
        )


def test_batch_read_reports_missing_ids_as_207(hs: HubSpot) -> None:
    ids = create_rows(hs, ["r1@x.com", "r2@x.com"])
    answer, status, _ = hs.crm.contacts.batch_api.read_with_http_info(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ids[0]), SimplePublicObjectId(id="42")],
            properties=["email"],
            properties_with_history=["email"],
        )
    )
    assert status == 207
    assert [r.id for r in answer.results] == [ids[0]]
    assert answer.results[0].properties_with_history["email"][0].value == "r1@x.com"
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": ["42"]}
    full, status, _ = hs.crm.contacts.batch_api.read_with_http_info(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=["email"],
            properties_with_history=[],
        )
    )
    assert status == 200
    assert len(full.results) == 2


def test_batch_read_by_email(hs: HubSpot) -> None:
    ids = create_rows(hs, ["e1@x.com"])
    answer = hs.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="E1@x.com")],
            id_property="email",
            properties=["email"],
            properties_with_history=[],
        )
    )
    assert [r.id for r in answer.results] == ids


def test_batch_update_answers_200_and_207_for_missing(hs: HubSpot) -> None:
    ids = create_rows(hs, ["u1@x.com", "u2@x.com"])
    answer, status, _ = hs.crm.contacts.batch_api.update_with_http_info(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=ids[0], properties={"firstname": "One"}),
                SimplePublicObjectBatchInput(id=ids[1], properties={"firstname": "Two"}),
            ]
        )
    )
    assert status == 200
    assert {r.properties["firstname"] for r in answer.results} == {"One", "Two"}
    answer, status, _ = hs.crm.contacts.batch_api.update_with_http_info(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=ids[0], properties={"firstname": "Uno"}),
                SimplePublicObjectBatchInput(id="777", properties={"firstname": "Nobody"}),
            ]
        )
    )
    assert status == 207
    assert answer.errors[0].context == {"ids": ["777"]}


def test_batch_upsert_by_email_marks_new_rows(hs: HubSpot) -> None:
    existing = create_rows(hs, ["known@x.com"])[0]
    answer, status, _ = hs.crm.contacts.batch_api.upsert_with_http_info(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id="known@x.com", id_property="email", properties={"firstname": "Known"}
                ),
                SimplePublicObjectBatchInputUpsert(
                    id="fresh@x.com", id_property="email", properties={"firstname": "Fresh"}
                ),
            ]
        )
    )
    assert status == 200
    by_email = {r.properties["email"]: r for r in answer.results}
    assert by_email["known@x.com"].id == existing
    assert by_email["known@x.com"].new is False
    assert by_email["fresh@x.com"].new is True


def test_upsert_needs_a_unique_property(hs: HubSpot) -> None:
    from hubspot.crm.objects import ApiException as ObjectsApiException  # noqa: PLC0415

    with pytest.raises(ObjectsApiException) as caught:
        hs.crm.objects.batch_api.upsert(
            "0-2",
            ObjectsUpsert(
                inputs=[
                    ObjectUpsertRow(
                        id="acme.com", id_property="domain", properties={"name": "Acme"}
                    )
                ]
            ),
        )
    assert caught.value.status == 400


def test_batch_archive_answers_204(hs: HubSpot) -> None:
    ids = create_rows(hs, ["z1@x.com", "z2@x.com"])
    result, status, _ = hs.crm.contacts.batch_api.archive_with_http_info(
        BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=ids[0])])
    )
    assert status == 204
    assert result is None
    assert [r.id for r in hs.crm.contacts.basic_api.get_page(archived=True).results] == [ids[0]]
