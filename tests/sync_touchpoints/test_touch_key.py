"""touch_key: deterministic, insensitive to presentation, sensitive to identity."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from closedloop.sync.touchpoints import Touchpoint, make_touchpoint, parse_touchpoint, touch_key

AT = datetime(2024, 5, 17, 9, 30, 10, tzinfo=UTC)
URL = "https://acme.io/pricing?utm_source=google&utm_medium=cpc&utm_campaign=Spring&gclid=AbC"


def base() -> Touchpoint:
    return parse_touchpoint(URL, "https://www.google.com/", occurred_at=AT)


def test_key_is_a_stable_sha256() -> None:
    key = touch_key(base())
    assert len(key) == 64
    assert key == touch_key(base())
    assert int(key, 16) >= 0


def test_same_click_from_another_origin_and_presentation_has_the_same_key() -> None:
    crm = make_touchpoint(
        occurred_at=datetime(2024, 5, 17, 11, 30, 40, tzinfo=timezone(timedelta(hours=2))),
        origin="hubspot",
        utm_source="Google",
        utm_medium="CPC",
        utm_campaign="spring",
        click_ids={"gclid": "AbC"},
        landing_page="https://www.acme.io/pricing/?session=42",
        referrer="https://www.google.com/search?q=acme",
        external_id="hs-1",
    )
    assert touch_key(crm) == touch_key(base())


@pytest.mark.parametrize(
    "change",
    [
        {"utm_campaign": "Autumn"},
        {"utm_term": "crm"},
        {"click_ids": {"gclid": "abc"}},
        {"landing_page": "https://acme.io/signup"},
        {"referrer": "https://www.bing.com/"},
        {"occurred_at": AT + timedelta(minutes=1)},
    ],
)
def test_identity_changes_change_the_key(change: dict[str, object]) -> None:
    changed = dataclasses.replace(base(), **change)  # type: ignore[arg-type]
    assert touch_key(changed) != touch_key(base())


def test_time_bucket() -> None:
    later = dataclasses.replace(base(), occurred_at=AT + timedelta(seconds=40))
    assert touch_key(later) == touch_key(base())
    assert touch_key(later, timedelta(seconds=10)) != touch_key(base(), timedelta(seconds=10))
    hour = timedelta(hours=1)
    assert touch_key(dataclasses.replace(base(), occurred_at=AT + hour), hour) != touch_key(
        base(), hour
    )
    with pytest.raises(ValueError, match="positive"):
        touch_key(base(), timedelta(0))
