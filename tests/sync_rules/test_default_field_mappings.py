"""The shipped field mappings: coverage of every stamp, the person fields, and the catalogs."""

from __future__ import annotations

from importlib.resources import files

import pytest
import yaml

from closedloop.mappings.field_types import RULES, FieldMappings
from closedloop.mappings.fields import default_field_mappings, load_field_mappings
from closedloop.sync.model import PERSON_FIELDS, STAMP_FIELDS, TOUCH_ATTRIBUTES, TOUCH_KINDS

HUBSPOT_OBJECTS = {"person": ("contacts",), "deal": ("deals",)}
SALESFORCE_OBJECTS = {"person": ("Lead", "Contact"), "deal": ("Opportunity",)}


@pytest.fixture(scope="module")
def mappings() -> FieldMappings:
    return load_field_mappings()


def _data(name: str) -> dict:
    text = files("closedloop.mappings").joinpath(f"data/{name}").read_text("utf-8")
    return yaml.safe_load(text)


def test_rules_are_listed_at_runtime() -> None:
    assert RULES == (
        "write_once",
        "latest_wins",
        "crm_owns",
        "marketing_owns",
        "prefer_crm_unless_blank",
        "two_way",
        "none",
    )


@pytest.mark.parametrize("entity", ["person", "deal"])
@pytest.mark.parametrize("canonical", STAMP_FIELDS)
def test_every_stamp_is_mapped_on_both_systems(
    mappings: FieldMappings, canonical: str, entity: str
) -> None:
    mapping = mappings.get(canonical, entity)
    assert mapping is not None
    assert mapping.origin == "closedloop"
    assert mapping.computed_from == canonical
    hubspot, salesforce = mapping.targets["hubspot"], mapping.targets["salesforce"]
    assert hubspot.field == f"cl_{canonical}"
    assert hubspot.object_types == HUBSPOT_OBJECTS[entity]
    assert salesforce.object_types == SALESFORCE_OBJECTS[entity]
    assert salesforce.field.startswith("CL_")
    assert salesforce.field.endswith("__c")
    expected = "latest_wins" if canonical.startswith("last_touch") else "write_once"
    if canonical in ("touch_count", "days_to_convert"):
        expected = "latest_wins"
    assert mapping.rule == expected


def test_salesforce_stamp_names_follow_the_provisioning_convention(
    mappings: FieldMappings,
) -> None:
    catalog = _data("salesforce_fields.yaml")
    for kind in TOUCH_KINDS:
        kind_label = next(k for k in catalog["touch_kinds"] if k.lower() == kind)
        for attr in TOUCH_ATTRIBUTES:
            field_label = (
                "Time"
                if attr == "at"
                else next(f for f in catalog["touch_fields"] if f.lower() == attr)
            )
            spec = catalog["touch_fields"][field_label]
            target = mappings.get(f"{kind}_{attr}").targets["salesforce"]
            assert target.field == f"CL_{kind_label}_{field_label}__c"
            assert target.max_length == spec.get("length")
            assert target.value_type == ("datetime" if spec["type"] == "DateTime" else "string")


def test_every_closedloop_target_exists_in_the_provisioning_catalogs(
    mappings: FieldMappings,
) -> None:
    hubspot = _data("hubspot_properties.yaml")
    hs_types = {
        f"{kind}_{attr}": spec["type"]
        for kind in hubspot["touch_kinds"]
        for attr, spec in hubspot["touch_fields"].items()
    }
    sf = _data("salesforce_fields.yaml")
    sf_types = {
        name: "DateTime" if name.endswith("Time__c") else "Text"
        for name in (f"CL_{k}_{f}__c" for k in sf["touch_kinds"] for f in sf["touch_fields"])
    }
    for field_set in sf["field_sets"].values():
        sf_types.update({item["name"]: item["type"] for item in field_set})
    for prop in hubspot["objects"]["contacts"]["properties"]:
        hs_types[prop["name"]] = prop["type"]
    for mapping in mappings:
        hs = mapping.targets.get("hubspot")
        if hs is not None and hs.field.startswith("cl_"):
            kind = hs_types[hs.field]
            assert hs.value_type == {"string": "string", "datetime": "datetime"}.get(kind, "number")
        sf_field = mapping.targets["salesforce"]
        if sf_field.field.startswith("CL_"):
            kind = sf_types[sf_field.field]
            wanted = {"DateTime": "datetime", "Number": "number"}.get(kind, "string")
            assert sf_field.value_type == wanted


def test_person_fields(mappings: FieldMappings) -> None:
    expected = {
        "email": ("marketing_owns", "email", "Email", ("Lead", "Contact")),
        "first_name": ("prefer_crm_unless_blank", "firstname", "FirstName", ("Lead", "Contact")),
        "last_name": ("prefer_crm_unless_blank", "lastname", "LastName", ("Lead", "Contact")),
        "company": ("marketing_owns", "company", "Company", ("Lead",)),
        "phone": ("two_way", "phone", "Phone", ("Lead", "Contact")),
        "lifecycle_stage": ("marketing_owns", "lifecyclestage", "Status", ("Lead",)),
        "job_title": ("crm_owns", "jobtitle", "Title", ("Lead", "Contact")),
    }
    assert set(PERSON_FIELDS) <= set(expected)
    for name, (rule, hubspot, salesforce, objects) in expected.items():
        mapping = mappings.get(name)
        assert mapping is not None, name
        assert (mapping.rule, mapping.origin, mapping.entity) == (rule, "system", "person")
        assert mapping.targets["hubspot"].field == hubspot
        assert mapping.targets["salesforce"].field == salesforce
        assert mapping.targets["salesforce"].object_types == objects
    assert mappings.get("email").targets["hubspot"].transforms == ("trim", "lower")
    assert mappings.get("email").restore is True
    assert mappings.get("lifecycle_stage").restore is False


def test_match_key_is_the_email(mappings: FieldMappings) -> None:
    assert mappings.match_key("hubspot", "person").field == "email"
    assert mappings.match_key("salesforce", "person").field == "Email"
    assert mappings.match_key("salesforce", "deal") is None


def test_lead_source_uses_standard_picklist_values(mappings: FieldMappings) -> None:
    standard = {"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"}
    channels = yaml.safe_load(
        files("closedloop.mappings").joinpath("data/channels.yaml").read_text("utf-8")
    )
    for entity in ("person", "deal"):
        mapping = mappings.get("lead_source", entity)
        assert (mapping.rule, mapping.computed_from) == ("write_once", "first_touch_channel")
        target = mapping.targets["salesforce"]
        assert "hubspot" not in mapping.targets
        assert set(target.picklist.values()) <= standard
        assert target.picklist_default == "Other"
        assert target.picklist["Organic Search"] == "Web"
        for rule in channels["rules"]:
            assert rule["channel"] in target.picklist or rule["channel"] in ("Audio", "SMS")


def test_lead_status_map_only_uses_open_statuses(mappings: FieldMappings) -> None:
    target = mappings.get("lifecycle_stage").targets["salesforce"]
    assert set(target.picklist.values()) == {"Open - Not Contacted", "Working - Contacted"}
    assert target.picklist_default is None


def test_queries(mappings: FieldMappings) -> None:
    contact = {m.canonical for m in mappings.for_system("salesforce", "Contact")}
    lead = {m.canonical for m in mappings.for_system("salesforce", "lead")}
    assert lead - contact == {"company", "lifecycle_stage"}
    opportunity = mappings.for_system("salesforce", "Opportunity")
    assert {m.entity for m in opportunity} == {"deal"}
    assert len(opportunity) == len(STAMP_FIELDS) + 1
    deals = mappings.for_system("hubspot", "deals")
    assert {m.canonical for m in deals} == set(STAMP_FIELDS)
    assert len(mappings.for_entity("deal")) == len(opportunity)
    assert len(mappings) == len(mappings.for_entity("person")) + len(opportunity)
    assert mappings.get("first_touch_source", "deal").entity == "deal"
    assert mappings.get("nope") is None


def test_default_is_cached() -> None:
    assert default_field_mappings() is default_field_mappings()
