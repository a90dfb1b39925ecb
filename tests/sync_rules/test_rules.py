"""Every ownership rule, table-driven: writes, refusals, echoes, roles, and no second write."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from closedloop.mappings.field_types import FieldMapping
from closedloop.mappings.fields import default_field_mappings
from closedloop.sync.model import CanonicalValue
from closedloop.sync.rules import FieldDecision, Observation, decide

ROLES = {"marketing": "hubspot", "crm": "salesforce"}
T1 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=1)
SAME: Any = object()  # "shadow equals the value": nothing changed since closedloop's last look


def mapping(name: str, entity: str = "person") -> FieldMapping:
    found = default_field_mappings().get(name, entity)
    assert found is not None
    return found


def obs(value: Any, shadow: Any = SAME, at: datetime | None = None) -> Observation:
    return Observation(value, at, value if shadow is SAME else shadow)


def apply(decision: FieldDecision, observed: dict[str, Observation]) -> dict[str, Observation]:
    """What the systems hold after the engine sends the writes and stores the shadows."""
    return {
        system: Observation(decision.writes.get(system, seen.value), None, decision.shadows[system])
        if system in decision.shadows
        else seen
        for system, seen in observed.items()
    }


def run(
    name: str,
    observed: dict[str, Observation],
    computed: CanonicalValue = None,
    roles: dict[str, str] = ROLES,
    entity: str = "person",
) -> FieldDecision:
    """Decide, then check that applying the decision and deciding again writes nothing."""
    field_mapping = mapping(name, entity)
    first = decide(field_mapping, computed=computed, observed=observed, roles=roles)
    again = decide(field_mapping, computed=computed, observed=apply(first, observed), roles=roles)
    assert again.writes == {}, f"second sync wrote {again.writes}"
    assert set(again.refused) <= set(first.refused)
    return first


# One row per situation: (id, mapping, computed, observed, expected writes, expected refusals).
# fmt: off
CASES: list[tuple[str, str, CanonicalValue, dict[str, Observation], dict[str, Any], set[str]]] = [
    # write_once
    ("once: blank everywhere", "first_touch_source", "google",
     {"hubspot": obs(None), "salesforce": obs(None)},
     {"hubspot": "google", "salesforce": "google"}, set()),
    ("once: already equal", "first_touch_source", "google",
     {"hubspot": obs(""), "salesforce": obs("google")}, {"hubspot": "google"}, set()),
    ("once: different value refused", "first_touch_source", "google",
     {"hubspot": obs(None), "salesforce": obs("bing")}, {"hubspot": "google"}, {"salesforce"}),
    ("once: case matters outside picklists", "first_touch_source", "google",
     {"hubspot": obs("Google"), "salesforce": obs("google")}, {}, {"hubspot"}),
    ("once: nothing computed", "first_touch_source", None,
     {"hubspot": obs(None), "salesforce": obs("bing")}, {}, set()),
    ("once: same instant, other format", "first_touch_at", T1,
     {"hubspot": obs(str(int(T1.timestamp() * 1000))),
      "salesforce": obs("2024-03-01T09:00:00.000+0000")}, {}, set()),
    ("once: lead source through the picklist", "lead_source", "Paid Search",
     {"hubspot": obs("x"), "salesforce": obs(None)}, {"salesforce": "Web"}, set()),
    ("once: lead source case-insensitive", "lead_source", "Organic Search",
     {"salesforce": obs("web")}, {}, set()),
    ("once: lead source unmapped gets default", "lead_source", "SMS",
     {"salesforce": obs(None)}, {"salesforce": "Other"}, set()),
    # latest_wins
    ("latest: both differ", "last_touch_source", "linkedin",
     {"hubspot": obs("google"), "salesforce": obs(None)},
     {"hubspot": "linkedin", "salesforce": "linkedin"}, set()),
    ("latest: number representations", "touch_count", 5,
     {"hubspot": obs("5"), "salesforce": obs(5.0)}, {}, set()),
    ("latest: count grows", "touch_count", 6,
     {"hubspot": obs("5"), "salesforce": obs(5.0)}, {"hubspot": "6", "salesforce": 6}, set()),
    ("latest: nothing computed", "last_touch_source", None,
     {"hubspot": obs("google"), "salesforce": obs("bing")}, {}, set()),
    ("latest: truncated value already there", "last_touch_channel", "C" * 100,
     {"hubspot": obs("C" * 100), "salesforce": obs("C" * 80)}, {}, set()),
    # crm_owns
    ("crm: copied to marketing", "job_title", None,
     {"hubspot": obs(""), "salesforce": obs("CEO")}, {"hubspot": "CEO"}, set()),
    ("crm: marketing edit undone", "job_title", None,
     {"hubspot": obs("Boss", "CEO", T2), "salesforce": obs("CEO", at=T1)},
     {"hubspot": "CEO"}, set()),
    ("crm: blank CRM copies nothing", "job_title", None,
     {"hubspot": obs("CTO"), "salesforce": obs(None)}, {}, set()),
    ("crm: a clear in the CRM is copied", "job_title", None,
     {"hubspot": obs("CEO"), "salesforce": obs(None, "CEO", T2)}, {"hubspot": ""}, set()),
    # marketing_owns
    ("marketing: fills the CRM", "company", None,
     {"hubspot": obs("Acme"), "salesforce": obs(None)}, {"salesforce": "Acme"}, set()),
    ("marketing: CRM edit kept (restore off)", "company", None,
     {"hubspot": obs("Acme"), "salesforce": obs("Acme Inc", "Acme", T2)}, {}, {"salesforce"}),
    ("marketing: newer marketing change wins", "company", None,
     {"hubspot": obs("Acme 2", "Acme", T2), "salesforce": obs("Acme Inc", "Acme", T1)},
     {"salesforce": "Acme 2"}, set()),
    ("marketing: newer CRM edit kept", "company", None,
     {"hubspot": obs("Acme 2", "Acme", T1), "salesforce": obs("Acme Inc", "Acme", T2)},
     {}, {"salesforce"}),
    ("marketing: CRM edit restored", "email", None,
     {"hubspot": obs("ann@x.com"), "salesforce": obs("bob@x.com", "ann@x.com", T2)},
     {"salesforce": "ann@x.com"}, set()),
    ("marketing: a required field is never cleared", "company", None,
     {"hubspot": obs("", "Acme", T2), "salesforce": obs("Acme")}, {}, {"salesforce"}),
    ("marketing: case-only difference", "email", None,
     {"hubspot": obs("Ann@X.com"), "salesforce": obs("ann@x.com")}, {}, set()),
    ("marketing: status through the map", "lifecycle_stage", None,
     {"hubspot": obs("salesqualifiedlead", "lead", T2),
      "salesforce": obs("Open - Not Contacted")},
     {"salesforce": "Working - Contacted"}, set()),
    ("marketing: unmapped stage refused", "lifecycle_stage", None,
     {"hubspot": obs("customer", "opportunity", T2), "salesforce": obs("Working - Contacted")},
     {}, {"salesforce"}),
    # prefer_crm_unless_blank
    ("prefer: CRM value wins", "first_name", None,
     {"hubspot": obs("Anne", None, T2), "salesforce": obs("Ann")}, {"hubspot": "Ann"}, set()),
    ("prefer: marketing fills a blank CRM", "first_name", None,
     {"hubspot": obs("Anne"), "salesforce": obs(None)}, {"salesforce": "Anne"}, set()),
    ("prefer: blank everywhere", "first_name", None,
     {"hubspot": obs(""), "salesforce": obs(None)}, {}, set()),
    ("prefer: truncated to Salesforce's length", "first_name", None,
     {"hubspot": obs("A" * 50), "salesforce": obs(None)}, {"salesforce": "A" * 40}, set()),
    # two_way
    ("two-way: nothing changed", "phone", None,
     {"hubspot": obs("111"), "salesforce": obs("222")}, {}, set()),
    ("two-way: echo of our own write", "phone", None,
     {"hubspot": obs("111", "111", T2), "salesforce": obs("111", "111", T2)}, {}, set()),
    ("two-way: marketing changed", "phone", None,
     {"hubspot": obs("333", "111", T2), "salesforce": obs("111")},
     {"salesforce": "333"}, set()),
    ("two-way: later change wins", "phone", None,
     {"hubspot": obs("333", "111", T1), "salesforce": obs("444", "111", T2)},
     {"hubspot": "444"}, set()),
    ("two-way: both changed alike", "phone", None,
     {"hubspot": obs("555", "111", T1), "salesforce": obs("555", "111", T2)}, {}, set()),
    ("two-way: tie goes to the CRM", "phone", None,
     {"hubspot": obs("333", "111", T1), "salesforce": obs("444", "111", T1)},
     {"hubspot": "444"}, set()),
    ("two-way: unknown time loses", "phone", None,
     {"hubspot": obs("333", "111", None), "salesforce": obs("444", "111", T1)},
     {"hubspot": "444"}, set()),
    ("two-way: a clear is copied", "phone", None,
     {"hubspot": obs("", "111", T2), "salesforce": obs("111")}, {"salesforce": None}, set()),
    ("two-way: trimmed value is not a change", "phone", None,
     {"hubspot": obs(" 111 ", "111", T2), "salesforce": obs("111")}, {}, set()),
]
# fmt: on


@pytest.mark.parametrize(
    ("name", "computed", "observed", "writes", "refused"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule_table(
    name: str,
    computed: CanonicalValue,
    observed: dict[str, Observation],
    writes: dict[str, Any],
    refused: set[str],
) -> None:
    decision = run(name, observed, computed)
    assert decision.writes == writes
    assert set(decision.refused) == refused
    assert set(decision.reasons) | set(decision.refused) == set(decision.shadows)
    for system, value in writes.items():
        assert decision.shadows[system] == value


def test_write_once_refusal_text() -> None:
    observed = {"hubspot": obs(None), "salesforce": obs("bing")}
    decision = run("first_touch_source", observed, "google")
    assert decision.refused["salesforce"] == (
        "write-once: first touch source already set to 'bing' on salesforce; 'google' not written"
    )
    assert decision.reasons["hubspot"] == "write-once: blank, set once; replaces blank"
    assert decision.value == "google"


def test_marketing_owns_refusal_keeps_the_old_shadow() -> None:
    observed = {"hubspot": obs("Acme"), "salesforce": obs("Acme Inc", "Acme", T2)}
    decision = run("company", observed)
    assert decision.refused["salesforce"] == (
        "marketing-owns: salesforce was edited to 'Acme Inc'; restore is off, so the edit stays "
        "(hubspot holds 'Acme')"
    )
    assert decision.shadows == {"hubspot": "Acme", "salesforce": "Acme"}
    assert decision.value == "Acme"


def test_reasons_explain_writes_and_unchanged_values() -> None:
    observed = {"hubspot": obs("Boss", "CEO", T2), "salesforce": obs("CEO")}
    decision = run("job_title", observed)
    assert decision.reasons["hubspot"] == (
        "crm-owns: salesforce owns it (an edit there is undone); replaces 'Boss'"
    )
    assert decision.reasons["salesforce"] == "crm-owns: source of the value"
    same = run("job_title", {"hubspot": obs("CEO"), "salesforce": obs("CEO")})
    assert same.reasons["hubspot"] == "crm-owns: unchanged, 'CEO' already agrees with salesforce"
    stamp = run("touch_count", {"hubspot": obs("5"), "salesforce": obs(5.0)}, 5)
    assert stamp.reasons["salesforce"] == "latest-wins: unchanged, already 5.0"


def test_a_fuller_value_is_not_cut_down_to_the_source() -> None:
    long_name = "A" * 50
    observed = {"hubspot": obs(long_name), "salesforce": obs("A" * 40)}
    decision = run("first_name", observed)
    assert decision.writes == {}
    assert decision.reasons["hubspot"] == (
        f"prefer-crm-unless-blank: unchanged, {long_name!r} already agrees with salesforce"
    )


def test_transform_refusal_reason() -> None:
    observed = {"hubspot": obs("customer", "lead", T2), "salesforce": obs("Open - Not Contacted")}
    decision = run("lifecycle_stage", observed)
    assert decision.refused == {
        "salesforce": "marketing-owns: no Status value is mapped for 'customer'"
    }


def test_clearing_a_required_field_is_refused() -> None:
    observed = {"hubspot": obs("", "Acme", T2), "salesforce": obs("Acme")}
    decision = run("company", observed)
    assert decision.refused == {
        "salesforce": "marketing-owns: Company is required, so it is never cleared"
    }


def test_rule_none_writes_nothing() -> None:
    none = dataclasses.replace(mapping("phone"), rule="none")
    observed = {"hubspot": obs("1", "0", T2), "salesforce": obs("2")}
    decision = decide(none, computed=None, observed=observed, roles=ROLES)
    assert decision.writes == {}
    assert decision.reasons == {"hubspot": "none: not synced", "salesforce": "none: not synced"}


def test_deal_stamps_use_opportunity_fields() -> None:
    observed = {"hubspot": obs(None), "salesforce": obs(None)}
    decision = run("touch_count", observed, 3, entity="deal")
    assert decision.writes == {"hubspot": "3", "salesforce": 3}


def test_systems_without_a_target_are_ignored() -> None:
    decision = run("lead_source", {"hubspot": obs(None), "salesforce": obs(None)}, "Email")
    assert decision.writes == {"salesforce": "Web"}
    assert set(decision.shadows) == {"salesforce"}


class TestOneSystemInBothRoles:
    """HubSpot-only (or Salesforce-only): stamps are written, data fields stay as they are."""

    roles: ClassVar[dict[str, str]] = {"marketing": "hubspot", "crm": "hubspot"}

    def test_stamps_write_the_computed_value(self) -> None:
        once = run("first_touch_source", {"hubspot": obs(None)}, "google", self.roles)
        assert once.writes == {"hubspot": "google"}
        latest = run("touch_count", {"hubspot": obs("2")}, 3, self.roles)
        assert latest.writes == {"hubspot": "3"}

    @pytest.mark.parametrize("name", ["job_title", "company", "first_name", "phone", "email"])
    def test_data_fields_keep_their_own_value(self, name: str) -> None:
        decision = run(name, {"hubspot": obs("x@y.z", "old", T2)}, None, self.roles)
        assert decision.writes == {}
        assert decision.value == "x@y.z"
        assert "one system holds it" in decision.reasons["hubspot"]

    def test_salesforce_only_ignores_a_stray_observation(self) -> None:
        roles = {"marketing": "salesforce", "crm": "salesforce"}
        observed = {"hubspot": obs("Boss", "x", T2), "salesforce": obs("CEO")}
        decision = run("job_title", observed, None, roles)
        assert decision.writes == {}
        assert decision.value == "CEO"


def test_missing_owner_copies_nothing() -> None:
    observed = {"hubspot": obs("CTO"), "salesforce": obs("CEO")}
    decision = run("job_title", observed, None, {"marketing": "hubspot"})
    assert decision.writes == {}
    assert decision.reasons["hubspot"] == ("crm-owns: no system plays the crm role, nothing copied")
    assert decision.value == "CTO"
    no_roles = run("job_title", observed, None, {})
    assert no_roles.writes == {}
    roles = {"marketing": "marketo", "crm": "salesforce"}
    absent = run("company", {"hubspot": obs(""), "salesforce": obs("Acme")}, None, roles)
    assert absent.writes == {}
    assert (
        absent.reasons["hubspot"] == "marketing-owns: marketo holds no record of it, nothing copied"
    )
    assert absent.value == "Acme"
