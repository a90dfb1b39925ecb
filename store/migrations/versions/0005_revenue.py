"""Create the revenue loop (revenue events and versions, push-backs, ad costs)

Tables: revenue_versions, revenue_credits and ad_costs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Constraint and index names are spelled out: they follow the naming convention of
``closedloop.store.schema.metadata``, which ``op.create_table`` does not apply by itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the tables, their constraints and indexes."""
    op.create_table(
        "revenue_versions",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("deal_id", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("home_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("home_currency", sa.String(3), nullable=False),
        sa.Column("rate", sa.String(40), nullable=True),
        sa.Column("rate_source", sa.String(32), nullable=False),
        _at("close_date", nullable=True),
        sa.Column("buyers", sa.JSON(), nullable=False),
        sa.Column("campaign_id", sa.String(255), nullable=True),
        sa.Column("delta_home_cents", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_revenue_versions"),
        sa.UniqueConstraint(
            "system", "deal_id", "version", name="uq_revenue_versions_system_deal_id_version"
        ),
        sa.CheckConstraint(
            "state IN ('won', 'not_won', 'deleted')", name="ck_revenue_versions_state"
        ),
    )
    op.create_index("ix_revenue_versions_created_at", "revenue_versions", ["created_at"])

    op.create_table(
        "revenue_credits",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("version_id", ROW_ID, nullable=False),
        sa.Column("model", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=True),
        sa.Column("touch_key", sa.String(64), nullable=True),
        _at("occurred_at", nullable=True),
        sa.Column("channel", sa.String(100), nullable=True),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("campaign", sa.String(500), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_revenue_credits"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["revenue_versions.id"],
            name="fk_revenue_credits_version_id_revenue_versions",
        ),
    )
    op.create_index(
        "ix_revenue_credits_version_id_model", "revenue_credits", ["version_id", "model"]
    )

    op.create_table(
        "ad_costs",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("cost_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("campaign", sa.String(500), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _at("imported_at"),
        sa.PrimaryKeyConstraint("id", name="pk_ad_costs"),
    )
    op.create_index("ix_ad_costs_cost_date", "ad_costs", ["cost_date"])


def downgrade() -> None:
    """Drop the tables (dependents first)."""
    for table in ("ad_costs", "revenue_credits", "revenue_versions"):
        op.drop_table(table)
