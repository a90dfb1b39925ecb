"""Create the installation table and this deployment's identity row.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from importlib.metadata import version

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``installation`` and give this deployment its id."""
    table = op.create_table(
        "installation",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_version", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_installation"),
    )
    op.bulk_insert(
        table,
        [
            {
                "id": str(uuid.uuid4()),
                "created_at": datetime.now(tz=UTC),
                "created_by_version": version("closedloop"),
            }
        ],
    )


def downgrade() -> None:
    """Drop ``installation``."""
    op.drop_table("installation")
