"""``closedloop demo``: the README's main job, through the installed command, in every topology."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from support import CliResult

TOPOLOGIES = ("hubspot-salesforce", "hubspot", "salesforce")


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_demo_json_shows_the_marketing_side_equal_to_the_crm(
    run_cli: Callable[..., CliResult], topology: str
) -> None:
    result = run_cli("demo", "--topology", topology, "--json", "--people", "300", "--deals", "60")
    assert result.code == 0, result.stderr
    [line] = result.stdout.splitlines()
    figures = json.loads(line)
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
    assert 10 < figures["deals_won"] < 60
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


def test_the_salesforce_demo_reports_campaign_channels_and_its_one_emulator(
    run_cli: Callable[..., CliResult],
) -> None:
    result = run_cli("demo", "--topology", "salesforce", "--people", "200", "--deals", "40")
    assert result.code == 0, result.stderr
    assert "Won revenue by channel" in result.stdout
    assert "Salesforce Campaigns" in result.stdout
    assert "Salesforce emulator http://127.0.0.1:" in result.stdout
    assert "HubSpot emulator" not in result.stdout


def test_an_unknown_topology_is_refused(run_cli: Callable[..., CliResult]) -> None:
    result = run_cli("demo", "--topology", "pipedrive")
    assert result.code != 0
    assert "pipedrive" in result.stderr
