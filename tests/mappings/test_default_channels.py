"""Every default channel rule (attribution.md §8), with realistic source / medium / campaign."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from closedloop.mappings.channels import default_channel_rules, load_channel_rules, source_host
from closedloop.sync.touchpoints import Touchpoint

RULES = default_channel_rules()

# (source, medium, campaign, click ids, expected channel)
CASES = [
    ("(direct)", "(none)", None, (), "Direct"),
    ("(direct)", "(not set)", None, (), "Direct"),
    ("google", "cpc", "pmax_cross-network_q3", (), "Cross-network"),
    ("amazon", "cpc", "spring", (), "Paid Shopping"),
    ("google", "cpc", "summer-shopping", (), "Paid Shopping"),
    ("bing", "ppc", "black_shop_friday", (), "Paid Shopping"),
    ("google", "cpc", None, (), "Paid Search"),
    ("Google", "CPC", None, (), "Paid Search"),
    ("bing", "ppc", None, (), "Paid Search"),
    ("duckduckgo", "paidsearch", None, (), "Paid Search"),
    ("www.google.co.uk", "cpc", None, (), "Paid Search"),
    ("google", "retargeting", None, (), "Paid Search"),
    ("facebook", "paid_social", None, (), "Paid Social"),
    ("linkedin", "cpc", "abm-q2", (), "Paid Social"),
    ("l.facebook.com", "paid", None, (), "Paid Social"),
    ("youtube", "cpv", None, (), "Paid Video"),
    ("vimeo", "paid-video", None, (), "Paid Video"),
    ("dv360", "display", None, (), "Display"),
    ("gumgum", "banner", None, (), "Display"),
    ("taboola", "cpm", None, (), "Display"),
    ("adroll", "interstitial", None, (), "Display"),
    ("capterra", "ppc", None, (), "Paid Other"),
    ("etsy", "referral", None, (), "Organic Shopping"),
    ("partner", "newsletter", "spring-shop", (), "Organic Shopping"),
    ("partner", "newsletter", "eshop_launch", (), "Organic Shopping"),
    ("partner", "newsletter", "workshop-2024", (), "Unassigned"),
    ("t.co", "referral", None, (), "Organic Social"),
    ("lnkd.in", "social", None, (), "Organic Social"),
    ("meetup-group", "social network", None, (), "Organic Social"),
    ("whatever", "sm", None, (), "Organic Social"),
    ("youtube.com", "referral", None, (), "Organic Video"),
    ("webinar-host", "video", None, (), "Organic Video"),
    ("google", "organic", None, (), "Organic Search"),
    ("ecosia.org", "referral", None, (), "Organic Search"),
    ("my-engine", "organic", None, (), "Organic Search"),
    ("newsletter", "email", "may-digest", (), "Email"),
    ("email", "crm-export", None, (), "Email"),
    ("hubspot", "e-mail", None, (), "Email"),
    ("mailchimp", "e mail", None, (), "Email"),
    ("partnerstack", "affiliate", None, (), "Affiliates"),
    ("blog.example.org", "referral", None, (), "Referral"),
    ("partner-app", "app", None, (), "Referral"),
    ("spotify-podcast", "audio", None, (), "Audio"),
    ("twilio", "sms", None, (), "SMS"),
    ("sms", "text", None, (), "SMS"),
    ("braze", "web_push", None, (), "Mobile Push Notifications"),
    ("onesignal", "mobile-app", None, (), "Mobile Push Notifications"),
    ("app", "notification", None, (), "Mobile Push Notifications"),
    ("firebase", "inapp", None, (), "Mobile Push Notifications"),
    ("trade-show", "booth", None, (), "Events"),
    ("conference", "event", "saastr-2026", (), "Events"),
    ("offline", "call", None, (), "Offline"),
    ("direct_mail", "direct mail", "q3-postcards", (), "Offline"),
    ("trade-show", "flyer", None, (), "Unassigned"),
    (None, None, None, (), "Unassigned"),
]


@pytest.mark.parametrize(("source", "medium", "campaign", "click_ids", "channel"), CASES)
def test_default_rule(
    source: str | None,
    medium: str | None,
    campaign: str | None,
    click_ids: tuple[str, ...],
    channel: str,
) -> None:
    assert RULES.channel_for(source, medium, campaign, click_ids) == channel


def test_every_default_channel_is_exercised() -> None:
    assert set(RULES.channels) == {case[-1] for case in CASES}
    assert RULES.channels[0] == "Direct"
    assert RULES.channels[-1] == "Unassigned"


def test_rules_are_in_reference_order() -> None:
    names = [rule.name for rule in RULES.rules]
    assert names[:4] == ["direct", "cross_network", "paid_shopping", "paid_search"]
    assert names.index("paid_other") < names.index("organic_shopping")
    assert names.index("organic_search") < names.index("email") < names.index("referral")
    assert all(rule.file.endswith("channels.yaml") for rule in RULES.rules)


@pytest.mark.parametrize(
    ("source", "lists"),
    [
        ("google", {"search"}),
        ("www.google.com.br", {"search"}),
        ("https://www.bing.com/search?q=x", {"search"}),
        ("t.co", {"social"}),
        ("mobile.t.co", {"social"}),
        ("toto.co", set()),
        ("youtu.be", {"video"}),
        ("shopping.google.com", {"shopping", "search"}),
        ("com.google.android.googlequicksearchbox", {"search"}),
        ("newsletter", set()),
        ("", set()),
    ],
)
def test_site_lists(source: str, lists: set[str]) -> None:
    assert RULES.site_lists_of(source) == lists


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("google", None),
        ("Google.COM", "google.com"),
        ("https://www.google.com:443/x", "www.google.com"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("javascript://x.com", None),
        ("http://[::1", None),
        ("news letter.com", None),
    ],
)
def test_source_host(value: str, host: str | None) -> None:
    assert source_host(value) == host


@pytest.mark.parametrize(
    ("referrer", "click_ids", "landing", "expected"),
    [
        (None, {}, None, ("(direct)", "(none)")),
        (None, {"gclid": "Cj0KCQ"}, None, ("google", "cpc")),
        ("https://www.google.com/", {"wbraid": "x"}, None, ("google", "cpc")),
        (None, {"fbclid": "IwAR"}, None, ("(direct)", "(none)")),
        ("https://www.google.de/", {}, None, ("google", "organic")),
        ("https://duckduckgo.com/", {}, None, ("duckduckgo", "organic")),
        ("https://t.co/xyz", {}, None, ("t.co", "social")),
        ("https://m.facebook.com/", {}, None, ("facebook", "social")),
        ("https://www.partner.io/a", {}, None, ("partner.io", "referral")),
        ("https://www.shop.com/a", {}, "https://shop.com/p", ("(direct)", "(none)")),
        ("not a url", {}, None, ("(direct)", "(none)")),
    ],
)
def test_infer_source_medium(
    referrer: str | None, click_ids: dict[str, str], landing: str | None, expected: tuple[str, str]
) -> None:
    assert RULES.infer_source_medium(referrer, click_ids, landing) == expected


def test_default_rules_are_loaded_once_and_equal_a_fresh_load() -> None:
    assert default_channel_rules() is RULES
    fresh = load_channel_rules()
    assert [r.name for r in fresh.rules] == [r.name for r in RULES.rules]


def test_classification_is_fast() -> None:
    rules = load_channel_rules()
    values = [
        (f"source{i % 500}", ("cpc", "email", "referral", "organic")[i % 4]) for i in range(10_000)
    ]
    values += [("google", "cpc"), ("t.co", "referral")] * 5_000
    start = time.perf_counter()
    for source, medium in values:
        rules.channel_for(source, medium, "spring")
    rate = len(values) / (time.perf_counter() - start)
    assert rate > 100_000, f"{rate:.0f} classifications per second"


def test_classify_a_touchpoint_built_by_hand_infers_missing_source_and_medium() -> None:
    at = datetime(2024, 5, 17, tzinfo=UTC)
    bare = Touchpoint(occurred_at=at, origin="import", referrer="https://www.google.fr/")
    assert RULES.classify(bare) == "Organic Search"
    clicked = Touchpoint(occurred_at=at, origin="import", click_ids={"gclid": "Cj0"})
    assert RULES.classify(clicked) == "Paid Search"
    tagged = Touchpoint(
        occurred_at=at, origin="import", utm_source="Newsletter", utm_medium="EMAIL"
    )
    assert RULES.classify(tagged) == "Email"
    assert RULES.classify(Touchpoint(occurred_at=at, origin="import")) == "Direct"
