"""Deal pipelines and their stages, with the stage metadata that says what "won" means.

A stage's ``metadata`` holds strings: ``isClosed`` (``"true"``/``"false"``) and, for deals,
``probability`` (``"1.0"`` won, ``"0.0"`` lost). Callers hold the portal lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from closedloop.emulators.hubspot.errors import not_found, validation_error
from closedloop.emulators.hubspot.property_model import load_default_pipelines


@dataclass
class Stage:
    """One pipeline stage."""

    id: str
    label: str
    display_order: int
    metadata: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False

    @property
    def is_closed(self) -> bool:
        """Whether deals in this stage are closed."""
        return self.metadata.get("isClosed", "false") == "true"

    @property
    def probability(self) -> float:
        """The stage's win probability (0.0 when unset)."""
        try:
            return float(self.metadata.get("probability", "0"))
        except ValueError:
            return 0.0

    @property
    def is_won(self) -> bool:
        """Closed with probability 1.0."""
        return self.is_closed and self.probability >= 1.0


@dataclass
class Pipeline:
    """One pipeline of an object type."""

    id: str
    label: str
    display_order: int
    created_ms: int
    updated_ms: int
    stages: dict[str, Stage] = field(default_factory=dict)
    archived: bool = False

    def live_stages(self) -> list[Stage]:
        """Stages not archived, in display order."""
        return sorted(
            (s for s in self.stages.values() if not s.archived), key=lambda s: s.display_order
        )


class PipelineStore:
    """Pipelines per object type; a new portal has the default deal pipeline."""

    def __init__(self, now_ms: int) -> None:
        self.pipelines: dict[str, dict[str, Pipeline]] = {"deals": {}}
        self._next_id = 1
        for object_type, pipelines in load_default_pipelines().items():
            for raw in pipelines:
                self.add(object_type, raw, now_ms, pipeline_id=raw["id"])

    def new_id(self) -> str:
        """A fresh numeric id for a pipeline or stage."""
        value = str(10_000_000 + self._next_id)
        self._next_id += 1
        return value

    def listing(self, object_type: str) -> list[Pipeline]:
        """Live pipelines of a type, in display order."""
        return sorted(
            (p for p in self._of(object_type).values() if not p.archived),
            key=lambda p: (p.display_order, p.id),
        )

    def get(self, object_type: str, pipeline_id: str) -> Pipeline:
        """One live pipeline.

        Raises:
            HubSpotApiError: 404 when there is none.
        """
        found = self._of(object_type).get(pipeline_id)
        if found is None or found.archived:
            raise not_found(f"Unable to find pipeline {pipeline_id}")
        return found

    def stage(self, object_type: str, pipeline_id: str, stage_id: str) -> Stage:
        """One live stage.

        Raises:
            HubSpotApiError: 404 when the pipeline or stage does not exist.
        """
        found = self.get(object_type, pipeline_id).stages.get(stage_id)
        if found is None or found.archived:
            raise not_found(f"Unable to find stage {stage_id} in pipeline {pipeline_id}")
        return found

    def find_stage(self, pipeline_id: str, stage_id: str) -> Stage | None:
        """A live deal stage, or ``None``."""
        pipeline = self.pipelines["deals"].get(pipeline_id)
        if pipeline is None or pipeline.archived:
            return None
        stage = pipeline.stages.get(stage_id)
        return stage if stage is not None and not stage.archived else None

    def add(
        self, object_type: str, body: dict[str, Any], now_ms: int, *, pipeline_id: str | None = None
    ) -> Pipeline:
        """Create a pipeline from a ``PipelineInput`` body.

        Raises:
            HubSpotApiError: 400 when the label or stages are missing.
        """
        if not body.get("label") or not body.get("stages"):
            raise validation_error("A pipeline needs a label and at least one stage.")
        pipeline = Pipeline(
            pipeline_id or self.new_id(),
            str(body["label"]),
            int(body.get("displayOrder", 0)),
            now_ms,
            now_ms,
        )
        for raw_stage in body["stages"]:
            self.add_stage(pipeline, raw_stage, now_ms, stage_id=raw_stage.get("id"))
        self._of(object_type)[pipeline.id] = pipeline
        return pipeline

    def add_stage(
        self, pipeline: Pipeline, body: dict[str, Any], now_ms: int, *, stage_id: str | None = None
    ) -> Stage:
        """Add a stage from a ``PipelineStageInput`` body.

        Raises:
            HubSpotApiError: 400 when the label is missing or metadata is malformed.
        """
        if not body.get("label"):
            raise validation_error("A pipeline stage needs a label.")
        metadata = {str(k): str(v) for k, v in (body.get("metadata") or {}).items()}
        metadata.setdefault("isClosed", "false")
        if "probability" in metadata:
            try:
                probability = float(metadata["probability"])
            except ValueError:
                probability = -1.0
            if not 0.0 <= probability <= 1.0:
                raise validation_error("Stage probability must be between 0.0 and 1.0.")
        stage = Stage(
            stage_id or self.new_id(),
            str(body["label"]),
            int(body.get("displayOrder", len(pipeline.stages))),
            metadata,
            now_ms,
            now_ms,
        )
        pipeline.stages[stage.id] = stage
        return stage

    def _of(self, object_type: str) -> dict[str, Pipeline]:
        if object_type not in self.pipelines:
            raise validation_error(f"Object type {object_type} has no pipelines.")
        return self.pipelines[object_type]
