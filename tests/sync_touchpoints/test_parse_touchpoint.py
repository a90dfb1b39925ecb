"""Landing URL + referrer -> Touchpoint: UTMs, click ids, inference, channel, URL edge cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from closedloop.sync.touchpoints import (
    MAX_URL_LENGTH,
    Touchpoint,
    TouchpointError,
    make_touchpoint,
    parse_touchpoint,
)

AT = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)


def parse(url: str, referrer: str | None = None) -> Touchpoint:
    return parse_touchpoint(url, referrer, occurred_at=AT)


@pytest.mark.parametrize(
    ("url", "referrer", "source", "medium", "channel"),
    [
        ("https://acme.io/?utm_source=google&utm_medium=cpc", None, "google", "cpc", "Paid Search"),
        ("https://acme.io/?gclid=Cj0KCQjw", None, "google", "cpc", "Paid Search"),
        (
            "https://acme.io/?gbraid=0AAAAA",
            "https://www.google.com/",
            "google",
            "cpc",
            "Paid Search",
        ),
        (
            "https://acme.io/?utm_source=facebook&utm_medium=paid_social",
            None,
            "facebook",
            "paid_social",
            "Paid Social",
        ),
        (
            "https://acme.io/?utm_source=newsletter&utm_medium=email",
            None,
            "newsletter",
            "email",
            "Email",
        ),
        (
            "https://acme.io/pricing",
            "https://www.google.com/",
            "google",
            "organic",
            "Organic Search",
        ),
        (
            "https://acme.io/pricing",
            "https://www.bing.com/search?q=acme",
            "bing",
            "organic",
            "Organic Search",
        ),
        ("https://acme.io/", "https://t.co/Ab12", "t.co", "social", "Organic Social"),
        (
            "https://acme.io/",
            "https://www.linkedin.com/feed/",
            "linkedin",
            "social",
            "Organic Social",
        ),
        (
            "https://acme.io/",
            "https://www.youtube.com/watch?v=1",
            "youtube.com",
            "referral",
            "Organic Video",
        ),
        (
            "https://acme.io/",
            "https://news.ycombinator.com/item?id=1",
            "news.ycombinator.com",
            "referral",
            "Referral",
        ),
        ("https://acme.io/", None, "(direct)", "(none)", "Direct"),
        ("https://acme.io/", "https://www.acme.io/blog", "(direct)", "(none)", "Direct"),
        (
            "https://acme.io/",
            "android-app://com.google.android.googlequicksearchbox/",
            "com.google.android.googlequicksearchbox",
            "organic",
            "Organic Search",
        ),
        (
            "https://acme.io/?utm_source=partnerstack&utm_medium=affiliate",
            None,
            "partnerstack",
            "affiliate",
            "Affiliates",
        ),
        (
            "https://acme.io/?utm_source=dv360&utm_medium=display",
            None,
            "dv360",
            "display",
            "Display",
        ),
        (
            "https://acme.io/?utm_source=youtube&utm_medium=cpv",
            None,
            "youtube",
            "cpv",
            "Paid Video",
        ),
        (
            "https://acme.io/?utm_source=google&utm_medium=cpc&utm_campaign=pmax-cross-network",
            None,
            "google",
            "cpc",
            "Cross-network",
        ),
        ("https://acme.io/?utm_source=x&utm_campaign=spring", None, "x", None, "Unassigned"),
        (
            "https://acme.io/?utm_source=(not set)&utm_medium=&fbclid=IwAR0",
            "https://l.facebook.com/",
            "facebook",
            "social",
            "Organic Social",
        ),
    ],
)
def test_channel_from_url_and_referrer(
    url: str, referrer: str | None, source: str, medium: str | None, channel: str
) -> None:
    touch = parse(url, referrer)
    assert (touch.utm_source, touch.utm_medium, touch.channel) == (source, medium, channel)


def test_all_fields() -> None:
    touch = parse_touchpoint(
        "https://Acme.io/Pricing?utm_source=%20Google%20&utm_medium=CPC&utm_campaign=Spring%20Sale"
        "&utm_term=CRM+Software&utm_content=Ad%C2%A01&gclid=Cj0KCQjwAbC&msclkid=9f8E&x=1#top",
        "https://www.google.com/",
        occurred_at=AT,
        origin="collector",
        external_id="evt-1",
    )
    assert touch == Touchpoint(
        occurred_at=AT,
        origin="collector",
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="Spring Sale",
        utm_term="CRM Software",
        utm_content="Ad 1",
        click_ids={"gclid": "Cj0KCQjwAbC", "msclkid": "9f8E"},
        landing_page="https://acme.io/Pricing?utm_source=%20Google%20&utm_medium=CPC"
        "&utm_campaign=Spring%20Sale&utm_term=CRM+Software&utm_content=Ad%C2%A01"
        "&gclid=Cj0KCQjwAbC&msclkid=9f8E&x=1",
        referrer="https://www.google.com/",
        channel="Paid Search",
        external_id="evt-1",
    )
    assert hash(touch) == hash(touch)


@pytest.mark.parametrize(
    ("url", "landing_page"),
    [
        ("acme.io/p?utm_source=a", "https://acme.io/p?utm_source=a"),
        ("//acme.io/p", "https://acme.io/p"),
        ("/pricing?utm_source=a", "/pricing?utm_source=a"),
        ("acme.io:8080/p", "https://acme.io:8080/p"),
        ("  https://acme.io/p  ", "https://acme.io/p"),
        ("https://user:secret@acme.io/p", "https://acme.io/p"),
        ("https://acme.io/p#section-2", "https://acme.io/p"),
        ("https://bücher.de/straße?utm_source=ñandú", "https://bücher.de/straße?utm_source=ñandú"),
    ],
)
def test_landing_page_forms(url: str, landing_page: str) -> None:
    assert parse(url).landing_page == landing_page


@pytest.mark.parametrize(
    ("query", "source", "campaign"),
    [
        ("utm_source=first&utm_source=second", "first", None),
        ("utm_source=&utm_source=second", "second", None),
        ("UTM_SOURCE=Upper&Utm_Campaign=Mixed", "upper", "Mixed"),
        ("utm_source=%E2%80%8Bgoogle%E2%80%8B", "google", None),
        ("utm_source=%EF%BD%87%EF%BD%8F%EF%BD%8F%EF%BD%87%EF%BD%8C%EF%BD%85", "google", None),
        ("utm_source=a%FFb", "a\ufffdb", None),
        ("utm_source=news%0Aletter", "news letter", None),
        ("utm_campaign=%2520double", "(direct)", "%20double"),
        ("utm_campaign=caf%C3%A9", "(direct)", "café"),
        ("utm_campaign=cafe%CC%81", "(direct)", "café"),
        ("utm_campaign=%F0%9F%9A%80+launch", "(direct)", "🚀 launch"),
        ("utm_campaign=++spaced+++out++", "(direct)", "spaced out"),
        ("utm_campaign=undefined&utm_source=null", "(direct)", None),
        ("utm_campaign=" + "x" * 900, "(direct)", "x" * 500),
        ("utm_source", "(direct)", None),
        ("&&&=&utm_source==eq", "=eq", None),
    ],
)
def test_query_value_normalisation(query: str, source: str | None, campaign: str | None) -> None:
    touch = parse("https://acme.io/?" + query)
    assert (touch.utm_source, touch.utm_campaign) == (source, campaign)


def test_utms_in_a_fragment_are_read_but_the_query_wins() -> None:
    touch = parse("https://acme.io/#/landing?utm_source=newsletter&utm_medium=email")
    assert (touch.channel, touch.landing_page) == ("Email", "https://acme.io/")
    touch = parse("https://acme.io/?utm_source=google&utm_medium=cpc#utm_source=other")
    assert touch.utm_source == "google"


def test_huge_urls() -> None:
    long_query = "&".join(f"p{i}=v{i}" for i in range(2_500))
    touch = parse(f"https://acme.io/?{long_query}&utm_source=late&utm_medium=email")
    assert touch.channel == "Email"
    assert touch.landing_page is not None
    assert len(touch.landing_page) <= MAX_URL_LENGTH
    cut = parse("https://acme.io/?q=" + "%41" * 1000)
    assert cut.landing_page is not None
    assert not cut.landing_page.endswith(("%", "%4"))
    with pytest.raises(TouchpointError, match="too long"):
        parse("https://acme.io/?q=" + "a" * 40_000)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "mailto:someone@example.com",
        "ftp://acme.io/file",
        "https://acme.io/\x00",
        "https://acme.io/a\nb",
        "http://[::1/",
        "https://acme.io:99999/",
        "https://acme.io/\ud800",
        "https://",
        "https:///path",
        "https://acme io/",
    ],
)
def test_unusable_landing_pages_raise(url: str) -> None:
    with pytest.raises(TouchpointError):
        parse(url)


def test_unusable_referrer_is_ignored() -> None:
    assert parse("https://acme.io/", "javascript:void(0)").referrer is None
    assert parse("https://acme.io/", "http://[::1/").channel == "Direct"


def test_make_touchpoint_from_crm_fields() -> None:
    touch = make_touchpoint(
        occurred_at=datetime(2024, 5, 17, 11, 0, tzinfo=timezone(timedelta(hours=2))),
        origin="hubspot",
        utm_source=" LinkedIn ",
        utm_medium="Paid Social",
        utm_campaign="ABM q2",
        click_ids={"li_fat_id": " a1B2 ", "GCLID": "", "unknown": "x", "ttclid": "\x00"},
        external_id="123",
    )
    assert (touch.utm_source, touch.utm_medium, touch.channel) == (
        "linkedin",
        "paid social",
        "Paid Social",
    )
    assert touch.click_ids == {"li_fat_id": "a1B2"}
    assert touch.landing_page is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"occurred_at": datetime(2024, 1, 1)}, "timezone-aware"),  # noqa: DTZ001
        ({"origin": " "}, "origin"),
        ({"utm_source": 3}, "must be strings"),
    ],
)
def test_make_touchpoint_rejects(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"occurred_at": AT, "origin": "import", **kwargs}
    with pytest.raises(TouchpointError, match=message):
        make_touchpoint(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"utm_source": "x" * 501},
        {"utm_source": "a\x07b"},
        {"landing_page": "https://a/" + "p" * MAX_URL_LENGTH},
        {"click_ids": {"GCLID": "a"}},
        {"click_ids": {"gclid": ""}},
        {"channel": 1},
    ],
)
def test_touchpoint_constructor_validates(kwargs: dict[str, object]) -> None:
    with pytest.raises(TouchpointError):
        Touchpoint(occurred_at=AT, origin="import", **kwargs)  # type: ignore[arg-type]


def test_touchpoint_is_frozen_and_click_ids_are_copied() -> None:
    ids = {"gclid": "b", "fbclid": "a"}
    touch = Touchpoint(occurred_at=AT, origin="import", click_ids=ids)
    ids["gclid"] = "changed"
    assert list(touch.click_ids.items()) == [("fbclid", "a"), ("gclid", "b")]
    with pytest.raises(AttributeError):
        touch.channel = "Email"  # type: ignore[misc]


def test_percent_encoded_unicode_host_and_path_are_kept() -> None:
    url = (
        "https://acme.io/"
        + quote("日本語/ページ")
        + "?utm_source="
        + quote("\uff4e\uff45\uff57\uff53")
    )
    touch = parse(url)
    assert touch.utm_source == "news"
    assert touch.landing_page == url
