"""Table definitions shared by the migrations and the code that reads and writes them.

Each table is added here together with the migration that creates it and the code that uses it.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row: this deployment's identity. Its id tags closedloop's own writes in vendor systems
# (so echoes can be recognised) and names the deployment in `closedloop status`.
installation = Table(
    "installation",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by_version", String(32), nullable=False),
)
