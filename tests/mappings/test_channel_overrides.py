"""Admin override files: extends, replace, and every kind of invalid file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from closedloop.mappings.channels import load_channel_rules
from closedloop.runtime.errors import MappingError


def write(tmp_path: Path, text: str, name: str = "channels.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_extends_prepends_rules_and_extends_site_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        extends: default
        sites:
          social: [mastodon.example]
        rules:
          - name: partner_webinars
            channel: Partner Webinars
            when:
              all:
                - {field: source, in: [partner-a, partner-b]}
                - {field: medium, matches: webinar}
        """,
    )
    rules = load_channel_rules(path)
    assert rules.rules[0].name == "partner_webinars"
    assert rules.rules[0].file == str(path)
    assert rules.rules[1].name == "direct"
    assert rules.channel_for("Partner-A", "webinar-invite") == "Partner Webinars"
    assert rules.channel_for("mastodon.example", "referral") == "Organic Social"
    assert rules.channel_for("google", "cpc") == "Paid Search"
    assert "facebook" in rules.sites["social"]


def test_extends_can_override_patterns_and_inference(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        extends: default
        unassigned: Other
        patterns:
          paid: '^(cpc|ppc)$'
        inference:
          click_ids:
            msclkid: {source: bing, medium: cpc}
          referrer_media:
            video: video
        """,
    )
    rules = load_channel_rules(path)
    assert rules.channel_for("facebook", "paid_social") == "Organic Social"
    assert rules.channel_for("nowhere", "nothing") == "Other"
    assert rules.infer_source_medium(None, {"msclkid": "abc"}) == ("bing", "cpc")
    assert rules.infer_source_medium(None, {"gclid": "abc"}) == ("google", "cpc")
    assert rules.infer_source_medium("https://www.youtube.com/", {}) == ("youtube", "video")


def test_file_without_extends_replaces_the_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        version: 1
        sites:
          partners: [acme.com, globex]
        rules:
          - channel: Partners
            when: {field: source, in_sites: partners}
          - name: ads
            channel: Ads
            when:
              any:
                - {click_id: [gclid, msclkid]}
                - {field: medium, in: cpc}
          - channel: Not Email
            when:
              not: {field: medium, contains: mail}
          - channel: Tagged
            when: {field: campaign, present: true}
        """,
    )
    rules = load_channel_rules(path)
    assert rules.channels == ("Partners", "Ads", "Not Email", "Tagged", "Unassigned")
    assert rules.channel_for("www.acme.com", "referral") == "Partners"
    assert rules.channel_for("globex", "email") == "Partners"
    assert rules.channel_for("x", "email", None, ["msclkid"]) == "Ads"
    assert rules.channel_for("x", "cpc") == "Ads"
    assert rules.channel_for("google", "organic") == "Not Email"
    assert rules.channel_for("x", "email", "spring") == "Tagged"
    assert rules.channel_for("x", "email") == "Unassigned"
    # Without an inference section a replacement file still knows direct and referral.
    assert rules.infer_source_medium("https://x.org/", {"gclid": "a"}) == ("x.org", "referral")
    assert rules.infer_source_medium(None, {}) == ("(direct)", "(none)")


RULE = "rules:\n  - name: mine\n    channel: Mine\n    when: "


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (RULE + "{field: medium, matches: '([a-z'}", r"rule #1 \('mine'\): bad regex '\(\[a-z'"),
        (RULE + "{field: medium, wibble: x}", r"rule #1 \('mine'\): bad condition"),
        (RULE + "{field: referrer, in: [x]}", r"rule #1 \('mine'\): bad condition"),
        (RULE + "{field: medium, in: [a], matches: b}", r"rule #1 \('mine'\): bad condition"),
        (RULE + "{field: source, in_sites: podcasts}", r"rule #1 \('mine'\): 'in_sites' needs"),
        (RULE + "{field: medium, in_sites: search}", r"rule #1 \('mine'\): 'in_sites' needs"),
        (RULE + "{field: medium, pattern: nope}", r"rule #1 \('mine'\): unknown pattern 'nope'"),
        (RULE + "{field: medium, in: [1, 2]}", r"rule #1 \('mine'\): 'in' needs a string"),
        (RULE + "{field: medium, present: yes-ish}", r"'present' needs true or false"),
        (RULE + "{field: medium, contains: [a, b]}", r"'contains' needs one string"),
        (RULE + "{all: []}", r"rule #1 \('mine'\): 'all' needs a non-empty list"),
        (RULE + "{any: x}", r"'any' needs a non-empty list"),
        (RULE + "{all: [{field: medium, in: x}], field: medium}", "bad condition"),
        (RULE + "[not, a, mapping]", r"'condition' must be a mapping"),
        (RULE + "{click_id: [3]}", r"'click_id' needs a string"),
        (
            "rules:\n  - {name: nameless, when: {field: medium, in: x}}",
            r"rule #1 .*missing channel",
        ),
        ("rules:\n  - {channel: '  '}", r"rule #1: missing channel name"),
        ("rules:\n  - {channel: X}", r"rule #1 \('X'\)|rule #1: missing 'when'"),
        ("rules:\n  - {channel: X, when: {field: medium, in: a}, colour: red}", "unknown keys"),
        ("rules:\n  - just a string", r"rule #1: 'rule' must be a mapping"),
        ("rules: []", "'rules' is missing or empty"),
        ("extends: default\nrules: {a: b}", "'rules' must be a list"),
        ("extends: something-else", "'extends' can only be 'default'"),
        ("version: 2\nextends: default", "unsupported version 2"),
        ("extends: default\nchannels: []", r"unknown top-level keys \['channels'\]"),
        ("extends: default\npatterns: {paid: '(('}", r"bad regex '\(\(' in 'patterns.paid'"),
        ("extends: default\nsites: {search: [1]}", r"'sites.search' needs a string"),
        ("extends: default\nsites: [a]", r"'sites' must be a mapping"),
        ("extends: default\ninference: {direct: {source: x}}", "'direct' needs exactly"),
        ("extends: default\ninference: {colour: x}", r"unknown inference keys \['colour'\]"),
        ("extends: default\ninference: {referrer_media: {radio: x}}", "unknown site lists"),
        ("- a\n- list", "'the file' must be a mapping"),
        ("rules: [\n", "not valid YAML"),
        ("extends: default\nunassigned: [x]", "'unassigned' needs a channel name"),
    ],
)
def test_invalid_file_names_file_rule_and_reason(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MappingError, match=message) as caught:
        load_channel_rules(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert caught.value.exit_code == 2


def test_invalid_rule_in_extending_file_is_numbered_within_that_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        extends: default
        rules:
          - {name: ok, channel: OK, when: {field: medium, in: ok}}
          - {name: broken, channel: Broken, when: {field: medium, pattern: missing}}
        """,
    )
    with pytest.raises(MappingError, match=r"rule #2 \('broken'\): unknown pattern 'missing'"):
        load_channel_rules(path)


def test_nested_condition_error_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        RULE + "{any: [{field: medium, in: a}, {not: {field: campaign, matches: '*'}}]}",
    )
    with pytest.raises(MappingError, match=r"rule #1 \('mine'\): bad regex '\*'"):
        load_channel_rules(path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read the channel rules"):
        load_channel_rules(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00rules")
    with pytest.raises(MappingError, match=str(binary)):
        load_channel_rules(binary)
