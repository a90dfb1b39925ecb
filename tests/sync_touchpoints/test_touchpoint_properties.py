"""Property tests: parsing random input raises nothing but TouchpointError (a ValueError)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from closedloop.mappings.channels import default_channel_rules
from closedloop.sync.touchpoints import (
    Touchpoint,
    TouchpointError,
    make_touchpoint,
    parse_touchpoint,
    redact_pii,
    sanitise_url,
    touch_key,
)

AT = datetime(2024, 5, 17, tzinfo=UTC)
PIECES = st.sampled_from(
    [
        "https://",
        "http://",
        "//",
        "/",
        "?",
        "&",
        "=",
        "#",
        "%",
        "%2",
        "%40",
        "@",
        ":",
        "[",
        "]",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "gclid",
        "email",
        ".",
        "acme.io",
        "+",
        " ",
        "\x00",
        "\ud800",
        "é",
        "日本",
        "\uff47",
        "\u200b",
        "jane@example.com",
        "+44 7700 900123",
    ]
)
URLISH = st.one_of(st.text(max_size=200), st.lists(PIECES | st.text(max_size=5)).map("".join))


def check(touch: Touchpoint) -> None:
    assert touch.channel in default_channel_rules().channels
    assert touch.utm_source is None or touch.utm_source == touch.utm_source.lower()
    for value in (touch.utm_source, touch.utm_medium, touch.utm_campaign, touch.landing_page):
        assert value is None or "jane@example.com" not in value
    assert len(touch_key(touch)) == 64


@settings(max_examples=300, deadline=None)
@given(url=URLISH, referrer=st.none() | URLISH)
def test_parse_raises_only_touchpoint_error(url: str, referrer: str | None) -> None:
    try:
        touch = parse_touchpoint(url, referrer, occurred_at=AT)
    except TouchpointError:
        return
    check(touch)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.none() | st.text(max_size=60), min_size=5, max_size=5),
    click_ids=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
)
def test_make_touchpoint_raises_only_touchpoint_error(
    values: list[str | None], click_ids: dict[str, str]
) -> None:
    source, medium, campaign, term, content = values
    try:
        touch = make_touchpoint(
            occurred_at=AT,
            origin="import",
            utm_source=source,
            utm_medium=medium,
            utm_campaign=campaign,
            utm_term=term,
            utm_content=content,
            click_ids=click_ids,
        )
    except TouchpointError:
        return
    check(touch)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_redaction_is_idempotent_and_total(text: str) -> None:
    once = redact_pii(text)
    assert redact_pii(once) == once


@settings(max_examples=200, deadline=None)
@given(url=URLISH)
def test_sanitised_url_is_stable(url: str) -> None:
    try:
        clean = sanitise_url(url)
    except TouchpointError:
        return
    assert sanitise_url(clean) == clean
    assert "#" not in clean
