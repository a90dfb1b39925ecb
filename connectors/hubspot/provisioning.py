"""The HubSpot properties closedloop writes: what they are, what is missing, creating them.

The wanted set is data (``mappings/data/hubspot_properties.yaml``): one property group and, per
object, closedloop's properties, with the touch properties expanded once per touch kind.
Provisioning lists what exists, plans what is missing (a dry run stops there) and creates the
group first, then each property; a second run finds everything and creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import yaml
from hubspot.crm.properties import BatchInputPropertyCreate, PropertyGroupCreate

from closedloop.connectors.contract import ProvisionStep
from closedloop.connectors.hubspot.api import STANDARD, HubSpotApi
from closedloop.runtime.errors import SkippableSyncError

CREATE_BATCH = 100


@dataclass(frozen=True)
class PropertySpec:
    """One custom property closedloop needs on one object."""

    object_type: str
    name: str
    label: str
    type: str
    field_type: str
    unique: bool = False

    def body(self, group: str) -> dict[str, Any]:
        """The ``PropertyCreate`` body HubSpot expects."""
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": group,
            "description": "Maintained by closedloop; do not edit by hand.",
        }
        if self.unique:
            body["hasUniqueValue"] = True
        return body


@dataclass(frozen=True)
class PropertyPlan:
    """The group and properties closedloop needs in a portal."""

    group_name: str
    group_label: str
    properties: tuple[PropertySpec, ...]

    def objects(self) -> list[str]:
        """The object types that get properties."""
        return sorted({p.object_type for p in self.properties})


def load_property_plan() -> PropertyPlan:
    """Read and expand the shipped ``hubspot_properties.yaml``."""
    text = files("closedloop.mappings").joinpath("data/hubspot_properties.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    specs: list[PropertySpec] = []
    for object_type, spec in data["objects"].items():
        if spec.get("touch_properties"):
            for kind, kind_label in data["touch_kinds"].items():
                for field, meta in data["touch_fields"].items():
                    specs.append(
                        PropertySpec(
                            object_type,
                            f"{kind}_{field}",
                            f"{kind_label} {meta['label']}",
                            meta["type"],
                            meta["fieldType"],
                        )
                    )
        for prop in spec.get("properties", []):
            specs.append(
                PropertySpec(
                    object_type,
                    prop["name"],
                    prop["label"],
                    prop["type"],
                    prop["fieldType"],
                    bool(prop.get("hasUniqueValue", False)),
                )
            )
    return PropertyPlan(data["group"]["name"], data["group"]["label"], tuple(specs))


class HubSpotProvisioner:
    """Checks and creates closedloop's property group and properties in one portal."""

    def __init__(self, api: HubSpotApi, plan: PropertyPlan | None = None) -> None:
        self._api = api
        self.plan = plan or load_property_plan()

    def existing(self, object_type: str) -> tuple[set[str], set[str]]:
        """The property names and group names that exist on ``object_type``."""
        core = self._api.api("crm.properties.core_api")
        groups = self._api.api("crm.properties.groups_api")
        props, _ = self._api.call(STANDARD, core.get_all_with_http_info, object_type)
        found_groups, _ = self._api.call(STANDARD, groups.get_all_with_http_info, object_type)
        return (
            {p.name for p in props.results or []},
            {g.name for g in found_groups.results or []},
        )

    def steps(self) -> list[ProvisionStep]:
        """What provisioning would do (``exists`` true where nothing is needed)."""
        steps: list[ProvisionStep] = []
        for object_type in self.plan.objects():
            names, groups = self.existing(object_type)
            steps.append(
                ProvisionStep(
                    "property group",
                    f"{object_type}.{self.plan.group_name}",
                    self.plan.group_label,
                    self.plan.group_name in groups,
                )
            )
            for spec in self.plan.properties:
                if spec.object_type == object_type:
                    steps.append(
                        ProvisionStep(
                            "property",
                            f"{object_type}.{spec.name}",
                            f"{spec.label} ({spec.type})",
                            spec.name in names,
                        )
                    )
        return steps

    def apply(self, *, dry_run: bool) -> list[ProvisionStep]:
        """Create what is missing (nothing when ``dry_run``); return the plan."""
        steps = self.steps()
        if dry_run:
            return steps
        missing = {s.target for s in steps if not s.exists}
        groups = self._api.api("crm.properties.groups_api")
        batch = self._api.api("crm.properties.batch_api")
        for object_type in self.plan.objects():
            if f"{object_type}.{self.plan.group_name}" in missing:
                body = PropertyGroupCreate(name=self.plan.group_name, label=self.plan.group_label)
                self._api.call(STANDARD, groups.create_with_http_info, object_type, body)
            wanted = [
                s.body(self.plan.group_name)
                for s in self.plan.properties
                if s.object_type == object_type and f"{object_type}.{s.name}" in missing
            ]
            for start in range(0, len(wanted), CREATE_BATCH):
                chunk = wanted[start : start + CREATE_BATCH]
                try:
                    self._api.call(
                        STANDARD,
                        batch.create_with_http_info,
                        object_type,
                        BatchInputPropertyCreate(inputs=chunk),
                    )
                except SkippableSyncError as exc:
                    raise SkippableSyncError(
                        f"HubSpot refused closedloop's properties on {object_type}: {exc}",
                        status=exc.status,
                        body=exc.body,
                    ) from None
        return steps
