"""Plan the writes for one person (or deal): every mapped field, every system, with reasons.

The planner is pure. It takes what each system holds now (a :class:`SystemView`, including
closedloop's shadow copy of what it last wrote or read there) and the values closedloop
computed (the stamps), asks :func:`~closedloop.sync.rules.decide` about each mapped field, and
returns per system a :class:`RecordPlan`: the changed fields only (a second run over unchanged
data plans nothing), the refusals, the reasons and the shadow values to remember once the
writes have landed. ``closedloop sync --dry-run`` prints exactly these plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from closedloop.mappings.field_types import FieldMapping
from closedloop.sync.model import CanonicalValue, RecordRef
from closedloop.sync.rules import Observation, decide
from closedloop.sync.transforms import WireValue

Outcome = Literal["write", "refused"]


@dataclass(frozen=True)
class SystemView:
    """One system's record of a person or deal, or the record about to be created.

    Attributes:
        record_id: the vendor id; None when closedloop is about to create the record, which
            is then upserted by ``match`` with ``create_fields`` (required-field defaults).
        fields: current values by system field name, as read.
        modified_at: the record's last-modified time (Salesforce uses it per field).
        changed_at: per-field change times, where the system keeps history (HubSpot).
        shadow: closedloop's copy of what it last wrote or read there, by field.
    """

    system: str
    object_type: str
    record_id: str | None
    fields: Mapping[str, WireValue]
    modified_at: datetime | None = None
    changed_at: Mapping[str, datetime] = field(default_factory=dict)
    shadow: Mapping[str, WireValue] = field(default_factory=dict)
    person_id: str | None = None
    match: tuple[str, str] | None = None
    create_fields: Mapping[str, WireValue] = field(default_factory=dict)

    def ref(self) -> RecordRef:
        """The record's reference (only for records that exist)."""
        if self.record_id is None:
            raise ValueError("a record about to be created has no reference yet")
        return RecordRef(self.system, self.object_type, self.record_id)


@dataclass(frozen=True)
class PlannedChange:
    """One field of one record: what closedloop will write (or refused to), and why."""

    canonical: str
    field: str
    rule: str
    outcome: Outcome
    value: WireValue
    previous: WireValue
    reason: str


@dataclass
class RecordPlan:
    """Everything planned for one record."""

    view: SystemView
    changes: list[PlannedChange] = field(default_factory=list)
    shadows: dict[str, WireValue] = field(default_factory=dict)

    @property
    def writes(self) -> dict[str, WireValue]:
        """Field -> value to send: only what changes."""
        return {c.field: c.value for c in self.changes if c.outcome == "write"}

    @property
    def refusals(self) -> list[PlannedChange]:
        """Changes a rule wanted but closedloop refused to make."""
        return [c for c in self.changes if c.outcome == "refused"]


def plan_record_set(
    mappings: Iterable[FieldMapping],
    computed: Mapping[str, CanonicalValue],
    views: Mapping[str, SystemView],
    roles: Mapping[str, str],
) -> dict[str, RecordPlan]:
    """Decide every mapped field for one person's (or deal's) records, one per system."""
    plans = {system: RecordPlan(view) for system, view in views.items()}
    role_of = dict(roles)
    seen = list(views.items())
    for mapping in mappings:
        observed: dict[str, Observation] = {}
        fields: dict[str, str] = {}
        for system, view in seen:
            target = mapping.targets.get(system)
            if target is None or view.object_type not in target.object_types:
                continue
            name = target.field
            observed[system] = Observation(
                view.fields.get(name),
                view.changed_at.get(name, view.modified_at),
                view.shadow.get(name),
            )
            fields[system] = name
        if not observed:
            continue
        decision = decide(
            mapping,
            computed=computed.get(mapping.computed_from or mapping.canonical),
            observed=observed,
            roles=role_of,
        )
        writes, refused, shadows = decision.writes, decision.refused, decision.shadows
        for system, name in fields.items():
            plan = plans[system]
            if system in writes:
                reason = decision.reasons.get(system, mapping.rule)
                previous = observed[system].value
                change = PlannedChange(
                    mapping.canonical, name, mapping.rule, "write", writes[system], previous, reason
                )
                plan.changes.append(change)
            elif system in refused:
                previous = observed[system].value
                change = PlannedChange(
                    mapping.canonical,
                    name,
                    mapping.rule,
                    "refused",
                    previous,
                    previous,
                    refused[system],
                )
                plan.changes.append(change)
            if system in shadows:
                plan.shadows[name] = shadows[system]
    return plans
