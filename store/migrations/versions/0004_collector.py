"""Create the touchpoint collector's raw payload table

Table: collector_payloads (sanitised payloads kept for ``collector.raw_retention_days``).
The collector's rate-limit buckets live in memory, not in the store.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Constraint and index names are spelled out: they follow the naming convention of
``closedloop.store.schema.metadata``, which ``op.create_table`` does not apply by itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the table, its check constraint and index."""
    op.create_table(
        "collector_payloads",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("visitor_id", sa.String(128), nullable=False),
        sa.Column("client_network", sa.String(64), nullable=True),
        sa.Column("person_id", sa.String(32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_collector_payloads"),
        sa.CheckConstraint("kind IN ('pageview', 'form')", name="ck_collector_payloads_kind"),
    )
    op.create_index("ix_collector_payloads_expires_at", "collector_payloads", ["expires_at"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("collector_payloads")
