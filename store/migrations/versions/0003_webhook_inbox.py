"""Create the webhook inbox (received events, their processing state, dead letters)

Table: webhook_inbox (one row per received event; ``dedupe_key`` is UNIQUE, so a redelivered
event is absorbed by ``INSERT ... ON CONFLICT DO NOTHING``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

Constraint and index names are spelled out: they follow the naming convention of
``closedloop.store.schema.metadata``, which ``op.create_table`` does not apply by itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Create the table, its constraints and index."""
    op.create_table(
        "webhook_inbox",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        _at("occurred_at", nullable=True),
        _at("received_at"),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        _at("claimed_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("processed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_inbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_webhook_inbox_dedupe_key"),
        sa.CheckConstraint(
            "state IN ('pending', 'processing', 'done', 'dead')", name="ck_webhook_inbox_state"
        ),
    )
    op.create_index(
        "ix_webhook_inbox_state_next_attempt_at", "webhook_inbox", ["state", "next_attempt_at"]
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("webhook_inbox")
