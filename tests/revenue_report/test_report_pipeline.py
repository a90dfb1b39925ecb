"""The report's pipeline column and its MQL -> SQL figures, on a store holding both."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from support import CliResult

from closedloop.config.schema import DatabaseSettings, RevenueSettings, Settings
from closedloop.revenue.credit import UNATTRIBUTED
from closedloop.revenue.journeys import credit_deal, deal_path, models_for
from closedloop.revenue.pipeline import PipelineDeal, PipelineStore
from closedloop.revenue.report import build_report
from closedloop.store.schema import people
from closedloop.sync.model import RecordRef
from closedloop.sync.setup import open_store
from closedloop.sync.state import SyncState
from closedloop.sync.touch_sources import mark_lifecycle
from closedloop.sync.touchpoints import make_touchpoint

START = datetime(2026, 10, 1, tzinfo=UTC)
JOURNEYS = {
    "dee@example.com": [("google", "cpc"), ("newsletter", "email")],
    "eve@example.com": [("facebook", "paid_social")],
    "fay@example.com": [("google", "cpc")],
}


def _open_deal(deal_id: str, amount: str, buyers: tuple[str, ...]) -> PipelineDeal:
    return PipelineDeal(
        system="salesforce",
        deal_id=deal_id,
        amount=Decimal(amount),
        currency="USD",
        home_amount=Decimal(amount),
        home_currency="USD",
        rate=Decimal(1),
        rate_source="home",
        close_date=START + timedelta(days=60),
        buyers=buyers,
    )


def _seed(database_url: str) -> tuple[Engine, SyncState, dict[str, str]]:
    """Three people with touches and three open deals: Dee's, Eve's and one without buyer."""
    store = open_store(Settings(database=DatabaseSettings(url=database_url)))
    state = SyncState.open(store)
    person_of: dict[str, str] = {}
    for n, (email, journey) in enumerate(JOURNEYS.items()):
        ref = RecordRef("hubspot", "contacts", str(900 + n))
        person_of[email] = state.identity.resolve(ref, email)
        touches = [
            make_touchpoint(
                occurred_at=START + timedelta(days=2 * i + n),
                origin="test",
                utm_source=source,
                utm_medium=medium,
            )
            for i, (source, medium) in enumerate(journey)
        ]
        state.ledger.add(person_of[email], touches)
    pipeline = PipelineStore(store)
    models = models_for(RevenueSettings())
    for deal in (
        _open_deal("006P1", "1000.01", (person_of["dee@example.com"],)),
        _open_deal("006P2", "300.00", (person_of["eve@example.com"],)),
        _open_deal("006P3", "45.50", ()),
    ):
        pooled = {
            b: state.ledger.touches_of(b, until=START + timedelta(days=30)) for b in deal.buyers
        }
        path, origin = deal_path(pooled, {})
        credits = credit_deal(deal.home_amount, path, origin, START + timedelta(days=30), models)
        pipeline.upsert(deal, credits)
    return store, state, person_of


@pytest.mark.parametrize("model", ["first_touch", "last_touch", "linear", "u_shaped"])
def test_pipeline_rows_add_up_to_the_open_deals_to_the_cent(database_url: str, model: str) -> None:
    store, _, _ = _seed(database_url)
    report = build_report(store, dimension="channel", model=model, home_currency="USD")
    store.dispose()
    assert (report.open_deals, report.pipeline) == (3, Decimal("1345.51"))
    assert sum(row.pipeline for row in report.rows) == Decimal("1345.51")
    rows = {row.key: row.pipeline for row in report.rows}
    assert rows[UNATTRIBUTED] == Decimal("45.50")
    assert rows["Paid Social"] == Decimal("300.00")
    assert (report.won_deals, report.won_revenue) == (0, Decimal("0.00"))


def test_the_model_moves_dees_pipeline_between_channels(database_url: str) -> None:
    store, _, _ = _seed(database_url)
    first = build_report(store, dimension="channel", model="first_touch", home_currency="USD")
    linear = build_report(store, dimension="channel", model="linear", home_currency="USD")
    store.dispose()
    assert {r.key: r.pipeline for r in first.rows}["Paid Search"] == Decimal("1000.01")
    shares = {r.key: r.pipeline for r in linear.rows}
    assert (shares["Paid Search"], shares["Email"]) == (Decimal("500.01"), Decimal("500.00"))


def test_a_deal_refreshed_replaces_its_row_and_a_closed_one_leaves(database_url: str) -> None:
    store, _, person_of = _seed(database_url)
    pipeline = PipelineStore(store)
    grown = _open_deal("006P2", "350.00", (person_of["eve@example.com"],))
    no_touches = credit_deal(Decimal("350.00"), [], {}, START, models_for(RevenueSettings()))
    pipeline.upsert(grown, no_touches)
    assert pipeline.remove("salesforce", ["006P3", "006-never-open"]) == 1
    report = build_report(store, dimension="channel", model="linear", home_currency="USD")
    store.dispose()
    assert (report.open_deals, report.pipeline) == (2, Decimal("1350.01"))
    assert {r.key: r.pipeline for r in report.rows}[UNATTRIBUTED] == Decimal("350.00")


def test_without_lifecycle_data_mql_figures_are_unknown(database_url: str) -> None:
    store, _, _ = _seed(database_url)
    report = build_report(store, dimension="source", model="linear", home_currency="USD")
    store.dispose()
    assert report.lifecycle is False
    for row in report.as_json()["rows"]:
        assert (row["mqls"], row["sqls"], row["mql_to_sql"]) == (None, None, None)


def test_mql_to_sql_by_first_touch_over_the_mql_cohort(database_url: str) -> None:
    store, _, person_of = _seed(database_url)
    dee, eve, fay = (person_of[e] for e in JOURNEYS)
    day = timedelta(days=1)
    mark_lifecycle(
        store,
        [
            (dee, START + 10 * day, START + 20 * day),  # MQL then SQL: in the cohort
            (fay, START + 12 * day, None),  # MQL only
            (eve, None, START + 5 * day),  # straight to SQL, never an MQL
        ],
    )
    mark_lifecycle(store, [(dee, START + 30 * day, START + 8 * day)])  # only earlier dates win
    with store.connect() as conn:
        dee_dates = conn.execute(
            select(people.c.became_mql_at, people.c.became_sql_at).where(people.c.person_id == dee)
        ).one()
    report = build_report(store, dimension="source", model="linear", home_currency="USD")
    store.dispose()
    assert tuple(dee_dates) == (START + 10 * day, START + 8 * day)
    rows = {row["key"]: row for row in report.as_json()["rows"]}
    google, facebook = rows["google"], rows["facebook"]
    # Dee's SQL date moved before her MQL date: she no longer counts as MQL -> SQL.
    assert (google["mqls"], google["sqls"], google["mql_to_sql"]) == (2, 1, 0.0)
    assert (facebook["mqls"], facebook["sqls"], facebook["mql_to_sql"]) == (0, 1, None)
    assert rows[UNATTRIBUTED]["mqls"] == 0  # known zero, not unknown


def test_report_command_shows_pipeline_and_dashes(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    database = f"sqlite:///{tmp_path / 'pipeline.db'}"
    store, _, _ = _seed(database)
    store.dispose()
    env = {"CLOSEDLOOP__DATABASE__URL": database}
    as_json = run_cli("report", "--format", "json", "--model", "first_touch", env=env)
    assert as_json.code == 0, as_json.stderr
    payload = json.loads(as_json.stdout)
    assert (payload["open_deals"], payload["pipeline"]) == (3, "1345.51")
    assert {r["key"]: r["pipeline"] for r in payload["rows"]}["Paid Search"] == "1000.01"
    as_csv = run_cli("report", "--format", "csv", env=env)
    header = as_csv.stdout.splitlines()[0].split(",")
    assert header[:3] == ["channel", "revenue", "pipeline"]
    assert {"mqls", "sqls", "mql_to_sql"} <= set(header)
    table = run_cli("report", env=env)
    assert table.code == 0, table.stderr
    assert "1,345.51" in table.stdout
    assert "MQL" in table.stdout
