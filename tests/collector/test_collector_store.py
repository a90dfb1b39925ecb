"""What the collector keeps (on SQLite and PostgreSQL): ledger, people, sanitised payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from closedloop.store.schema import collector_payloads
from closedloop.sync.identity import IdentityStore, visitor_ref
from closedloop.sync.ledger import TouchLedger
from closedloop.sync.model import RecordRef
from closedloop.webhooks.client_checks import truncate_ip
from closedloop.webhooks.collector_store import purge_expired_payloads

LEAD = RecordRef("salesforce", "Lead", "00Q000000000001AAA")


def pageview(url: str, visitor_id: str = "visitor-0001", **extra: Any) -> dict[str, Any]:
    return {"visitor_id": visitor_id, "touch": {"url": url}} | extra


def payload_rows(store: Engine) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(select(collector_payloads).order_by(collector_payloads.c.id)))


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),
        ("fe80::1%eth0", "fe80::/48"),
        ("not an address", None),
        (None, None),
    ],
)
def test_client_addresses_are_truncated(address: str | None, network: str | None) -> None:
    assert truncate_ip(address) == network


def test_personal_data_never_reaches_the_ledger_or_the_payload_table(
    serve: Callable[..., Any], store: Engine
) -> None:
    collector = serve(store)
    url = (
        "https://www.example.com/offer/jane.doe@example.com?utm_source=newsletter"
        "&utm_medium=email&utm_campaign=spring+for+jane.doe%40example.com"
        "&email=jane.doe@example.com&phone=%2B44+20+7946+0958&gclid=Cj0KCQ"
    )
    answer = collector.post(
        {
            "visitor_id": "visitor-0001",
            "type": "form",
            "email": "Jane.Doe@Example.com",
            "touch": {"url": url, "referrer": "https://mail.example.org/?to=jane.doe@example.com"},
        }
    )
    assert answer.status_code == 202
    person = IdentityStore(store).person_of(visitor_ref("visitor-0001"))
    assert person is not None
    [touch] = TouchLedger(store).touches_of(person)
    assert touch.origin == "collector"
    assert touch.utm_campaign == "spring for redacted"
    assert touch.click_ids == {"gclid": "Cj0KCQ"}
    assert touch.channel == "Email"
    assert "jane" not in (touch.landing_page or "").lower()
    assert "jane" not in (touch.referrer or "").lower()
    [row] = payload_rows(store)
    assert row.client_network == "127.0.0.0/24"
    assert row.kind == "form"
    assert row.person_id == person
    text = json.dumps(row.payload)
    assert "jane" not in text.lower()
    assert "7946" not in text
    assert row.payload["email"] == "redacted"
    assert "127.0.0.1" not in text


def test_payloads_expire_after_the_retention_and_zero_keeps_none(
    serve: Callable[..., Any], store: Engine
) -> None:
    kept = serve(store, raw_retention_days=30)
    assert kept.post(pageview("https://www.example.com/a")).status_code == 202
    [row] = payload_rows(store)
    assert row.expires_at == kept.clock.now() + timedelta(days=30)
    assert purge_expired_payloads(store, kept.clock.now() + timedelta(days=29)) == 0
    assert purge_expired_payloads(store, kept.clock.now() + timedelta(days=30)) == 1
    assert payload_rows(store) == []
    none = serve(store, raw_retention_days=0)
    assert none.post(pageview("https://www.example.com/b")).status_code == 202
    assert payload_rows(store) == []
    assert TouchLedger(store).count() == 2


def test_a_repeated_post_is_accepted_but_stored_once(
    serve: Callable[..., Any], store: Engine
) -> None:
    collector = serve(store)
    page = pageview("https://www.example.com/?utm_source=google&utm_medium=cpc")
    assert collector.post(page).json() == {"accepted": 1}
    assert collector.post(page).json() == {"accepted": 1}
    assert TouchLedger(store).count() == 1


def test_anonymous_touches_join_the_known_person_when_the_email_arrives(
    serve: Callable[..., Any], store: Engine
) -> None:
    collector = serve(store)
    identity = IdentityStore(store, collector.clock)
    lead_person = identity.resolve(LEAD, "jane@example.com")
    ad = pageview("https://www.example.com/?utm_source=linkedin&utm_medium=paid_social")
    assert collector.post(ad).status_code == 202
    anonymous = identity.person_of(visitor_ref("visitor-0001"))
    assert anonymous is not None
    assert anonymous != lead_person
    collector.clock.advance(3600)
    form = pageview(
        "https://www.example.com/demo?utm_source=newsletter&utm_medium=email",
        type="form",
        email="JANE@example.com",
    )
    assert collector.post(form).status_code == 202
    assert identity.person_of(visitor_ref("visitor-0001")) == lead_person
    sources = [t.utm_source for t in TouchLedger(store).touches_of(lead_person)]
    assert sources == ["linkedin", "newsletter"]
    assert identity.person(lead_person).visitor_ids == ["visitor-0001"]
    assert identity.person(anonymous).person_id == lead_person  # merged into the lead's person


def test_an_anonymous_visitor_takes_a_new_email(serve: Callable[..., Any], store: Engine) -> None:
    collector = serve(store)
    assert collector.post(pageview("https://www.example.com/")).status_code == 202
    form = pageview("https://www.example.com/contact", type="form", email="new@example.com")
    assert collector.post(form).status_code == 202
    identity = IdentityStore(store)
    person = identity.person(str(identity.person_of(visitor_ref("visitor-0001"))))
    assert person.email == "new@example.com"
    assert len(TouchLedger(store).touches_of(person.person_id)) == 2


def test_a_shared_browser_never_merges_two_known_people(
    serve: Callable[..., Any], store: Engine
) -> None:
    collector = serve(store)
    first = pageview("https://www.example.com/a", type="form", email="ann@example.com")
    assert collector.post(first).status_code == 202
    identity = IdentityStore(store)
    ann = identity.person_of(visitor_ref("visitor-0001"))
    collector.clock.advance(600)
    second = pageview("https://www.example.com/b", type="form", email="bob@example.com")
    assert collector.post(second).status_code == 202
    bob = identity.person_of(visitor_ref("visitor-0001"))
    assert bob is not None
    assert ann is not None
    assert bob != ann
    assert identity.person(ann).email == "ann@example.com"
    assert identity.person(bob).email == "bob@example.com"
    ledger = TouchLedger(store)
    assert [t.landing_page for t in ledger.touches_of(ann)] == ["https://www.example.com/a"]
    assert [t.landing_page for t in ledger.touches_of(bob)] == ["https://www.example.com/b"]
