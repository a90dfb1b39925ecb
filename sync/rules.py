"""Per-field ownership rules: which value is true and where it must be written (pure).

The engine reads each system's value and shadow for a mapped field, calls :func:`decide`, sends
``writes``, records ``refused`` and ``reasons`` as provenance, and stores ``shadows``. Two
invariants hold for every rule:

* a system is never sent a value :func:`~closedloop.sync.transforms.same_value` says it already
  holds, so a second sync writes nothing and writes cannot ping-pong;
* a value that equals its shadow has not changed: it is closedloop's own write echoing back, or
  nothing happened. A value with no shadow yet counts as a change unless it is blank.

Stamps (origin ``closedloop``) write the ``computed`` value: ``write_once`` only where the
system is blank (a different value there is refused, never overwritten), ``latest_wins``
wherever the system differs; nothing is written while ``computed`` is None. Data fields (origin
``system``) follow the ``roles``: ``crm_owns`` copies the CRM value to the other systems,
``marketing_owns`` the marketing value to the others (a genuine CRM-side edit newer than the
marketing value is refused unless the mapping has ``restore``), ``prefer_crm_unless_blank``
takes the CRM value, or the first non-blank other one, and ``two_way`` the latest genuine
change (ties go to the CRM). An owner that is blank and was never set copies nothing; an owner
whose value was cleared copies the clear. With one system in both roles (or no roles, or only
one system observed) a data field is left as it is. A system holding a fuller form of the
source's value (the same text before truncation, say) is left alone rather than cut down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from closedloop.mappings.field_types import FieldMapping, Rule
from closedloop.sync.model import CanonicalValue
from closedloop.sync.transforms import TransformError, WireValue, from_wire, same_value, to_wire

__all__ = ["FieldDecision", "Observation", "decide"]

_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Observation:
    """What one system holds now for one mapped field.

    Attributes:
        value: the value as read (None when blank).
        changed_at: when it last changed: HubSpot's property-history timestamp, Salesforce's
            record ``SystemModstamp``; only consulted when the value differs from the shadow.
        shadow: what closedloop last wrote or read there (None if never).
    """

    value: WireValue
    changed_at: datetime | None = None
    shadow: WireValue = None


@dataclass(frozen=True)
class FieldDecision:
    """The outcome for one field of one record across every system.

    Attributes:
        value: the canonical value closedloop considers true.
        writes: system -> wire value to write (only where it differs from what is there).
        refused: system -> why a write that the rule wanted was not made.
        reasons: system -> why it was written or left unchanged, for ``closedloop explain``.
        shadows: system -> the shadow to store once the writes have landed: the written value,
            the value read, or (after a refusal) the previous shadow, so a refused edit is
            still recognised as an edit next time.
    """

    canonical: str
    rule: Rule
    value: CanonicalValue
    writes: dict[str, WireValue] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    shadows: dict[str, WireValue] = field(default_factory=dict)


def decide(
    mapping: FieldMapping,
    *,
    computed: CanonicalValue,
    observed: dict[str, Observation],
    roles: dict[str, str],
) -> FieldDecision:
    """Decide one mapped field of one record.

    Args:
        mapping: the field's mapping.
        computed: closedloop's value for a stamp (ignored by data-field rules).
        observed: system -> what it holds; systems without a target in the mapping are ignored.
        roles: ``marketing`` / ``crm`` -> system name (one system may play both).

    Returns:
        The decision; ``writes`` is empty when every system already agrees.
    """
    draft = _Draft(mapping, observed)
    if mapping.rule == "none":
        for system in draft.observed:
            draft.reasons[system] = "none: not synced"
    elif mapping.origin == "closedloop":
        _stamp(draft, computed)
    else:
        _data(draft, roles.get("crm"), roles.get("marketing"))
    return draft.result()


class _Draft:
    """A decision being built."""

    __slots__ = ("label", "mapping", "observed", "reasons", "refused", "value", "writes")

    def __init__(self, mapping: FieldMapping, observed: dict[str, Observation]) -> None:
        self.mapping = mapping
        self.label = mapping.rule.replace("_", "-")
        self.observed = {s: o for s, o in observed.items() if s in mapping.targets}
        self.value: CanonicalValue = None
        self.writes: dict[str, WireValue] = {}
        self.refused: dict[str, str] = {}
        self.reasons: dict[str, str] = {}

    def blank(self, system: str, wire: WireValue) -> bool:
        return same_value(self.mapping.targets[system], wire, None)

    def changed(self, system: str) -> bool:
        seen = self.observed[system]
        return not same_value(self.mapping.targets[system], seen.value, seen.shadow)

    def read(self, system: str) -> CanonicalValue:
        return from_wire(self.mapping.targets[system], self.observed[system].value)

    def offer(self, system: str, value: CanonicalValue, why: str, refusal: str = "") -> None:
        """Write ``value`` to ``system`` unless it holds it already (or ``refusal`` applies)."""
        held = self.observed[system].value
        try:
            wire = to_wire(self.mapping.targets[system], value)
        except TransformError as exc:
            self.refused[system] = f"{self.label}: {exc.reason}"
            return
        if same_value(self.mapping.targets[system], wire, held):
            self.reasons[system] = f"{self.label}: unchanged, already {_show(held)}"
        elif refusal:
            self.refused[system] = f"{self.label}: {refusal}"
        else:
            self.writes[system] = wire
            self.reasons[system] = f"{self.label}: {why}; replaces {_show(held)}"

    def result(self) -> FieldDecision:
        shadows = {
            system: self.writes.get(system, seen.shadow if system in self.refused else seen.value)
            for system, seen in self.observed.items()
        }
        return FieldDecision(
            self.mapping.canonical,
            self.mapping.rule,
            self.value,
            self.writes,
            self.refused,
            self.reasons,
            shadows,
        )


def _stamp(draft: _Draft, computed: CanonicalValue) -> None:
    draft.value = computed
    once = draft.mapping.rule == "write_once"
    for system, seen in draft.observed.items():
        if computed is None or computed == "":
            draft.reasons[system] = f"{draft.label}: nothing computed yet, left as is"
        elif once and not draft.blank(system, seen.value):
            label = draft.mapping.canonical.replace("_", " ")
            refusal = (
                f"{label} already set to {_show(seen.value)} on {system}; "
                f"{_show(computed)} not written"
            )
            draft.offer(system, computed, "", refusal)
        else:
            draft.offer(system, computed, "blank, set once" if once else "computed value")


def _data(draft: _Draft, crm: str | None, marketing: str | None) -> None:
    systems = list(draft.observed)
    rule = draft.mapping.rule
    if crm == marketing or len(systems) < 2:
        own = crm if crm in draft.observed else next(iter(systems), None)
        for system in systems:
            draft.reasons[system] = f"{draft.label}: one system holds it, its own value stands"
        draft.value = _read_or_none(draft, own)
        return
    if rule == "two_way":
        changed = [s for s in systems if draft.changed(s)]
        if not changed:
            draft.value = _read_or_none(draft, crm if crm in draft.observed else systems[0])
            for system in systems:
                draft.reasons[system] = f"{draft.label}: no change since the last sync"
            return
        source = max(changed, key=lambda s: (_when(draft, s), s == crm))
        why = f"{source} changed it last ({_show(draft.observed[source].changed_at)})"
    elif rule == "prefer_crm_unless_blank":
        candidates = [crm, marketing, *systems]
        source = next(
            (s for s in candidates if s in draft.observed and not _blank(draft, s)),
            crm if crm in draft.observed else systems[0],
        )
        why = f"the CRM value ({source})" if source == crm else f"{source}'s value, CRM is blank"
    else:
        role = "crm" if rule == "crm_owns" else "marketing"
        source = (crm if role == "crm" else marketing) or ""
        why, silent = f"{source} owns it", ""
        if not source:
            silent = f"no system plays the {role} role, nothing copied"
        elif source not in draft.observed:
            silent = f"{source} holds no record of it, nothing copied"
        elif _blank(draft, source) and not draft.changed(source):
            silent = f"{source} has no value, nothing copied"
        if silent:
            for system in systems:
                draft.reasons[system] = f"{draft.label}: {silent}"
            filled = [s for s in systems if not _blank(draft, s)]
            draft.value = _read_or_none(draft, next(iter(filled), None))
            return
    _copy(draft, source, why)


def _copy(draft: _Draft, source: str, why: str) -> None:
    """Send ``source``'s value to every other system (within the rule's limits)."""
    try:
        draft.value = draft.read(source)
    except TransformError as exc:
        for system in draft.observed:
            if system != source:
                draft.refused[system] = f"{draft.label}: cannot read {source}: {exc.reason}"
        return
    draft.reasons[source] = f"{draft.label}: source of the value"
    mapping = draft.mapping
    for system, seen in draft.observed.items():
        if system == source:
            continue
        if _agrees(draft, system, source):
            held = _show(seen.value)
            draft.reasons[system] = f"{draft.label}: unchanged, {held} already agrees with {source}"
            continue
        refusal = ""
        edited = draft.changed(system)
        if mapping.rule == "marketing_owns" and not mapping.restore and edited:
            newer = _when(draft, system) > _when(draft, source)
            if not draft.changed(source) or newer:
                refusal = (
                    f"{system} was edited to {_show(seen.value)}; restore is off, so the edit "
                    f"stays ({source} holds {_show(draft.observed[source].value)})"
                )
        note = " (an edit there is undone)" if edited and mapping.rule != "two_way" else ""
        draft.offer(system, draft.value, why + note, refusal)


def _agrees(draft: _Draft, system: str, source: str) -> bool:
    """Whether ``system`` holds ``source``'s value, or a fuller form of it (before truncation)."""
    targets = draft.mapping.targets
    try:
        back = to_wire(targets[source], from_wire(targets[system], draft.observed[system].value))
    except TransformError:
        return False
    return same_value(targets[source], back, draft.observed[source].value)


def _blank(draft: _Draft, system: str) -> bool:
    return draft.blank(system, draft.observed[system].value)


def _read_or_none(draft: _Draft, system: str | None) -> CanonicalValue:
    if system is None or system not in draft.observed:
        return None
    try:
        return draft.read(system)
    except TransformError:
        return None


def _when(draft: _Draft, system: str) -> datetime:
    at = draft.observed[system].changed_at
    if at is None:
        return _EARLIEST
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _show(value: object) -> str:
    if value is None or value == "":
        return "blank"
    return value.isoformat() if isinstance(value, datetime) else repr(value)
