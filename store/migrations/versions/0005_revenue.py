"""Create the revenue loop (revenue events and versions, push-backs, ad costs)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables (being written in this change)."""


def downgrade() -> None:
    """Drop the tables."""
