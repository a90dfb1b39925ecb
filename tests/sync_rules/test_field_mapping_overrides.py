"""Admin override files: extends, change, add, remove, replace, and every kind of invalid file."""

from __future__ import annotations

import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.mappings.field_types import DEFAULT_FILE, FieldMappingError
from closedloop.mappings.fields import load_field_mappings
from closedloop.runtime.errors import MappingError
from closedloop.sync.model import STAMP_FIELDS

MINIMAL = """
version: 1
entities:
  person:
    objects: {hubspot: [contacts], salesforce: [Lead]}
    match_key: email
fields:
  email:
    rule: marketing_owns
    hubspot: email
    salesforce: Email
"""


def write(folder: Path, text: str, name: str = "field_mappings.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_override_dir_changes_rules_and_merges_targets(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        extends: default
        fields:
          company: {restore: true}
          first_touch_source: {rule: latest_wins}
          job_title:
            salesforce: {max_length: 64}
          lead_source:
            salesforce: {picklist: {Paid Search: Advertisement, Email: Email}}
        """,
    )
    mappings = load_field_mappings(override_dir=tmp_path)
    company = mappings.get("company")
    assert company.restore is True
    assert company.file == str(tmp_path / "field_mappings.yaml")
    assert mappings.get("first_touch_source").rule == "latest_wins"
    assert mappings.get("first_touch_source", "deal").rule == "latest_wins"
    title = mappings.get("job_title").targets["salesforce"]
    assert (title.field, title.max_length) == ("Title", 64)
    picklist = mappings.get("lead_source").targets["salesforce"].picklist
    assert picklist["Paid Search"] == "Advertisement"
    assert picklist["Email"] == "Email"
    assert picklist["Organic Search"] == "Web"  # the default entries stay
    default = load_field_mappings().get("lead_source").targets["salesforce"].picklist
    assert default["Paid Search"] == "Web"  # the cached default is untouched
    assert mappings.get("first_name").file == DEFAULT_FILE


def test_override_adds_and_removes_mappings(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        extends: default
        fields:
          phone: {rule: none}
          lead_source: {rule: none}
          industry:
            rule: two_way
            hubspot: industry
            salesforce: {field: Industry, objects: [Lead]}
          first_touch_gclid:
            rule: write_once
            from: first_touch_click_id
            entities: [person, deal]
            salesforce: {field: GCLID__c, max_length: 100}
          company:
            salesforce: null
        """,
    )
    mappings = load_field_mappings(override_dir=tmp_path)
    assert mappings.get("phone") is None
    assert mappings.get("lead_source") is None
    industry = mappings.get("industry")
    assert (industry.rule, industry.origin) == ("two_way", "system")
    gclid = mappings.get("first_touch_gclid", "deal")
    assert (gclid.origin, gclid.computed_from) == ("closedloop", "first_touch_click_id")
    assert gclid.targets["salesforce"].object_types == ("Opportunity",)
    assert set(mappings.get("company").targets) == {"hubspot"}


def test_short_form_replaces_a_target(tmp_path: Path) -> None:
    write(tmp_path, "extends: default\nfields:\n  job_title: {salesforce: Custom_Title__c}\n")
    target = load_field_mappings(override_dir=tmp_path).get("job_title").targets["salesforce"]
    assert (target.field, target.max_length) == ("Custom_Title__c", None)


def test_file_without_extends_replaces_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL, "mine.yaml")
    mappings = load_field_mappings(path)
    assert [m.canonical for m in mappings] == ["email"]
    assert mappings.match_key("salesforce").object_types == ("Lead",)


def test_path_and_override_dir_layer_in_order(tmp_path: Path) -> None:
    base = write(tmp_path, MINIMAL, "base.yaml")
    admin = tmp_path / "config"
    admin.mkdir()
    write(admin, "extends: default\nfields:\n  email: {restore: true}\n")
    mappings = load_field_mappings(base, override_dir=admin)
    assert [m.canonical for m in mappings] == ["email"]
    assert mappings.get("email").restore is True


def test_missing_override_file_means_the_default(tmp_path: Path) -> None:
    mappings = load_field_mappings(override_dir=tmp_path / "absent")
    assert mappings.get("first_touch_source") is not None


# One row per mistake: (id, override body, mapping named in the error, part of the reason).
# fmt: off
INVALID = [
    ("unknown rule", "fields:\n  phone: {rule: sometimes}", "phone", "unknown rule 'sometimes'"),
    ("unknown canonical field", "fields:\n  first_tuch_source: {rule: write_once, hubspot: x}",
     "first_tuch_source", "unknown canonical field 'first_tuch_source'"),
    ("write_once on a data field", "fields:\n  company: {rule: write_once}",
     "company", "use prefer_crm_unless_blank"),
    ("ownership rule on a stamp", "fields:\n  touch_count: {rule: crm_owns}",
     "touch_count", "stamp closedloop computes"),
    ("from a non-stamp", "fields:\n  x_source: {rule: write_once, from: email, salesforce: X__c}",
     "x_source", "unknown canonical field 'email' in from"),
    ("unknown transform", "fields:\n  phone: {hubspot: {transforms: [trim, titlecase]}}",
     "phone/hubspot", "unknown transform 'titlecase'"),
    ("picklist with numbers", "fields:\n  lifecycle_stage: {salesforce: {picklist: {lead: 5}}}",
     "lifecycle_stage/salesforce", "bad picklist map"),
    ("picklist not a map",
     "fields:\n  lifecycle_stage: {salesforce: {field: Status, picklist: [a, b]}}",
     "lifecycle_stage/salesforce", "bad picklist map"),
    ("picklist on a number", "fields:\n  touch_count: {salesforce: {picklist: {a: b}}}",
     "touch_count/salesforce", "bad picklist map"),
    ("default without a map", "fields:\n  phone: {salesforce: {picklist_default: Other}}",
     "phone/salesforce", "bad picklist_default"),
    ("duplicate target field", "fields:\n  job_title: {salesforce: {field: phone}}",
     "job_title/salesforce", "duplicate target field Lead.phone (also in 'phone')"),
    ("missing match key", "fields:\n  email: {rule: none}",
     "entities.person", "missing match key: 'email'"),
    ("match key not on every object", "fields:\n  email: {salesforce: {objects: [Lead]}}",
     "entities.person", "missing match key"),
    ("remove nothing", "fields:\n  fax: {rule: none}", "fax", "no mapping to remove"),
    ("unknown system", "fields:\n  phone: {pipedrive: phone}", "phone",
     "unknown keys ['pipedrive']"),
    ("object outside the entity", "fields:\n  company: {salesforce: {objects: [Account]}}",
     "company/salesforce", "objects: only some of ['Lead', 'Contact']"),
    ("bad max_length", "fields:\n  phone: {salesforce: {max_length: 0}}", "phone/salesforce",
     "max_length"),
    ("required not a bool", "fields:\n  phone: {hubspot: {required: yes please}}",
     "phone/hubspot", "required: true or false"),
    ("unknown type", "fields:\n  phone: {hubspot: {type: money}}", "phone/hubspot",
     "unknown type"),
    ("restore elsewhere", "fields:\n  phone: {restore: true}", "phone", "marketing_owns only"),
    ("restore not a bool", "fields:\n  email: {restore: 1}", "email", "restore: true or false"),
    ("no targets", "fields:\n  fax: {rule: two_way}", "fax", "maps no system field"),
    ("bad name", "fields:\n  Fax: {rule: two_way, hubspot: fax}", "Fax", "lower_snake_case"),
    ("unknown entity", "fields:\n  fax: {rule: two_way, entities: [lead], hubspot: f}", "fax",
     "unknown entity lead"),
    ("entity objects not a map", "entities:\n  person: {objects: [contacts]}",
     "entities.person", "objects: system -> [object types]"),
    ("unknown entity kind", "entities:\n  company: {objects: {hubspot: [companies]}}",
     "entities.company", "unknown entity"),
    ("top level", "mappings: {}", "(file)", "unknown top-level keys ['mappings']"),
    ("extends other", "extends: salesforce", "(file)", "'extends' can only be 'default'"),
    ("bad version", "version: 2\nextends: default", "(file)", "unsupported version 2"),
    ("not a mapping", "- a\n- b", "(file)", "must be a mapping"),
    ("bad yaml", "fields: {phone: [", "(file)", "not valid YAML"),
    ("entry not a mapping", "fields:\n  phone: two_way", "phone", "must be a mapping"),
]
# fmt: on


@pytest.mark.parametrize(
    ("body", "mapping", "reason"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_overrides_name_file_mapping_and_reason(
    tmp_path: Path, body: str, mapping: str, reason: str
) -> None:
    whole = body.startswith(("version", "extends", "-", "mappings"))
    path = write(tmp_path, body if whole else "extends: default\n" + body)
    with pytest.raises(FieldMappingError) as caught:
        load_field_mappings(override_dir=tmp_path)
    error = caught.value
    assert isinstance(error, MappingError)
    assert error.exit_code == 2
    assert error.file == str(path)
    assert error.mapping == mapping
    assert reason in error.reason
    assert str(error) == f"{path}: {mapping}: {error.reason}"


def test_replacement_file_must_be_complete(tmp_path: Path) -> None:
    path = write(tmp_path, "fields:\n  email: {rule: marketing_owns, hubspot: email}\n", "x.yaml")
    with pytest.raises(FieldMappingError, match="'entities' and 'fields' are required"):
        load_field_mappings(path)


def test_person_entity_needs_a_match_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("    match_key: email\n", ""), "x.yaml")
    with pytest.raises(FieldMappingError) as caught:
        load_field_mappings(path)
    assert caught.value.mapping == "entities.person"
    assert "missing match key" in caught.value.reason


def test_system_without_objects_on_the_entity(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """
  deal_name:
    rule: crm_owns
    entities: [deal]
    hubspot: dealname
    salesforce: Name
"""
    )
    text = text.replace(
        "    match_key: email\n",
        "    match_key: email\n  deal:\n    objects: {salesforce: [Opportunity]}\n",
    )
    path = write(tmp_path, text, "x.yaml")
    with pytest.raises(FieldMappingError) as caught:
        load_field_mappings(path)
    assert (caught.value.mapping, caught.value.reason) == (
        "deal_name/hubspot",
        "no hubspot objects for deal",
    )


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(FieldMappingError, match="cannot read it"):
        load_field_mappings(tmp_path / "missing.yaml")


def test_every_stamp_rule_can_be_overridden_back_and_forth(tmp_path: Path) -> None:
    body = "".join(f"  {name}: {{rule: latest_wins}}\n" for name in STAMP_FIELDS)
    write(tmp_path, "extends: default\nfields:\n" + body)
    mappings = load_field_mappings(override_dir=tmp_path)
    assert {m.rule for m in mappings if m.canonical in STAMP_FIELDS} == {"latest_wins"}


KEYS = st.sampled_from(
    [
        "rule",
        "entities",
        "from",
        "restore",
        "hubspot",
        "salesforce",
        "field",
        "objects",
        "type",
        "max_length",
        "transforms",
        "picklist",
        "picklist_default",
        "match_key",
        "x",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 300),
    st.sampled_from(
        [
            "write_once",
            "two_way",
            "none",
            "person",
            "deal",
            "Lead",
            "contacts",
            "trim",
            "string",
            "number",
            "Email",
            "first_touch_channel",
            "email",
            "",
        ]
    ),
)
JUNK = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
NAMES = st.sampled_from(["email", "phone", "company", "lead_source", "touch_count", "new_field"])


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(NAMES, JUNK, max_size=3),
    st.dictionaries(st.sampled_from(["person", "deal", "company"]), JUNK, max_size=2),
)
def test_any_override_loads_or_raises_a_mapping_error(fields: dict, entities: dict) -> None:
    doc = {"extends": "default", "fields": fields, "entities": entities}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "field_mappings.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
        try:
            mappings = load_field_mappings(override_dir=Path(folder))
        except FieldMappingError as exc:
            failure = exc
        else:
            assert mappings.match_key("hubspot") is not None
            return
    assert failure.reason
    assert failure.file.endswith("field_mappings.yaml")
