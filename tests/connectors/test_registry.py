"""Connector discovery: built-ins by name and third-party plug-ins through entry points."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from closedloop.connectors.registry import BUILTIN, available, connector_class
from closedloop.runtime.errors import ConfigError

PLUGIN = """
from closedloop.connectors.contract import Connector


class AcmeConnector(Connector):
    name = "acme"
    from_settings = check = provision = read_changes = read_all = None
    read_records = find = write = related_ids = closed_deals = budget = None


class NotAConnector:
    pass
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party distribution on sys.path declaring two entry points."""
    (tmp_path / "acme_closedloop.py").write_text(PLUGIN)
    dist = tmp_path / "acme_closedloop-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-closedloop\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[closedloop.connectors]\n"
        "acme = acme_closedloop:AcmeConnector\n"
        "broken = acme_closedloop:NotAConnector\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("acme_closedloop", None)


def test_builtins_are_registered_in_one_place() -> None:
    assert set(BUILTIN) == {"hubspot", "salesforce"}
    assert set(BUILTIN) <= set(available())


@pytest.mark.usefixtures("installed_plugin")
def test_third_party_plugin_is_found_through_entry_points() -> None:
    assert available()["acme"] == "acme_closedloop:AcmeConnector"
    assert connector_class("acme").name == "acme"


@pytest.mark.usefixtures("installed_plugin")
def test_entry_point_that_is_not_a_connector_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="problem"):
        connector_class("broken")


def test_unknown_connector_names_the_installed_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        connector_class("pipedrive")
    assert "hubspot" in str(caught.value.problems[0])
