"""Create the webhook inbox (received events, their processing state, dead letters)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables (being written in this change)."""


def downgrade() -> None:
    """Drop the tables."""
