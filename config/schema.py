"""The settings schema: typed, documented, read-only.

Every section forbids unknown keys, so a typo is an error with a "did you mean" rather than a
silently ignored setting. Secrets are :class:`pydantic.SecretStr`, whose ``repr`` and ``str``
never show the value. An environment variable ``CLOSEDLOOP__SECTION__KEY`` overrides the file
(see :mod:`closedloop.config.loader`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

ConnectorName = Literal["hubspot", "salesforce"]

HUBSPOT_API_HOST = "https://api.hubapi.com"
SALESFORCE_LOGIN_HOST = "https://login.salesforce.com"


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors and values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/") if value else value


class DatabaseSettings(Section):
    """Where closedloop keeps its state.

    ``url`` is a SQLAlchemy URL: ``sqlite:///path/closedloop.db`` (the embedded default, in the
    data directory) or ``postgresql://user:password@host/db`` for production.
    """

    url: str | None = Field(default=None, description="SQLAlchemy database URL.")

    def resolved_url(self) -> str:
        """The configured URL, or the embedded SQLite file in the data directory."""
        if self.url:
            return self.url
        return f"sqlite:///{default_data_dir() / 'closedloop.db'}"


class HubSpotSettings(Section):
    """The HubSpot portal closedloop talks to."""

    base_url: str = Field(default=HUBSPOT_API_HOST, description="API host; an emulator in tests.")
    access_token: SecretStr | None = Field(default=None, description="Private-app access token.")
    client_secret: SecretStr | None = Field(
        default=None, description="App client secret: verifies webhook signatures."
    )

    _check_url = field_validator("base_url")(_http_url)


class SalesforceSettings(Section):
    """The Salesforce org closedloop talks to."""

    instance_url: str | None = Field(default=None, description="My Domain URL of the org.")
    login_url: str = Field(default=SALESFORCE_LOGIN_HOST, description="OAuth token host.")
    client_id: str | None = Field(default=None, description="Connected-app consumer key.")
    client_secret: SecretStr | None = Field(default=None, description="Consumer secret.")
    organization_id: str | None = Field(
        default=None, description="18-character org id; checked on Outbound Messages."
    )
    api_version: str = Field(default="59.0", pattern=r"^\d{2}\.0$")

    _check_urls = field_validator("instance_url", "login_url")(_http_url)


class RolesSettings(Section):
    """Which configured connector plays which role (one connector may play both)."""

    marketing: ConnectorName = "hubspot"
    crm: ConnectorName = "salesforce"


class ServerSettings(Section):
    """The webhook listener and collector (``closedloop serve``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    public_base_url: str | None = Field(
        default=None, description="URL the vendors call; signatures are checked against it."
    )

    _check_url = field_validator("public_base_url")(_http_url)


class Settings(Section):
    """All of closedloop's settings."""

    database: DatabaseSettings = DatabaseSettings()
    hubspot: HubSpotSettings = HubSpotSettings()
    salesforce: SalesforceSettings = SalesforceSettings()
    roles: RolesSettings = RolesSettings()
    server: ServerSettings = ServerSettings()


def default_data_dir() -> Path:
    """``$CLOSEDLOOP_DATA_DIR``, else ``$XDG_DATA_HOME/closedloop``, else ``~/.local/share/...``."""
    explicit = os.environ.get("CLOSEDLOOP_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "closedloop"


def default_config_paths() -> list[Path]:
    """Where closedloop looks for its config file when ``--config`` is not given, in order."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path.cwd() / "closedloop.yaml", Path(base) / "closedloop" / "closedloop.yaml"]
