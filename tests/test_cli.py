"""The real ``closedloop`` command: help, version, init, config check, db upgrade, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support import CliResult

Run = Callable[..., CliResult]


def test_version_and_help(run_cli: Run) -> None:
    version = run_cli("--version")
    assert version.code == 0
    assert "closedloop, version" in version.stdout
    for args in (
        ["--help"],
        ["init", "--help"],
        ["config", "check", "--help"],
        ["db", "upgrade", "--help"],
        ["emulate", "hubspot", "--help"],
    ):
        result = run_cli(*args)
        assert result.code == 0, (args, result.stderr)
        assert "Usage:" in result.stdout


def test_init_then_check_with_config_before_or_after(run_cli: Run, tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path / "site")).code == 0
    config = tmp_path / "site" / "closedloop.yaml"
    assert config.is_file()
    before = run_cli("--config", str(config), "config", "check")
    after = run_cli("config", "check", "--config", str(config))
    assert before.code == after.code == 0
    assert "valid" in before.stdout
    again = run_cli("init", str(tmp_path / "site"))
    assert again.code == 2
    assert "--force" in again.stderr


def test_invalid_config_exits_2_and_names_both_keys(run_cli: Run, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("databse:\n  url: x\nserver:\n  port: eighty\n")
    result = run_cli("config", "check", "--config", str(config))
    assert result.code == 2
    assert "databse" in result.stderr
    assert "did you mean 'database'" in result.stderr
    assert "server.port" in result.stderr
    assert "bad.yaml:4" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_json_is_one_line_on_stdout(run_cli: Run, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("server:\n  port: eighty\n")
    result = run_cli("config", "check", "--json", "--config", str(config))
    assert result.code == 2
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["valid"] is False
    assert payload["problems"][0]["key"] == "server.port"


def test_usage_errors_exit_2(run_cli: Run) -> None:
    assert run_cli("no-such-command").code == 2
    assert run_cli("config", "check", "--config").code == 2


def test_db_upgrade_on_sqlite_is_idempotent(run_cli: Run, tmp_path: Path) -> None:
    first = run_cli("db", "upgrade", "--json")
    assert first.code == 0, first.stderr
    payload = json.loads(first.stdout)
    assert payload["before"] is None
    assert payload["applied"]
    assert (tmp_path / "data" / "closedloop.db").is_file()
    second = json.loads(run_cli("db", "upgrade", "--json").stdout)
    assert second["applied"] == []
    assert second["installation_id"] == payload["installation_id"]


@pytest.mark.postgres
def test_db_upgrade_on_postgresql_from_the_environment(run_cli: Run, postgres_url: str) -> None:
    env = {"CLOSEDLOOP__DATABASE__URL": postgres_url}
    first = run_cli("db", "upgrade", "--json", env=env)
    assert first.code == 0, first.stderr
    assert json.loads(first.stdout)["applied"]
    second = run_cli("db", "upgrade", env=env)
    assert second.code == 0
    assert "up to date" in second.stdout


def test_unreachable_database_exits_1_with_a_hint(run_cli: Run) -> None:
    env = {"CLOSEDLOOP__DATABASE__URL": "postgresql://u@127.0.0.1:1/x?connect_timeout=2"}
    result = run_cli("db", "upgrade", env=env)
    assert result.code == 1
    assert "hint:" in result.stderr
    assert "Traceback" not in result.stderr


def test_attribute_paths_through_the_installed_command(run_cli: Run, tmp_path: Path) -> None:
    paths = tmp_path / "paths.csv"
    paths.write_text(
        "path,total_conversions,total_conversion_value,total_null\n"
        "A > B,2,200,1\nB,1,50,3\nA > C > B,1,100,0\nC,0,0,4\n"
    )
    result = run_cli("attribute", "--paths", str(paths), "--model", "markov", "--format", "json")
    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["model"] == "markov"
    channels = payload["channels"]
    assert sum(c["conversions"] for c in channels.values()) == pytest.approx(4)
    assert sum(c["value"] for c in channels.values()) == pytest.approx(350)
    bad = tmp_path / "bad.csv"
    bad.write_text("path,total_conversions\nA,x\n")
    failed = run_cli("attribute", "--paths", str(bad), "--model", "linear")
    assert failed.code == 2
    assert "bad.csv" in failed.stderr
    assert "Traceback" not in failed.stderr
