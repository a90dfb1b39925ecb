"""Pipelines and stages: ``/crm/v3/pipelines/{objectType}[/{pipelineId}[/stages[/{stageId}]]]``.

Stage ``metadata`` carries ``isClosed`` and ``probability`` as strings (1.0 won, 0.0 lost).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from closedloop.emulators.hubspot.app_context import current_portal
from closedloop.emulators.hubspot.errors import json_response, validation_error
from closedloop.emulators.hubspot.object_types import resolve_object_type
from closedloop.emulators.hubspot.pipelines import Pipeline, Stage
from closedloop.emulators.hubspot.request_args import json_object
from closedloop.emulators.hubspot.values import iso_from_ms

BASE = "/crm/v3/pipelines/<object_type>"


def stage_json(stage: Stage) -> dict[str, Any]:
    """A ``PipelineStage``."""
    return {
        "id": stage.id,
        "label": stage.label,
        "displayOrder": stage.display_order,
        "metadata": dict(stage.metadata),
        "createdAt": iso_from_ms(stage.created_ms),
        "updatedAt": iso_from_ms(stage.updated_ms),
        "archived": stage.archived,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def pipeline_json(pipeline: Pipeline) -> dict[str, Any]:
    """A ``Pipeline`` with its live stages."""
    return {
        "id": pipeline.id,
        "label": pipeline.label,
        "displayOrder": pipeline.display_order,
        "stages": [stage_json(s) for s in pipeline.live_stages()],
        "createdAt": iso_from_ms(pipeline.created_ms),
        "updatedAt": iso_from_ms(pipeline.updated_ms),
        "archived": pipeline.archived,
    }


blueprint = Blueprint("hubspot_pipelines", __name__)


@blueprint.get(BASE)
def _list_pipelines(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        results = [pipeline_json(p) for p in portal.pipelines.listing(kind.name)]
    return json_response({"results": results})


@blueprint.post(BASE)
def _create_pipeline(object_type: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        answer = pipeline_json(portal.pipelines.add(kind.name, body, portal.now_ms()))
    return json_response(answer, 201)


@blueprint.get(f"{BASE}/<pipeline_id>")
def _get_pipeline(object_type: str, pipeline_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        answer = pipeline_json(portal.pipelines.get(kind.name, pipeline_id))
    return json_response(answer)


@blueprint.route(f"{BASE}/<pipeline_id>", methods=["PATCH", "PUT"])
def _update_pipeline(object_type: str, pipeline_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        pipeline = portal.pipelines.get(kind.name, pipeline_id)
        pipeline.label = str(body.get("label", pipeline.label))
        pipeline.display_order = int(body.get("displayOrder", pipeline.display_order))
        if "stages" in body:
            for stage in pipeline.stages.values():
                stage.archived = True
            for raw in body["stages"]:
                portal.pipelines.add_stage(pipeline, raw, portal.now_ms(), stage_id=raw.get("id"))
        pipeline.updated_ms = portal.now_ms()
        answer = pipeline_json(pipeline)
    return json_response(answer)


@blueprint.delete(f"{BASE}/<pipeline_id>")
def _archive_pipeline(object_type: str, pipeline_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        pipeline = portal.pipelines.get(kind.name, pipeline_id)
        in_use = any(r.properties.get("pipeline") == pipeline_id for r in portal.store(kind).live())
        if in_use:
            raise validation_error(f"Pipeline {pipeline_id} still holds records.")
        pipeline.archived = True
    return Response(status=204)


@blueprint.get(f"{BASE}/<pipeline_id>/stages")
def _list_stages(object_type: str, pipeline_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        pipeline = portal.pipelines.get(kind.name, pipeline_id)
        results = [stage_json(s) for s in pipeline.live_stages()]
    return json_response({"results": results})


@blueprint.post(f"{BASE}/<pipeline_id>/stages")
def _create_stage(object_type: str, pipeline_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        pipeline = portal.pipelines.get(kind.name, pipeline_id)
        answer = stage_json(portal.pipelines.add_stage(pipeline, body, portal.now_ms()))
    return json_response(answer, 201)


@blueprint.get(f"{BASE}/<pipeline_id>/stages/<stage_id>")
def _get_stage(object_type: str, pipeline_id: str, stage_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        answer = stage_json(portal.pipelines.stage(kind.name, pipeline_id, stage_id))
    return json_response(answer)


@blueprint.route(f"{BASE}/<pipeline_id>/stages/<stage_id>", methods=["PATCH", "PUT"])
def _update_stage(object_type: str, pipeline_id: str, stage_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    body = json_object()
    with portal.lock:
        stage = portal.pipelines.stage(kind.name, pipeline_id, stage_id)
        stage.label = str(body.get("label", stage.label))
        stage.display_order = int(body.get("displayOrder", stage.display_order))
        if "metadata" in body:
            stage.metadata.update({str(k): str(v) for k, v in body["metadata"].items()})
        stage.updated_ms = portal.now_ms()
        answer = stage_json(stage)
    return json_response(answer)


@blueprint.delete(f"{BASE}/<pipeline_id>/stages/<stage_id>")
def _archive_stage(object_type: str, pipeline_id: str, stage_id: str) -> Response:
    portal = current_portal()
    kind = resolve_object_type(object_type)
    with portal.lock:
        stage = portal.pipelines.stage(kind.name, pipeline_id, stage_id)
        in_use = any(r.properties.get("dealstage") == stage_id for r in portal.store(kind).live())
        if in_use:
            raise validation_error(f"Stage {stage_id} still holds records.")
        stage.archived = True
    return Response(status=204)
