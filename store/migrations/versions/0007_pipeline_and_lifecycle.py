"""Open pipeline and lifecycle dates: pipeline_deals, pipeline_credits, people MQL/SQL dates

Tables: pipeline_deals (one row per open deal the revenue loop last saw) and pipeline_credits
(its amount credited per touch and model). Columns: people.became_mql_at and
people.became_sql_at (the marketing system's MQL and SQL dates, where it keeps them).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Constraint and index names are spelled out: they follow the naming convention of
``closedloop.store.schema.metadata``, which ``op.create_table`` does not apply by itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIFECYCLE_COLUMNS = ("became_mql_at", "became_sql_at")


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Add the people columns, create the pipeline tables and their index."""
    with op.batch_alter_table("people") as batch:
        for name in LIFECYCLE_COLUMNS:
            batch.add_column(_at(name, nullable=True))

    op.create_table(
        "pipeline_deals",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("deal_id", sa.String(255), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("home_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("home_currency", sa.String(3), nullable=False),
        sa.Column("rate", sa.String(40), nullable=True),
        sa.Column("rate_source", sa.String(32), nullable=False),
        _at("close_date", nullable=True),
        sa.Column("buyers", sa.JSON(), nullable=False),
        sa.Column("campaign_id", sa.String(255), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        _at("refreshed_at"),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_deals"),
        sa.UniqueConstraint("system", "deal_id", name="uq_pipeline_deals_system_deal_id"),
    )

    op.create_table(
        "pipeline_credits",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("pipeline_deal_id", ROW_ID, nullable=False),
        sa.Column("model", sa.String(32), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=True),
        sa.Column("touch_key", sa.String(64), nullable=True),
        _at("occurred_at", nullable=True),
        sa.Column("channel", sa.String(100), nullable=True),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("campaign", sa.String(500), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pipeline_credits"),
        sa.ForeignKeyConstraint(
            ["pipeline_deal_id"],
            ["pipeline_deals.id"],
            name="fk_pipeline_credits_pipeline_deal_id_pipeline_deals",
        ),
    )
    op.create_index(
        "ix_pipeline_credits_pipeline_deal_id_model",
        "pipeline_credits",
        ["pipeline_deal_id", "model"],
    )


def downgrade() -> None:
    """Drop the pipeline tables (dependents first) and the people columns."""
    op.drop_index("ix_pipeline_credits_pipeline_deal_id_model", table_name="pipeline_credits")
    for table in ("pipeline_credits", "pipeline_deals"):
        op.drop_table(table)
    with op.batch_alter_table("people") as batch:
        for name in reversed(LIFECYCLE_COLUMNS):
            batch.drop_column(name)
