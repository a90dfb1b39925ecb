"""The revenue loop end to end: Salesforce wins, HubSpot shows them, corrections by delta."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from closedloop.connectors.contract import RowWrite
from closedloop.revenue.pushback import marketing_revenue_total

World = Any  # the conftest's World
TOKEN = "revenue-token"
CLOSE = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def crm_won_total(world: World) -> Decimal:
    fields = ["Amount", "IsWon"]
    records = [r for p in world.salesforce.read_all("Opportunity", fields) for r in p.records]
    return sum((money(r.fields["Amount"]) for r in records if r.fields.get("IsWon")), Decimal(0))


def test_a_won_opportunity_lands_on_its_buyer_and_counts_once(world: Callable[..., World]) -> None:
    run = world()
    lead = run.leads()[0]
    opportunity = run.win(1234.56, lead=lead)
    report = run.loop.run()
    assert [v.deal_id for v in report.versions] == [opportunity]
    assert report.versions[0].buyers  # the converted lead's person
    contact = run.contact_of_lead(lead.id)
    fields = run.contact_revenue(contact)
    assert money(fields["cl_won_revenue_total"]) == Decimal("1234.56")
    assert money(fields["cl_attributed_revenue"]) == Decimal("1234.56")
    assert int(fields["cl_won_deal_count"]) == 1
    assert marketing_revenue_total(run.hubspot) == crm_won_total(run) == Decimal("1234.56")

    run.reset_stats()
    for _ in range(2):  # a duplicate webhook, then the next scheduled run
        assert run.loop.run(deal_ids=[opportunity]).versions == []
        assert run.loop.run().versions == []
    assert run.writes("hubspot") == 0
    assert len(run.loop.store.all_versions()) == 1


def test_edit_lost_and_deletion_each_correct_by_the_delta(world: Callable[..., World]) -> None:
    run = world(seed=2)
    leads = run.leads()
    first = run.win(1000, lead=leads[0])
    second = run.win(500, lead=leads[1])
    run.loop.run()
    assert marketing_revenue_total(run.hubspot) == Decimal("1500.00")

    run.sf_write("Opportunity", first, Amount=1200)
    report = run.loop.run()
    assert [(v.deal_id, d) for v, d in zip(report.versions, report.deltas, strict=True)] == [
        (first, Decimal("200.00"))
    ]
    assert marketing_revenue_total(run.hubspot) == crm_won_total(run) == Decimal("1700.00")

    run.sf_write("Opportunity", second, StageName="Closed Lost")
    report = run.loop.run()
    assert [(v.state, d) for v, d in zip(report.versions, report.deltas, strict=True)] == [
        ("not_won", Decimal("-500.00"))
    ]
    assert marketing_revenue_total(run.hubspot) == crm_won_total(run) == Decimal("1200.00")

    run.salesforce.api.restful(f"sobjects/Opportunity/{first}", method="DELETE")
    report = run.loop.run()
    assert [(v.state, d) for v, d in zip(report.versions, report.deltas, strict=True)] == [
        ("deleted", Decimal("-1200.00"))
    ]
    assert marketing_revenue_total(run.hubspot) == crm_won_total(run) == Decimal("0.00")
    contact = run.contact_of_lead(leads[0].id)
    assert money(run.contact_revenue(contact)["cl_attributed_revenue"]) == 0
    versions = [(v.deal_id, v.version, v.state) for v in run.loop.store.all_versions()]
    assert versions == [
        (first, 1, "won"),
        (second, 1, "won"),
        (first, 2, "won"),
        (second, 2, "not_won"),
        (first, 3, "deleted"),
    ]


def test_a_multi_currency_opportunity_converts_at_its_close_date_rate(
    world: Callable[..., World],
) -> None:
    run = world(seed=3)
    run.admin(
        "salesforce",
        "post",
        "currency",
        {
            "corporate": "USD",
            "rates": {"EUR": 0.5},
            "dated_rates": [
                {"iso_code": "EUR", "rate": 0.9, "start_date": "2000-01-01"},
                {"iso_code": "EUR", "rate": 0.8, "start_date": CLOSE},
            ],
        },
    )
    run.salesforce.api.forget_describes()
    opportunity = run.win(100, CurrencyIsoCode="EUR")
    [version] = run.loop.run().versions
    assert version.deal_id == opportunity
    assert (version.amount, version.currency) == (Decimal("100.00"), "EUR")
    assert version.home_amount == Decimal("125.00")  # 100 / 0.8, the rate from the close date
    assert version.rate_source == "salesforce:dated"
    assert marketing_revenue_total(run.hubspot) == Decimal("125.00")


def test_a_deal_without_buyer_is_unattributed_and_totals_still_close(
    world: Callable[..., World],
) -> None:
    run = world(seed=4, model="time_decay")
    won = run.win(300)
    [orphan] = run.salesforce.write(
        [
            RowWrite(
                "orphan",
                "Opportunity",
                {
                    "Name": "No buyer",
                    "StageName": "Closed Won",
                    "CloseDate": CLOSE,
                    "Amount": 99.99,
                },
                match=("closedloop_id__c", "orphan-1"),
            )
        ]
    )
    assert orphan.ok
    report = run.loop.run()
    assert {v.deal_id for v in report.versions} == {won, orphan.record_id}
    assert report.unattributed == Decimal("99.99")
    assert run.unattributed() == Decimal("99.99")
    assert marketing_revenue_total(run.hubspot) == crm_won_total(run) == Decimal("399.99")


def test_handle_deals_processes_just_the_named_deal(world: Callable[..., World]) -> None:
    run = world(seed=5, push_events=True)
    leads = run.leads()
    first = run.win(800, lead=leads[0])
    second = run.win(200, lead=leads[1])
    run.loop.handle_deals("salesforce", "Opportunity", [first])
    assert [(v.deal_id, v.version) for v in run.loop.store.all_versions()] == [(first, 1)]
    run.loop.handle_deals("hubspot", "contacts", [second])  # not a deal: ignored
    assert len(run.loop.store.all_versions()) == 1
    assert marketing_revenue_total(run.hubspot) == Decimal("800.00")
    events = run.admin("hubspot", "get", "events")["behavioral"]
    deltas = [Decimal(e["properties"]["revenue_delta"]) for e in events]
    assert sum(deltas, Decimal(0)) == Decimal("800.00")
    assert {e["properties"]["deal_id"] for e in events} == {first}

    run.sf_write("Opportunity", first, Amount=700)
    run.loop.handle_deals("salesforce", "Opportunity", [first])
    events = run.admin("hubspot", "get", "events")["behavioral"]
    deltas = [Decimal(e["properties"]["revenue_delta"]) for e in events]
    assert sum(deltas, Decimal(0)) == Decimal("700.00")  # the correction came as a delta
    assert marketing_revenue_total(run.hubspot) == Decimal("700.00")


def test_a_hubspot_deal_uses_amount_in_home_currency(world: Callable[..., World]) -> None:
    run = world(seed=6, crm="hubspot")
    contacts = [r for p in run.hubspot.read_all("contacts", ["email"]) for r in p.records]
    buyer = contacts[0].id
    [deal] = run.hubspot.write(
        [
            RowWrite(
                "deal-eur",
                "deals",
                {
                    "dealname": "Euro deal",
                    "dealstage": "closedwon",
                    "amount": "1000",
                    "deal_currency_code": "EUR",
                    "closedate": f"{CLOSE}T00:00:00Z",
                },
                match=("closedloop_external_id", "deal-eur"),
            )
        ]
    )
    assert deal.ok
    answer = requests.put(
        f"{run.hubspot_url}/crm/v4/objects/deals/{deal.record_id}/associations/default/"
        f"contacts/{buyer}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert answer.status_code < 300, answer.text
    [version] = run.loop.run().versions
    assert (version.amount, version.currency) == (Decimal("1000.00"), "EUR")
    assert version.home_amount == Decimal("1080.00")  # the portal's fixed EUR rate
    assert version.rate_source == "hubspot:deal"
    assert money(run.contact_revenue(buyer)["cl_won_revenue_total"]) == Decimal("1080.00")
    assert marketing_revenue_total(run.hubspot) == Decimal("1080.00")
    assert run.loop.run().versions == []


def test_salesforce_as_marketing_gets_campaign_revenue_that_closes(
    world: Callable[..., World],
) -> None:
    run = world(seed=7, crm="hubspot")
    settings = run.settings.model_copy(
        update={"roles": run.settings.roles.model_copy(update={"marketing": "salesforce"})}
    )
    loop = type(run.loop)(settings, run.engine.state, run.engine.connectors)
    contacts = [r for p in run.hubspot.read_all("contacts", ["email"]) for r in p.records]
    [deal] = run.hubspot.write(
        [
            RowWrite(
                "deal-usd",
                "deals",
                {"dealname": "Deal", "dealstage": "closedwon", "amount": "640.50"},
                match=("closedloop_external_id", "deal-usd"),
            )
        ]
    )
    requests.put(
        f"{run.hubspot_url}/crm/v4/objects/deals/{deal.record_id}/associations/default/"
        f"contacts/{contacts[0].id}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    ).raise_for_status()
    report = loop.run()
    assert len(report.versions) == 1
    assert report.failed == 0
    for model in ("linear", "first_touch", "markov"):
        assert marketing_revenue_total(run.salesforce, model=model) == Decimal("640.50")
    run.reset_stats()
    assert loop.run().versions == []
    assert run.writes("salesforce") == 0
