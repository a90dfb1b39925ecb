"""Run the real CLI through every path of the foundation with sentinel secrets; none may leak."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support import CliResult

Run = Callable[..., CliResult]
TOKEN = "SENTINEL-hubspot-token-4c1d"
HS_SECRET = "SENTINEL-hubspot-secret-8e2b"
SF_SECRET = "SENTINEL-sf-secret-77aa"
DB_PASSWORD = "SENTINEL-dbpass-19f0"
SENTINELS = (TOKEN, HS_SECRET, SF_SECRET, DB_PASSWORD)


def config_with_secrets(tmp_path: Path, extra: str = "", name: str = "closedloop.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        "hubspot:\n"
        f"  access_token: {TOKEN}\n"
        "  client_secret: ${HS_SECRET}\n"
        "salesforce:\n"
        f"  client_secret: {SF_SECRET}\n" + extra
    )
    return path


def assert_clean(result: CliResult) -> None:
    for sentinel in SENTINELS:
        assert sentinel not in result.stdout, sentinel
        assert sentinel not in result.stderr, sentinel


@pytest.mark.parametrize("verbose", [[], ["--verbose"]])
def test_no_sentinel_in_any_output(
    run_cli: Run, tmp_path: Path, postgres_url: str, verbose: list[str]
) -> None:
    pg = make_url(postgres_url).set(password=DB_PASSWORD)
    good_db = pg.render_as_string(hide_password=False)
    dead_db = pg.set(host="127.0.0.1", port=1).render_as_string(hide_password=False)
    config = config_with_secrets(tmp_path)
    env = {"HS_SECRET": HS_SECRET}
    runs = [
        run_cli(*verbose, "--config", str(config), "config", "check", env=env),
        run_cli(*verbose, "--config", str(config), "config", "check", "--json", env=env),
        run_cli(*verbose, "--config", str(config), "config", "show", env=env),
        run_cli(*verbose, "--config", str(config), "config", "show", "--json", env=env),
        # a missing interpolation variable and a bad override next to the secrets
        run_cli(*verbose, "--config", str(config), "config", "check"),
        run_cli(
            *verbose,
            "--config",
            str(config),
            "config",
            "check",
            env={**env, "CLOSEDLOOP__HUBSPOT__ACCESS_TOKEN": "", "CLOSEDLOOP__X": TOKEN},
        ),
        # secrets in keys that fail validation
        run_cli(
            *verbose,
            "--config",
            str(config_with_secrets(tmp_path, f"server:\n  prot: {TOKEN}\n", "bad.yaml")),
            "config",
            "check",
            env=env,
        ),
        # db upgrade: success with a password (trust auth ignores it) and failure
        run_cli(
            *verbose,
            "--config",
            str(config),
            "db",
            "upgrade",
            env={**env, "CLOSEDLOOP__DATABASE__URL": f"{good_db}?connect_timeout=5"},
        ),
        run_cli(
            *verbose,
            "--config",
            str(config),
            "db",
            "upgrade",
            "--json",
            env={**env, "CLOSEDLOOP__DATABASE__URL": f"{dead_db}?connect_timeout=2"},
        ),
        run_cli(
            *verbose,
            "--config",
            str(config),
            "db",
            "upgrade",
            env={**env, "CLOSEDLOOP__DATABASE__URL": f"nonsense://{DB_PASSWORD}"},
        ),
        run_cli(*verbose, "init", str(tmp_path / "fresh")),
    ]
    codes = [r.code for r in runs]
    assert codes == [0, 0, 0, 0, 2, 2, 2, 0, 1, 1, 0], [r.stderr for r in runs]
    for result in runs:
        assert_clean(result)
