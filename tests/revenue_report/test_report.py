"""``closedloop report`` and ``import-costs`` on a store holding real revenue versions."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from support import CliResult

from closedloop.config.schema import DatabaseSettings, RevenueSettings, Settings
from closedloop.revenue.costs import CostFileError, import_costs
from closedloop.revenue.credit import UNATTRIBUTED
from closedloop.revenue.events import Observation, RevenueStore
from closedloop.revenue.journeys import credit_deal, deal_path, models_for
from closedloop.revenue.report import build_report
from closedloop.sync.model import RecordRef
from closedloop.sync.setup import open_store
from closedloop.sync.state import SyncState
from closedloop.sync.touchpoints import make_touchpoint

START = datetime(2026, 9, 1, tzinfo=UTC)
JOURNEYS = {
    "ann@example.com": [("google", "cpc", "brand"), ("newsletter", "email", "october")],
    "bob@example.com": [("facebook", "paid_social", "retarget")],
    "cy@example.com": [("google", "cpc", "brand")],
}


def _seed(database_url: str) -> tuple[Settings, dict[str, str]]:
    """Three people with touches; Ann and Bob buy deals, plus one deal with no buyer."""
    settings = Settings(database=DatabaseSettings(url=database_url))
    store = open_store(settings)
    state = SyncState.open(store)
    person_of: dict[str, str] = {}
    for n, (email, journey) in enumerate(JOURNEYS.items()):
        ref = RecordRef("salesforce", "Lead", f"00Q00000000000{n}AAA")
        person = state.identity.resolve(ref, email)
        person_of[email] = person
        touches = [
            make_touchpoint(
                occurred_at=START + timedelta(days=3 * i + n),
                origin="test",
                utm_source=source,
                utm_medium=medium,
                utm_campaign=campaign,
            )
            for i, (source, medium, campaign) in enumerate(journey)
        ]
        state.ledger.add(person, touches)
    revenue = RevenueStore(store)
    models = models_for(RevenueSettings())
    deals = [
        ("006A", "1000.00", [person_of["ann@example.com"]]),
        ("006B", "333.33", [person_of["bob@example.com"]]),
        ("006C", "250.00", []),
    ]
    for deal_id, amount, buyers in deals:
        close = START + timedelta(days=30)
        touches = {b: state.ledger.touches_of(b, until=close) for b in buyers}
        path, origin = deal_path(touches, {})
        credits = credit_deal(Decimal(amount), path, origin, close, models)
        observation = Observation(
            "salesforce",
            deal_id,
            "won",
            amount=Decimal(amount),
            currency="USD",
            home_amount=Decimal(amount),
            close_date=close,
            buyers=tuple(buyers),
        )
        assert revenue.record(observation, None, credits) is not None
    store.dispose()
    return settings, person_of


@pytest.mark.parametrize("model", ["first_touch", "linear", "u_shaped", "time_decay"])
def test_rows_add_up_to_the_won_revenue_to_the_cent(database_url: str, model: str) -> None:
    settings, _ = _seed(database_url)
    store = open_store(settings)
    report = build_report(store, dimension="channel", model=model, home_currency="USD")
    store.dispose()
    assert report.won_deals == 3
    assert report.won_revenue == Decimal("1583.33")
    assert sum(row.revenue for row in report.rows) == Decimal("1583.33")
    by_key = {row.key: row for row in report.rows}
    assert by_key[UNATTRIBUTED].revenue == Decimal("250.00")
    assert by_key["Paid Social"].revenue == Decimal("333.33")
    assert sum(row.conversions for row in report.rows) == 3


def test_first_and_last_touch_move_anns_deal_between_channels(database_url: str) -> None:
    settings, _ = _seed(database_url)
    store = open_store(settings)
    first = build_report(store, dimension="channel", model="first_touch", home_currency="USD")
    last = build_report(store, dimension="channel", model="last_touch", home_currency="USD")
    store.dispose()
    first_rows = {row.key: row.revenue for row in first.rows}
    last_rows = {row.key: row.revenue for row in last.rows}
    assert first_rows["Paid Search"] == Decimal("1000.00")
    assert last_rows["Email"] == Decimal("1000.00")
    assert last_rows.get("Paid Search", Decimal(0)) == Decimal(0)


def test_funnel_groups_people_by_first_touch(database_url: str) -> None:
    settings, _ = _seed(database_url)
    store = open_store(settings)
    report = build_report(store, dimension="source", model="linear", home_currency="USD")
    store.dispose()
    google = next(row for row in report.rows if row.key == "google")
    assert (google.leads, google.opportunities, google.won_buyers) == (2, 1, 1)
    assert google.days_to_close == [30.0]


def test_costs_give_cac_and_roi_and_reimport_replaces(database_url: str, tmp_path: Path) -> None:
    settings, _ = _seed(database_url)
    costs = tmp_path / "costs.csv"
    costs.write_text(
        "date,channel,source,campaign,amount,currency\n"
        "2026-09-01,Paid Search,google,brand,100.00,USD\n"
        "2026-09-02,Paid Search,google,brand,92.59,EUR\n"
        "2026-09-03,Paid Social,facebook,retarget,not-a-number,USD\n"
        "2026-13-01,Paid Social,facebook,retarget,10,USD\n"
    )
    store = open_store(settings)
    rates = {"EUR": 1.08}
    first = import_costs(store, costs, home_currency="USD", rates=rates)
    again = import_costs(store, costs, home_currency="USD", rates=rates)
    report = build_report(store, dimension="channel", model="linear", home_currency="USD")
    store.dispose()
    assert (first.imported, again.imported) == (2, 2)
    assert [(p.row, p.column) for p in first.problems] == [(4, "amount"), (5, "date")]
    search = next(row for row in report.rows if row.key == "Paid Search").as_json()
    assert search["cost"] == "200.00"  # 100 USD + 92.59 EUR at 1.08, once despite two imports
    assert search["roi"] == pytest.approx((500 - 200) / 200)  # half of Ann's 1,000 (linear)


def test_a_cost_file_without_required_columns_is_refused(database_url: str, tmp_path: Path) -> None:
    settings, _ = _seed(database_url)
    costs = tmp_path / "costs.csv"
    costs.write_text("day,spend\n2026-09-01,10\n")
    store = open_store(settings)
    with pytest.raises(CostFileError, match="missing column"):
        import_costs(store, costs, home_currency="USD", rates={})
    store.dispose()


def test_report_command_formats_and_charts(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    database = f"sqlite:///{tmp_path / 'report.db'}"
    _seed(database)
    env = {"CLOSEDLOOP__DATABASE__URL": database}
    as_json = run_cli("report", "--format", "json", "--model", "linear", env=env)
    assert as_json.code == 0, as_json.stderr
    payload = json.loads(as_json.stdout)
    assert payload["won_revenue"] == "1583.33"
    as_csv = run_cli("report", "--by", "campaign", "--format", "csv", env=env)
    assert as_csv.code == 0, as_csv.stderr
    assert as_csv.stdout.splitlines()[0].startswith("campaign,revenue,")
    table = run_cli("report", env=env)
    assert table.code == 0
    assert "Paid Social" in table.stdout
    for name in ("chart.png", "chart.svg"):
        drawn = run_cli("report", "--chart", str(tmp_path / name), env=env)
        assert drawn.code == 0, drawn.stderr
        assert (tmp_path / name).stat().st_size > 1000
    wrong = run_cli("report", "--chart", str(tmp_path / "chart.gif"), env=env)
    assert wrong.code == 2
    assert ".png or .svg" in wrong.stderr
    unknown = run_cli("report", "--model", "nope", env=env)
    assert unknown.code != 0
    assert "unknown attribution model 'nope'" in unknown.stderr
    assert "linear" in unknown.stderr  # the hint names the models there are


def test_import_costs_command_names_bad_rows(
    tmp_path: Path, run_cli: Callable[..., CliResult]
) -> None:
    database = f"sqlite:///{tmp_path / 'costs.db'}"
    costs = tmp_path / "costs.csv"
    costs.write_text("date,channel,amount\n2026-09-01,Email,5\n2026-09-02,,5\n")
    result = run_cli("import-costs", str(costs), env={"CLOSEDLOOP__DATABASE__URL": database})
    assert result.code == 1
    assert "row 3, column channel: is empty" in result.stderr
    assert "1 cost rows imported" in result.stderr
