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
HubSpotTier = Literal["free", "starter", "pro", "enterprise", "api-addon"]

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
    client_id: str | None = Field(default=None, description="OAuth app client id.")
    refresh_token: SecretStr | None = Field(
        default=None, description="OAuth refresh token (instead of a private-app token)."
    )
    tier: HubSpotTier = Field(default="pro", description="Portal tier: sets the API limits.")
    daily_share: float = Field(
        default=0.5, gt=0, le=1, description="Share of the portal's daily API allowance to use."
    )
    timeout_seconds: float = Field(default=30.0, gt=0, description="Timeout of every call.")

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
    auth_flow: Literal["client_credentials", "jwt"] = "client_credentials"
    username: str | None = Field(default=None, description="Integration user (JWT flow).")
    private_key_file: str | None = Field(default=None, description="PEM key (JWT flow).")
    daily_allowance: int = Field(
        default=100_000, gt=0, description="The org's rolling 24-hour API allocation."
    )
    daily_share: float = Field(
        default=0.2, gt=0, le=1, description="Share of the org's allocation closedloop may use."
    )
    bulk_threshold: int = Field(
        default=2000, ge=1, description="Rows above which writes use Bulk API 2.0."
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="Timeout of every call.")

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


class CreationSettings(Section):
    """Which marketing contacts become CRM records, and with what defaults.

    A contact becomes a CRM record when its lifecycle stage is listed (all contacts with an
    email when the list is empty) or, if set, when the inclusion property is true. An
    existing Lead or Contact with the same email is matched first (see docs/sync.md).
    """

    lifecycle_stages: tuple[str, ...] = ()
    inclusion_property: str | None = None
    default_owner_id: str | None = None
    round_robin_owner_ids: tuple[str, ...] = ()
    default_company: str = "[not provided]"
    default_last_name: str = "[not provided]"


class SyncSettings(Section):
    """How and when records are synced."""

    incremental_minutes: int = Field(default=15, ge=1, description="Incremental sync period.")
    full_reconciliation_hour: int = Field(
        default=3, ge=0, le=23, description="Hour (UTC) of the daily full reconciliation."
    )
    overlap_seconds: int = Field(default=120, ge=0, description="Re-read window for index lag.")
    blast_radius: float = Field(
        default=0.2, gt=0, le=1, description="Abort before writing when a larger share changes."
    )
    read_only: bool = Field(default=False, description="Read and plan, never write.")
    mappings_dir: str | None = Field(
        default=None, description="Folder with admin overrides (field_mappings.yaml, channels)."
    )
    create: CreationSettings = CreationSettings()


class WebhookSettings(Section):
    """Inbound webhooks: limits, legacy signatures and the Salesforce callout secrets."""

    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Larger request bodies are answered 413."
    )
    hubspot_legacy_signatures: bool = Field(
        default=False,
        description="Accept HubSpot v1/v2 signatures (no timestamp: replayable; legacy apps only).",
    )
    salesforce_event_secrets: tuple[SecretStr, ...] = Field(
        default=(),
        description="Standard Webhooks secrets (whsec_...) of Apex callouts; two during rotation.",
    )
    flow_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Per-source shared secrets of Flow HTTP callouts (X-ClosedLoop-Token header).",
    )
    workers: int = Field(default=2, ge=1, le=32, description="Inbox worker threads in serve.")
    max_attempts: int = Field(
        default=5, ge=1, description="Processing attempts before an event is dead-lettered."
    )
    done_retention_days: int = Field(
        default=7,
        ge=1,
        description="Days processed events are kept: their keys absorb redeliveries (senders"
        " retry for up to about 3 days).",
    )


class CollectorSettings(Section):
    """The first-party touchpoint collector (``/collect`` and ``/collect.js``)."""

    enabled: bool = True
    allowed_origins: tuple[str, ...] = Field(
        default=(), description="Website origins allowed to post touches (CORS allowlist)."
    )
    consent_signal: str | None = Field(
        default=None,
        description="Name of the consent flag the page sends; when set, touches need it true.",
    )
    honour_gpc: bool = Field(default=True, description="Drop touches sent with Sec-GPC: 1.")
    rate_limit_per_minute: int = Field(
        default=120, ge=1, description="Touches accepted per client address per minute."
    )
    raw_retention_days: int = Field(
        default=30, ge=0, description="Days raw collector payloads are kept (0: never kept)."
    )
    cookie_days: int = Field(default=180, ge=1, description="Lifetime of the first-party cookie.")


class RevenueSettings(Section):
    """Attribution of won revenue and its push-back to the marketing system."""

    model: str = Field(default="linear", description="Attribution model of the pushed revenue.")
    half_life_days: float = Field(default=7.0, gt=0, description="time_decay half-life.")
    custom_weights: dict[str, float] = Field(
        default_factory=dict, description="Position weights of the custom model (FT, LC, ...)."
    )
    home_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    rates: dict[str, float] = Field(
        default_factory=dict,
        description="Fallback rates: units of home currency per unit of each currency.",
    )
    push_events: bool = Field(
        default=False, description="Also send a behavioral event per won deal (HubSpot)."
    )
    event_name: str | None = Field(
        default=None, description="Fully qualified HubSpot custom event name (pe<portal>_...)."
    )


class Settings(Section):
    """All of closedloop's settings."""

    database: DatabaseSettings = DatabaseSettings()
    hubspot: HubSpotSettings = HubSpotSettings()
    salesforce: SalesforceSettings = SalesforceSettings()
    roles: RolesSettings = RolesSettings()
    server: ServerSettings = ServerSettings()
    sync: SyncSettings = SyncSettings()
    webhooks: WebhookSettings = WebhookSettings()
    collector: CollectorSettings = CollectorSettings()
    revenue: RevenueSettings = RevenueSettings()


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
