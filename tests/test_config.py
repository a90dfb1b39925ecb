"""Settings: file, interpolation, environment overrides, validation and immutability."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from closedloop.cli.init_command import example_config_text
from closedloop.config import load_settings
from closedloop.runtime.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "closedloop.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_example_is_valid(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, example_config_text()), environ={})
    assert settings.hubspot.base_url == "https://api.hubapi.com"
    assert settings.roles.marketing == "hubspot"
    assert settings.roles.crm == "salesforce"


def test_defaults_apply_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("CLOSEDLOOP_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings(environ={})
    assert settings.server.port == 8100
    assert settings.database.resolved_url() == f"sqlite:///{tmp_path / 'data' / 'closedloop.db'}"


def test_environment_overrides_the_file_and_is_typed(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 9000\nhubspot:\n  base_url: https://x.example\n")
    settings = load_settings(
        path,
        environ={
            "CLOSEDLOOP__HUBSPOT__BASE_URL": "http://127.0.0.1:8101",
            "CLOSEDLOOP__SERVER__PORT": "9001",
        },
    )
    assert settings.hubspot.base_url == "http://127.0.0.1:8101"
    assert settings.server.port == 9001


def test_interpolation_reads_the_environment_and_allows_escapes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hubspot:\n  access_token: ${HS_TOKEN}\nserver:\n  public_base_url: https://h/$${x}\n",
    )
    settings = load_settings(path, environ={"HS_TOKEN": "pat-123"})
    assert settings.hubspot.access_token is not None
    assert settings.hubspot.access_token.get_secret_value() == "pat-123"
    assert settings.server.public_base_url == "https://h/${x}"


def test_missing_interpolated_variable_names_key_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "hubspot:\n  access_token: ${NOPE}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    (problem,) = caught.value.problems
    assert problem.key == "hubspot.access_token"
    assert problem.line == 2
    assert "NOPE" in problem.message


def test_every_problem_is_reported_with_key_line_and_suggestion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "servr:\n  port: 1\nserver:\n  port: eighty\nhubspot:\n  acess_token: t\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    by_key = {p.key: p for p in caught.value.problems}
    assert set(by_key) == {"servr", "server.port", "hubspot.acess_token"}
    assert "did you mean 'server'" in by_key["servr"].message
    assert by_key["servr"].line == 1
    assert by_key["server.port"].line == 4
    assert "did you mean 'access_token'" in by_key["hubspot.acess_token"].message
    assert caught.value.exit_code == 2


def test_bad_environment_override_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, ""), environ={"CLOSEDLOOP__SERVER__PORT": "99999"})
    (problem,) = caught.value.problems
    assert problem.key == "server.port"
    assert problem.source == "environment variable CLOSEDLOOP__SERVER__PORT"


def test_invalid_yaml_and_non_mapping_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "server: [1,\n"), environ={})
    assert caught.value.problems[0].key == "(file)"
    with pytest.raises(ConfigError):
        load_settings(write(tmp_path, "- a\n- b\n"), environ={})


def test_urls_and_roles_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "hubspot:\n  base_url: ftp://x\nroles:\n  crm: pipedrive\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert {p.key for p in caught.value.problems} == {"hubspot.base_url", "roles.crm"}


def test_settings_are_read_only_and_hide_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, "salesforce:\n  client_secret: s3cr3t-value\n")
    settings = load_settings(path, environ={})
    with pytest.raises(ValidationError):
        settings.server.port = 1  # type: ignore[misc]
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.model_dump())


def test_explicit_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "absent.yaml", environ={})
    assert caught.value.hint is not None
