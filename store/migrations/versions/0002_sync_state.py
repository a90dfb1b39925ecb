"""Create the sync engine's durable state

Tables: people, identities, touchpoints, shadow_records, field_decisions, outbox, watermarks
and runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Constraint and index names are spelled out: they follow the naming convention of
``closedloop.store.schema.metadata``, which ``op.create_table`` does not apply by itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _record(*, record_nullable: bool = False) -> list[sa.Column[object]]:
    return [
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=record_nullable),
    ]


def _person_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["person_id"], ["people.person_id"], name=f"fk_{table}_person_id_people"
    )


def upgrade() -> None:
    """Create the tables, their constraints and indexes."""
    op.create_table(
        "people",
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        _at("created_at"),
        sa.Column("merged_into", sa.String(32), nullable=True),
        _at("became_lead_at", nullable=True),
        _at("converted_at", nullable=True),
        sa.PrimaryKeyConstraint("person_id", name="pk_people"),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["people.person_id"], name="fk_people_merged_into_people"
        ),
    )
    op.create_index("ix_people_email", "people", ["email"])

    op.create_table(
        "identities",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        *_record(),
        sa.Column("person_id", sa.String(32), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_identities"),
        sa.UniqueConstraint(
            "system", "object_type", "record_id", name="uq_identities_system_object_type_record_id"
        ),
        _person_fk("identities"),
    )
    op.create_index("ix_identities_person_id", "identities", ["person_id"])

    op.create_table(
        "touchpoints",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(32), nullable=False),
        sa.Column("touch_key", sa.String(64), nullable=False),
        _at("occurred_at"),
        *(
            sa.Column(f"utm_{name}", sa.String(500), nullable=True)
            for name in ("source", "medium", "campaign", "term", "content")
        ),
        sa.Column("click_ids", sa.JSON(), nullable=False),
        sa.Column("landing_page", sa.Text(), nullable=True),
        sa.Column("referrer", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(100), nullable=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(500), nullable=True),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_touchpoints"),
        sa.UniqueConstraint("person_id", "touch_key", name="uq_touchpoints_person_id_touch_key"),
        _person_fk("touchpoints"),
    )
    op.create_index("ix_touchpoints_occurred_at", "touchpoints", ["occurred_at"])
    op.create_index("ix_touchpoints_created_at", "touchpoints", ["created_at"])

    op.create_table(
        "shadow_records",
        *_record(),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("fields_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("system", "object_type", "record_id", name="pk_shadow_records"),
        sa.CheckConstraint("source IN ('written', 'read')", name="ck_shadow_records_source"),
    )

    op.create_table(
        "field_decisions",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(32), nullable=True),
        *_record(record_nullable=True),
        sa.Column("field", sa.String(255), nullable=False),
        sa.Column("canonical", sa.String(255), nullable=True),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("previous", sa.JSON(), nullable=True),
        sa.Column("rule", sa.String(64), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("run_id", ROW_ID, nullable=True),
        _at("decided_at"),
        sa.PrimaryKeyConstraint("id", name="pk_field_decisions"),
        _person_fk("field_decisions"),
        sa.CheckConstraint(
            "outcome IN ('written', 'refused', 'unchanged', 'planned')",
            name="ck_field_decisions_outcome",
        ),
    )
    op.create_index(
        "ix_field_decisions_person_id_decided_at", "field_decisions", ["person_id", "decided_at"]
    )

    op.create_table(
        "outbox",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("push_key", sa.String(255), nullable=False),
        *_record(record_nullable=True),
        sa.Column("match_field", sa.String(255), nullable=True),
        sa.Column("match_value", sa.String(500), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("person_id", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.Column("run_id", ROW_ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("push_key", name="uq_outbox_push_key"),
        _person_fk("outbox"),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'done', 'dead')", name="ck_outbox_state"
        ),
    )
    op.create_index(
        "ix_outbox_state_system_next_attempt_at", "outbox", ["state", "system", "next_attempt_at"]
    )

    op.create_table(
        "watermarks",
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(64), nullable=False),
        _at("modified_at", nullable=True),
        sa.Column("last_id", sa.String(255), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("system", "object_type", name="pk_watermarks"),
    )

    op.create_table(
        "runs",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("job", sa.String(32), nullable=False),
        _at("started_at"),
        _at("finished_at", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _at("heartbeat_at"),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.CheckConstraint(
            "status IN ('running', 'ok', 'failed', 'aborted')", name="ck_runs_status"
        ),
    )
    op.create_index("ix_runs_job_id", "runs", ["job", "id"])


def downgrade() -> None:
    """Drop the tables (dependents first)."""
    for table in (
        "runs",
        "watermarks",
        "outbox",
        "field_decisions",
        "shadow_records",
        "touchpoints",
        "identities",
        "people",
    ):
        op.drop_table(table)
