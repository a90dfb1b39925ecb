"""The open pipeline kept by the revenue loop, and lifecycle dates carried by the sync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import requests
from sqlalchemy import select

from closedloop.connectors.contract import RowWrite, Value
from closedloop.revenue.credit import UNATTRIBUTED
from closedloop.revenue.report import build_report
from closedloop.store.schema import people, pipeline_deals
from closedloop.sync.model import RecordRef
from closedloop.sync.touch_sources import MQL_DATE, SQL_DATE

World = Any  # the conftest's World
TOKEN = "revenue-token"
LATER = (datetime.now(UTC) + timedelta(days=40)).strftime("%Y-%m-%d")


def open_opportunity(run: World, lead: Any, amount: float, **extra: Any) -> str:
    """Convert ``lead`` and leave its opportunity open with an amount."""
    ids = run.admin("salesforce", "post", "convert-lead", {"lead_id": lead.id})
    opportunity = str(ids["opportunityId"])
    run.sf_write(
        "Opportunity",
        opportunity,
        StageName="Proposal/Price Quote",
        Amount=amount,
        CloseDate=LATER,
        **extra,
    )
    return opportunity


def credited(run: World, model: str) -> dict[str, Decimal]:
    """Each open deal's credits under ``model`` summed, by deal id."""
    return {
        deal.deal_id: sum((c.amount for c in credits), Decimal(0))
        for deal, credits in run.loop.pipeline.credits(model)
    }


def refreshed_at(run: World) -> dict[str, datetime]:
    with run.loop.engine.connect() as conn:
        rows = conn.execute(select(pipeline_deals.c.deal_id, pipeline_deals.c.refreshed_at))
        return {r.deal_id: r.refreshed_at for r in rows}


def test_open_deals_form_the_pipeline_until_they_close_or_go(world: Callable[..., World]) -> None:
    run = world(seed=8)
    leads = run.leads()
    first = open_opportunity(run, leads[0], 1000.01)
    second = open_opportunity(run, leads[1], 250)
    report = run.loop.run()
    assert report.versions == []  # nothing won yet
    assert report.pipeline_open == 2
    deal = run.loop.pipeline.deals("salesforce")[0]
    assert (deal.deal_id, deal.home_amount, deal.currency) == (first, Decimal("1000.01"), "USD")
    person = run.engine.state.identity.person_of(RecordRef("salesforce", "Lead", leads[0].id))
    assert deal.buyers == (person,)
    for model in ("first_touch", "linear", "u_shaped", "time_decay", "markov"):
        assert credited(run, model) == {first: Decimal("1000.01"), second: Decimal("250.00")}
    table = build_report(run.loop.engine, dimension="channel", model="linear", home_currency="USD")
    assert (table.open_deals, table.pipeline) == (2, Decimal("1250.01"))
    assert sum(row.pipeline for row in table.rows) == Decimal("1250.01")
    assert all(row.as_json()["pipeline"] for row in table.rows if row.key != UNATTRIBUTED)

    stamps = refreshed_at(run)
    assert run.loop.run().pipeline_open == 2  # re-read to notice deletions, nothing changed
    assert refreshed_at(run) == stamps  # so neither buyers nor credits were read again

    run.sf_write("Opportunity", first, StageName="Closed Won", CloseDate=LATER)
    run.salesforce.api.restful(f"sobjects/Opportunity/{second}", method="DELETE")
    report = run.loop.run()
    assert [v.deal_id for v in report.versions] == [first]
    assert report.pipeline_removed == 2
    assert run.loop.pipeline.deals() == []
    table = build_report(run.loop.engine, dimension="channel", model="linear", home_currency="USD")
    assert (table.open_deals, table.pipeline, table.won_revenue) == (
        0,
        Decimal("0.00"),
        Decimal("1000.01"),
    )


def test_a_webhook_for_an_open_deal_refreshes_it_and_a_reopened_deal_returns(
    world: Callable[..., World],
) -> None:
    run = world(seed=9)
    leads = run.leads()
    opportunity = run.win(400, lead=leads[0])
    run.loop.run()
    assert run.loop.pipeline.deals() == []
    run.sf_write("Opportunity", opportunity, StageName="Negotiation/Review", Amount=450)
    run.loop.handle_deals("salesforce", "Opportunity", [opportunity])
    [reopened] = run.loop.pipeline.deals()
    assert (reopened.deal_id, reopened.home_amount) == (opportunity, Decimal("450.00"))
    assert reopened.buyers  # read for the open deal (the connector reads closed deals' only)
    [latest] = run.loop.store.latest("salesforce", [opportunity]).values()
    assert (latest.state, latest.delta_home) == ("not_won", Decimal("-400.00"))


def test_a_hubspot_open_deal_without_contacts_is_unattributed_pipeline(
    world: Callable[..., World],
) -> None:
    run = world(seed=10, crm="hubspot")
    contacts = [r for p in run.hubspot.read_all("contacts", ["email"]) for r in p.records]
    values: list[dict[str, Value]] = [
        {"dealname": "Open euro", "dealstage": "contractsent", "amount": "1000"},
        {"dealname": "Open, no buyer", "dealstage": "contractsent", "amount": "77.77"},
    ]
    values[0]["deal_currency_code"] = "EUR"
    deals = run.hubspot.write(
        [
            RowWrite(f"open-{n}", "deals", fields, match=("closedloop_external_id", f"open-{n}"))
            for n, fields in enumerate(values)
        ]
    )
    assert all(d.ok for d in deals)
    answer = requests.put(
        f"{run.hubspot_url}/crm/v4/objects/deals/{deals[0].record_id}/associations/default/"
        f"contacts/{contacts[0].id}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert answer.status_code < 300, answer.text
    run.loop.run()
    stored = {d.deal_id: d for d in run.loop.pipeline.deals("hubspot")}
    assert stored[deals[0].record_id].home_amount == Decimal("1080.00")  # amount_in_home_currency
    assert stored[deals[0].record_id].buyers
    assert stored[deals[1].record_id].buyers == ()
    table = build_report(run.loop.engine, dimension="source", model="w_shaped", home_currency="USD")
    rows = {row.key: row.pipeline for row in table.rows}
    assert rows[UNATTRIBUTED] == Decimal("77.77")
    assert sum(rows.values()) == table.pipeline == Decimal("1157.77")


def test_the_sync_stores_hubspots_mql_and_sql_dates(world: Callable[..., World]) -> None:
    run = world(contacts=60, seed=12)
    fields = ["email", MQL_DATE, SQL_DATE]
    contacts = [r for p in run.hubspot.read_all("contacts", fields) for r in p.records]
    expected = {}
    for contact in contacts:
        person = run.engine.state.identity.person_of(RecordRef("hubspot", "contacts", contact.id))
        expected[person] = tuple(
            datetime.fromisoformat(str(contact.fields[name]).replace("Z", "+00:00"))
            if contact.fields.get(name)
            else None
            for name in (MQL_DATE, SQL_DATE)
        )
    assert any(mql for mql, _ in expected.values())  # the seed qualifies some leads
    assert any(sql for _, sql in expected.values())
    with run.loop.engine.connect() as conn:
        query = select(people.c.person_id, people.c.became_mql_at, people.c.became_sql_at)
        stored = {r.person_id: (r.became_mql_at, r.became_sql_at) for r in conn.execute(query)}
    assert {p: stored[p] for p in expected} == expected
    table = build_report(run.loop.engine, dimension="channel", model="linear", home_currency="USD")
    assert table.lifecycle
    mqls = sum(row.as_json()["mqls"] for row in table.rows)
    assert mqls == sum(1 for mql, _ in expected.values() if mql)
