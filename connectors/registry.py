"""Where connectors are found: the built-ins, then the ``closedloop.connectors`` entry points.

Built-ins are named here and imported lazily, so a missing vendor SDK only matters when that
connector is used. A third-party package plugs in with::

    [project.entry-points."closedloop.connectors"]
    acme = "acme_closedloop:AcmeConnector"
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from closedloop.connectors.contract import Connector
from closedloop.runtime.errors import ConfigError, ConfigProblem

ENTRY_POINT_GROUP = "closedloop.connectors"
BUILTIN: dict[str, str] = {
    "hubspot": "closedloop.connectors.hubspot.connector:HubSpotConnector",
    "salesforce": "closedloop.connectors.salesforce.connector:SalesforceConnector",
}


def available() -> dict[str, str]:
    """Every known connector name and the ``module:Class`` it loads (built-ins win on a clash)."""
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return {**found, **BUILTIN}


def connector_class(name: str) -> type[Connector]:
    """The connector class registered under ``name``.

    Raises:
        ConfigError: when no connector has that name or it does not implement the contract.
    """
    target = available().get(name)
    if target is None:
        known = ", ".join(sorted(available()))
        raise ConfigError(
            [ConfigProblem("roles", f"no connector named {name!r} (installed: {known})")],
            hint=f"install the plug-in that provides {name!r}",
        )
    module_name, _, attribute = target.partition(":")
    loaded = getattr(import_module(module_name), attribute)
    if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
        raise ConfigError(
            [ConfigProblem("roles", f"{target} is not a closedloop Connector")],
            hint="a plug-in's entry point must name a subclass of closedloop Connector",
        )
    return loaded
