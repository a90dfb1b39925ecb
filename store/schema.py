"""Table definitions shared by the migrations and the code that reads and writes them.

Each table is added here together with the migration that creates it and the code that uses it
(the revenue loop's tables live in :mod:`closedloop.store.schema_revenue` and are re-exported
here, so this module names every table). Timestamps use :class:`UtcDateTime`: timezone-aware
UTC in Python on both backends (SQLite keeps no offset, so values are stored in UTC and compare
as text in the same format). Autoincrement keys are BIGINT on PostgreSQL and INTEGER on SQLite
(only ``INTEGER PRIMARY KEY`` autoincrements there).

The sync engine's durable state (migration 0002) and the module that owns each table:

=================  ==============================================
people, identities :mod:`closedloop.sync.identity`
touchpoints        :mod:`closedloop.sync.ledger`
shadow_records     :mod:`closedloop.sync.shadow`
field_decisions    :mod:`closedloop.sync.provenance`
outbox             :mod:`closedloop.sync.outbox`
watermarks, runs   :mod:`closedloop.sync.runs`
=================  ==============================================
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from closedloop.store.columns import ROW_ID, UtcDateTime, metadata
from closedloop.store.schema_revenue import (
    ad_costs,
    pipeline_credits,
    pipeline_deals,
    revenue_credits,
    revenue_versions,
)

__all__ = [
    "ROW_ID",
    "UtcDateTime",
    "ad_costs",
    "collector_payloads",
    "field_decisions",
    "identities",
    "installation",
    "metadata",
    "outbox",
    "people",
    "pipeline_credits",
    "pipeline_deals",
    "revenue_credits",
    "revenue_versions",
    "runs",
    "shadow_records",
    "sync_staging",
    "touchpoints",
    "watermarks",
    "webhook_inbox",
]

# One row: this deployment's identity. Its id tags closedloop's own writes in vendor systems
# (so echoes can be recognised) and names the deployment in `closedloop status`.
installation = Table(
    "installation",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by_version", String(32), nullable=False),
)

# One human. A person merged into another keeps its row, pointing at the survivor.
people = Table(
    "people",
    metadata,
    Column("person_id", String(32), primary_key=True),
    Column("email", String(320), nullable=True, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("merged_into", String(32), ForeignKey("people.person_id"), nullable=True),
    Column("became_lead_at", UtcDateTime(), nullable=True),
    Column("converted_at", UtcDateTime(), nullable=True),
    # When the marketing system says the person became an MQL / SQL (migration 0007).
    Column("became_mql_at", UtcDateTime(), nullable=True),
    Column("became_sql_at", UtcDateTime(), nullable=True),
)

# Which person each record (or anonymous visitor id: system "visitor") stands for.
identities = Table(
    "identities",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("record_id", String(255), nullable=False),
    Column("person_id", String(32), ForeignKey("people.person_id"), nullable=False, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("system", "object_type", "record_id"),
)

# The touchpoint ledger: one row per distinct touch of a person.
touchpoints = Table(
    "touchpoints",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("person_id", String(32), ForeignKey("people.person_id"), nullable=False),
    Column("touch_key", String(64), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False, index=True),
    Column("utm_source", String(500), nullable=True),
    Column("utm_medium", String(500), nullable=True),
    Column("utm_campaign", String(500), nullable=True),
    Column("utm_term", String(500), nullable=True),
    Column("utm_content", String(500), nullable=True),
    Column("click_ids", JSON(), nullable=False),
    Column("landing_page", Text(), nullable=True),
    Column("referrer", Text(), nullable=True),
    Column("channel", String(100), nullable=True),
    Column("origin", String(64), nullable=False),
    Column("external_id", String(500), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False, index=True),
    UniqueConstraint("person_id", "touch_key"),
)

# What closedloop last wrote to or read from each record: the basis of diffs and echo checks.
shadow_records = Table(
    "shadow_records",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("object_type", String(64), primary_key=True),
    Column("record_id", String(255), primary_key=True),
    Column("fields", JSON(), nullable=False),
    Column("fields_hash", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    CheckConstraint("source IN ('written', 'read')", name="source"),
)

# Provenance: every field decision (written, refused, unchanged or planned in a dry run).
field_decisions = Table(
    "field_decisions",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("person_id", String(32), ForeignKey("people.person_id"), nullable=True),
    Column("system", String(64), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("record_id", String(255), nullable=True),
    Column("field", String(255), nullable=False),
    Column("canonical", String(255), nullable=True),
    Column("value", JSON(), nullable=True),
    Column("previous", JSON(), nullable=True),
    Column("rule", String(64), nullable=True),
    Column("source", String(64), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("reason", Text(), nullable=True),
    Column("run_id", ROW_ID, nullable=True),
    Column("decided_at", UtcDateTime(), nullable=False),
    Index(None, "person_id", "decided_at"),
    CheckConstraint("outcome IN ('written', 'refused', 'unchanged', 'planned')", name="outcome"),
)

# The transactional outbox: one row per intended write; push_key makes duplicates impossible.
outbox = Table(
    "outbox",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("push_key", String(255), nullable=False, unique=True),
    Column("system", String(64), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("record_id", String(255), nullable=True),
    Column("match_field", String(255), nullable=True),
    Column("match_value", String(500), nullable=True),
    Column("fields", JSON(), nullable=False),
    Column("person_id", String(32), ForeignKey("people.person_id"), nullable=True),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", Text(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("run_id", ROW_ID, nullable=True),
    Index(None, "state", "system", "next_attempt_at"),
    CheckConstraint("state IN ('pending', 'sending', 'done', 'dead')", name="state"),
)

# How far each (system, object type) has been read.
watermarks = Table(
    "watermarks",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("object_type", String(64), primary_key=True),
    Column("modified_at", UtcDateTime(), nullable=True),
    Column("last_id", String(255), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per job run, with its counts and heartbeat (`closedloop status`).
runs = Table(
    "runs",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("job", String(32), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("status", String(16), nullable=False),
    Column("counts", JSON(), nullable=False),
    Column("error", Text(), nullable=True),
    Column("heartbeat_at", UtcDateTime(), nullable=False),
    Column("dry_run", Boolean(), nullable=False),
    Index(None, "job", "id"),
    CheckConstraint("status IN ('running', 'ok', 'failed', 'aborted')", name="status"),
)

# Work a streaming sync run holds until its blast-radius guard passes (migration 0006,
# closedloop.sync.staging): staged outbox items, field decisions and unchanged reads by run.
sync_staging = Table(
    "sync_staging",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("run_id", ROW_ID, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("payload", JSON(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "run_id", "id"),
    CheckConstraint("kind IN ('write', 'decision', 'read')", name="kind"),
)

# --- webhook inbox (migration 0003, closedloop.webhooks.inbox) ---

# One row per received webhook event; the UNIQUE dedupe_key makes a redelivery a no-op.
webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("system", String(64), nullable=False),
    Column("object_type", String(64), nullable=False),
    Column("record_id", String(255), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("payload", JSON(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_at", UtcDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("processed_at", UtcDateTime(), nullable=True),
    Index(None, "state", "next_attempt_at"),
    CheckConstraint("state IN ('pending', 'processing', 'done', 'dead')", name="state"),
)

# --- touchpoint collector (migration 0004, closedloop.webhooks.collector) ---

# Sanitised collector payloads (no email, PII-free URLs, truncated IP), kept for
# collector.raw_retention_days: closedloop.webhooks.collector_store.purge_expired_payloads
# deletes them once expires_at has passed.
collector_payloads = Table(
    "collector_payloads",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("visitor_id", String(128), nullable=False),
    Column("client_network", String(64), nullable=True),
    Column("person_id", String(32), nullable=True),
    Column("payload", JSON(), nullable=False),
    CheckConstraint("kind IN ('pageview', 'form')", name="kind"),
)
