"""Personal data never reaches a touchpoint (reliability.md §6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from closedloop.sync.touchpoints import make_touchpoint, parse_touchpoint, redact_pii, sanitise_url

AT = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane.doe@example.com", "redacted"),
        ("spring jane.doe+promo@mail.example.co.uk x", "spring redacted x"),
        ("spring-jane@example.com", "redacted"),
        ("José.Ñúñez@correo.es", "redacted"),
        ("call +44 7700 900123 now", "call redacted now"),
        ("+1 (555) 123-4567", "redacted"),
        ("(555) 123-4567", "redacted"),
        ("555.123.4567", "redacted"),
        ("0612345678", "redacted"),
        ("tel:07700900123", "tel:redacted"),
        ("summer-2024-05-17", "summer-2024-05-17"),
        ("20240517", "20240517"),
        ("120994827465", "120994827465"),
        ("ad_23851234567890123", "ad_23851234567890123"),
        ("a@b", "a@b"),
        ("@handle", "@handle"),
        ("0@0.00@0.00", "redacted"),
    ],
)
def test_redact_pii(text: str, expected: str) -> None:
    assert redact_pii(text) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://acme.io/?email=jane%40example.com&x=1", "https://acme.io/?x=1"),
        ("https://acme.io/?E-Mail=jane@example.com&Phone=123", "https://acme.io/"),
        ("https://acme.io/?first_name=Jane&last_name=Doe&plan=pro", "https://acme.io/?plan=pro"),
        ("https://acme.io/?ref=jane%2540example.com&k=v", "https://acme.io/?k=v"),
        ("https://acme.io/?contact=%2B44%207700%20900123", "https://acme.io/"),
        ("https://acme.io/?utm_content=jane@example.com", "https://acme.io/?utm_content=redacted"),
        ("https://acme.io/?jane%40example.com", "https://acme.io/"),
        (
            "https://acme.io/unsubscribe/jane%40example.com/ok",
            "https://acme.io/unsubscribe/redacted/ok",
        ),
        ("https://acme.io/u/jane@example.com", "https://acme.io/u/redacted"),
        ("https://jane:pw@acme.io/", "https://acme.io/"),
        ("https://acme.io/p#email=jane@example.com", "https://acme.io/p"),
        (
            "https://acme.io/?gclid=Cj0KCQjw_0612345678",
            "https://acme.io/?gclid=Cj0KCQjw_0612345678",
        ),
        ("https://acme.io/?id=120994827465", "https://acme.io/?id=120994827465"),
    ],
)
def test_sanitise_url(url: str, expected: str) -> None:
    assert sanitise_url(url) == expected


def test_utm_values_are_redacted() -> None:
    touch = parse_touchpoint(
        "https://acme.io/?utm_source=newsletter&utm_medium=email"
        "&utm_campaign=digest-jane%40example.com&utm_term=%2B33%206%2012%2034%2056%2078"
        "&utm_content=(555)%20123-4567",
        "https://mail.example.com/?to=jane@example.com#inbox",
        occurred_at=AT,
    )
    assert touch.utm_campaign == "redacted"  # the hyphen may belong to the address
    assert touch.utm_term == "redacted"
    assert touch.utm_content == "redacted"
    assert touch.referrer == "https://mail.example.com/"
    assert "example.com" not in (touch.landing_page or "")
    assert touch.channel == "Email"


def test_email_as_source_is_redacted_and_then_grouped() -> None:
    touch = parse_touchpoint(
        "https://acme.io/?utm_source=Jane@Example.com&utm_medium=referral", occurred_at=AT
    )
    assert (touch.utm_source, touch.channel) == ("redacted", "Referral")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("digest jane%40example.com", "digest redacted"),
        ("digest/jane%2540example.com", "digest/redacted"),
        ("call%20%2B44%207700%20900123", "call redacted"),
        ("50%25 off", "50%25 off"),
    ],
)
def test_redact_percent_encoded_pii(text: str, expected: str) -> None:
    assert redact_pii(text) == expected


def test_double_encoded_email_in_a_utm_value() -> None:
    touch = parse_touchpoint(
        "https://acme.io/?utm_source=crm&utm_medium=email&utm_campaign=jane%2540example.com",
        occurred_at=AT,
    )
    assert touch.utm_campaign == "redacted"
    assert (
        touch.landing_page
        == "https://acme.io/?utm_source=crm&utm_medium=email&utm_campaign=redacted"
    )


def test_external_id_is_kept_verbatim() -> None:
    touch = make_touchpoint(occurred_at=AT, origin="import", external_id=" 0612345678 ")
    assert touch.external_id == "0612345678"
