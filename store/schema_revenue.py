"""The revenue loop's tables (migrations 0005 and 0007, :mod:`closedloop.revenue`).

Revenue versions and their credits (:mod:`closedloop.revenue.events`), ad costs
(:mod:`closedloop.revenue.costs`) and the open pipeline (:mod:`closedloop.revenue.pipeline`).
Import them from :mod:`closedloop.store.schema`, which holds every table.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from closedloop.store.columns import ROW_ID, UtcDateTime, metadata

__all__ = ["ad_costs", "pipeline_credits", "pipeline_deals", "revenue_credits", "revenue_versions"]

# --- revenue loop (migration 0005, closedloop.revenue) ---

# One row per version of a deal's revenue event (closedloop.revenue.events). Money is kept in
# integer cents: the original amount and currency, the home amount and the rate used.
revenue_versions = Table(
    "revenue_versions",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("deal_id", String(255), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("amount_cents", BigInteger(), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("home_amount_cents", BigInteger(), nullable=False),
    Column("home_currency", String(3), nullable=False),
    Column("rate", String(40), nullable=True),
    Column("rate_source", String(32), nullable=False),
    Column("close_date", UtcDateTime(), nullable=True),
    Column("buyers", JSON(), nullable=False),
    Column("campaign_id", String(255), nullable=True),
    Column("delta_home_cents", BigInteger(), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False, index=True),
    UniqueConstraint("system", "deal_id", "version"),
    CheckConstraint("state IN ('won', 'not_won', 'deleted')", name="state"),
)

# The credit of each version, per touch and model; person_id is NULL for (unattributed).
revenue_credits = Table(
    "revenue_credits",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("version_id", ROW_ID, ForeignKey("revenue_versions.id"), nullable=False),
    Column("model", String(32), nullable=False),
    Column("person_id", String(32), nullable=True),
    Column("touch_key", String(64), nullable=True),
    Column("occurred_at", UtcDateTime(), nullable=True),
    Column("channel", String(100), nullable=True),
    Column("source", String(500), nullable=True),
    Column("campaign", String(500), nullable=True),
    Column("amount_cents", BigInteger(), nullable=False),
    Index(None, "version_id", "model"),
)

# Ad spend per day, channel, source and campaign (filled by `closedloop import-costs`).
ad_costs = Table(
    "ad_costs",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("cost_date", Date(), nullable=False, index=True),
    Column("channel", String(100), nullable=False),
    Column("source", String(500), nullable=True),
    Column("campaign", String(500), nullable=True),
    Column("amount_cents", BigInteger(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("imported_at", UtcDateTime(), nullable=False),
)

# --- open pipeline (migration 0007, closedloop.revenue.pipeline) ---

# Every open (not closed) deal the revenue loop last saw, replaced on each sighting and
# removed once the deal closes or is deleted. Money in integer cents, as in revenue_versions.
pipeline_deals = Table(
    "pipeline_deals",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("deal_id", String(255), nullable=False),
    Column("amount_cents", BigInteger(), nullable=True),
    Column("currency", String(3), nullable=True),
    Column("home_amount_cents", BigInteger(), nullable=False),
    Column("home_currency", String(3), nullable=False),
    Column("rate", String(40), nullable=True),
    Column("rate_source", String(32), nullable=False),
    Column("close_date", UtcDateTime(), nullable=True),
    Column("buyers", JSON(), nullable=False),
    Column("campaign_id", String(255), nullable=True),
    Column("fingerprint", String(64), nullable=False),
    Column("refreshed_at", UtcDateTime(), nullable=False),
    UniqueConstraint("system", "deal_id"),
)

# The credit of each open deal's amount, per touch and model; person_id NULL = (unattributed).
pipeline_credits = Table(
    "pipeline_credits",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("pipeline_deal_id", ROW_ID, ForeignKey("pipeline_deals.id"), nullable=False),
    Column("model", String(32), nullable=False),
    Column("person_id", String(32), nullable=True),
    Column("touch_key", String(64), nullable=True),
    Column("occurred_at", UtcDateTime(), nullable=True),
    Column("channel", String(100), nullable=True),
    Column("source", String(500), nullable=True),
    Column("campaign", String(500), nullable=True),
    Column("amount_cents", BigInteger(), nullable=False),
    Index(None, "pipeline_deal_id", "model"),
)
