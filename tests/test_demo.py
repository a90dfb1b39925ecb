"""``closedloop demo``: the README's main job, through the installed command."""

from __future__ import annotations

import json
from collections.abc import Callable

from support import CliResult


def test_demo_json_shows_the_marketing_side_equal_to_the_crm(
    run_cli: Callable[..., CliResult],
) -> None:
    result = run_cli("demo", "--json", "--people", "300", "--deals", "60")
    assert result.code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {
        "people",
        "deals_won",
        "revenue_crm",
        "revenue_marketing",
        "api_calls",
        "api_floor_calls",
        "seconds",
    }
    assert figures["people"] == 300
    assert figures["deals_won"] > 10
    assert figures["revenue_marketing"] == figures["revenue_crm"]
    assert float(figures["revenue_crm"]) > 0
    assert figures["api_calls"] >= figures["api_floor_calls"] > 0


def test_demo_prints_the_report_and_where_to_look_next(
    run_cli: Callable[..., CliResult],
) -> None:
    result = run_cli("demo", "--people", "200", "--deals", "40")
    assert result.code == 0, result.stderr
    assert "Won revenue by channel" in result.stdout
    assert "(unattributed)" in result.stdout or "Paid Search" in result.stdout
    assert "Where to look next" in result.stdout


def test_an_unfinished_topology_is_refused_with_a_hint(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("demo", "--topology", "salesforce")
    assert result.code == 1
    assert "hint:" in result.stderr
