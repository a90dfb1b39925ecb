"""Create sync_staging: a streaming run's held work until its blast-radius guard passes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08

Names follow the naming convention of ``closedloop.store.schema.metadata``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the table and its (run, id) index."""
    op.create_table(
        "sync_staging",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", ROW_ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sync_staging"),
        sa.CheckConstraint("kind IN ('write', 'decision', 'read')", name="ck_sync_staging_kind"),
    )
    op.create_index("ix_sync_staging_run_id_id", "sync_staging", ["run_id", "id"])


def downgrade() -> None:
    """Drop the table."""
    op.drop_index("ix_sync_staging_run_id_id", table_name="sync_staging")
    op.drop_table("sync_staging")
