"""Property tests: applying a decision and deciding again never writes (no ping-pong)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.mappings.field_types import FieldMapping, SystemField
from closedloop.mappings.fields import default_field_mappings
from closedloop.sync.model import CanonicalValue
from closedloop.sync.rules import FieldDecision, Observation, decide
from closedloop.sync.transforms import from_wire, same_value, to_wire

ROLES = {"marketing": "hubspot", "crm": "salesforce"}
BASE = datetime(2024, 3, 1, tzinfo=UTC)
WHEN = st.one_of(st.none(), st.integers(0, 5).map(lambda h: BASE + timedelta(hours=h)))
SETTINGS = settings(max_examples=150, deadline=None)


def observation(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Observation]:
    """A value, a changed_at and a shadow that is often the value itself (nothing changed)."""
    return st.builds(
        lambda value, at, shadow, same: Observation(value, at, value if same else shadow),
        values,
        WHEN,
        values,
        st.booleans(),
    )


def apply(decision: FieldDecision, observed: dict[str, Observation]) -> dict[str, Observation]:
    return {
        system: Observation(
            decision.writes.get(system, seen.value), None, decision.shadows.get(system, seen.shadow)
        )
        for system, seen in observed.items()
    }


def settle(
    mapping: FieldMapping, observed: dict[str, Observation], computed: CanonicalValue = None
) -> tuple[FieldDecision, dict[str, Observation]]:
    first = decide(mapping, computed=computed, observed=observed, roles=ROLES)
    after = apply(first, observed)
    again = decide(mapping, computed=computed, observed=after, roles=ROLES)
    assert again.writes == {}
    return first, after


TEXT = st.sampled_from([None, "", "111", " 111 ", "222", "+1 555", "A" * 45, "a" * 45, "Ann"])
PAIR = st.fixed_dictionaries({"hubspot": observation(TEXT), "salesforce": observation(TEXT)})
DATA_RULES = st.sampled_from(["phone", "job_title", "company", "email", "first_name"])


@SETTINGS
@given(DATA_RULES, PAIR)
def test_data_rules_settle_in_one_sync(name: str, observed: dict[str, Observation]) -> None:
    mapping = default_field_mappings().get(name)
    assert mapping is not None
    settle(mapping, observed)


def _source(decision: FieldDecision) -> str | None:
    return next(
        (s for s, why in decision.reasons.items() if why.endswith("source of the value")), None
    )


def _converged(
    mapping: FieldMapping, decision: FieldDecision, after: dict[str, Observation]
) -> None:
    source = _source(decision)
    if source is None or decision.refused:
        return
    home = mapping.targets[source]
    for system, seen in after.items():
        target = mapping.targets[system]
        holds_value = same_value(target, seen.value, to_wire(target, decision.value))
        fuller = same_value(home, to_wire(home, from_wire(target, seen.value)), after[source].value)
        assert holds_value or fuller, (system, seen.value, decision.value)


@SETTINGS
@given(PAIR)
def test_two_way_text_converges_on_the_latest_change(observed: dict[str, Observation]) -> None:
    mapping = default_field_mappings().get("phone")
    assert mapping is not None
    decision, after = settle(mapping, observed)
    changed = [
        s for s, o in observed.items() if not same_value(mapping.targets[s], o.value, o.shadow)
    ]
    if not changed:
        assert decision.writes == {}
        return
    _converged(mapping, decision, after)
    earliest = datetime.min.replace(tzinfo=UTC)
    winner = max(changed, key=lambda s: (observed[s].changed_at or earliest, s == "salesforce"))
    assert _source(decision) == winner


def _typed(value_type: str) -> FieldMapping:
    targets = {
        "hubspot": SystemField("hubspot", ("contacts",), "x", value_type=value_type),  # type: ignore[arg-type]
        "salesforce": SystemField("salesforce", ("Lead",), "X__c", value_type=value_type),  # type: ignore[arg-type]
    }
    return FieldMapping(f"custom_{value_type}", "two_way", "person", targets, "system")


HS_NUMBERS = st.sampled_from([None, "", "5", "5.0", "7", "7.25", "-1"])
SF_NUMBERS = st.sampled_from([None, 5, 5.0, 7, 7.25, -1.0])
INSTANT = st.integers(0, 3).map(lambda m: BASE + timedelta(minutes=m))
HS_TIMES = st.one_of(
    st.none(),
    INSTANT.map(lambda t: t.isoformat().replace("+00:00", "Z")),
    INSTANT.map(lambda t: str(int(t.timestamp() * 1000))),
)
SF_TIMES = st.one_of(st.none(), INSTANT.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.000+0000")))


@SETTINGS
@given(
    st.sampled_from([("number", HS_NUMBERS, SF_NUMBERS), ("datetime", HS_TIMES, SF_TIMES)]).flatmap(
        lambda spec: st.tuples(
            st.just(spec[0]),
            st.fixed_dictionaries(
                {"hubspot": observation(spec[1]), "salesforce": observation(spec[2])}
            ),
        )
    )
)
def test_two_way_typed_values_settle_and_converge(case: tuple[str, dict[str, Observation]]) -> None:
    value_type, observed = case
    mapping = _typed(value_type)
    decision, after = settle(mapping, observed)
    _converged(mapping, decision, after)


STAMPS = st.sampled_from(["first_touch_source", "last_touch_source", "touch_count", "lead_source"])
STAMP_VALUES = st.sampled_from([None, "google", "Google", "bing", "Paid Search", "SMS"])


@SETTINGS
@given(STAMPS, STAMP_VALUES, PAIR)
def test_stamps_settle_and_write_once_never_overwrites(
    name: str, computed: CanonicalValue, observed: dict[str, Observation]
) -> None:
    mapping = default_field_mappings().get(name)
    assert mapping is not None
    if mapping.canonical == "touch_count":
        computed = len(str(computed))
        observed = {
            s: Observation(str(len(o.value or "")), o.changed_at, o.shadow)
            for s, o in observed.items()
        }
    decision, after = settle(mapping, observed, computed)
    for system in decision.writes:
        if mapping.rule == "write_once":
            assert same_value(mapping.targets[system], observed[system].value, None)
    if computed is not None:
        for system, seen in after.items():
            if system in mapping.targets and system not in decision.refused:
                target = mapping.targets[system]
                assert same_value(target, seen.value, to_wire(target, computed))
