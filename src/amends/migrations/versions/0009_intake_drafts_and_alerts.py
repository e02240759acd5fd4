"""intake from monitoring: draft incidents and the alerts that fed them

Revision ID: 0009
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import amends.db

revision = "0009"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("group_key", sa.String(length=1000), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "draft", "published", "discarded", name="draftstate", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("started_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolution_suggested_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("published_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.Column("discarded_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("discard_reason", sa.Text(), nullable=False),
        sa.Column("created_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_intake_drafts_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_drafts")),
    )
    op.create_index("ix_intake_drafts_incident_id", "intake_drafts", ["incident_id"])
    op.create_index("ix_intake_drafts_source_group", "intake_drafts", ["source", "group_key"])

    op.create_table(
        "intake_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum("firing", "resolved", name="alertstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("severity", sa.String(length=100), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("resolve", sa.Boolean(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("starts_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("generator_url", sa.Text(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("first_received_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_received_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["intake_drafts.id"],
            name=op.f("fk_intake_alerts_draft_id_intake_drafts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_alerts")),
        sa.UniqueConstraint(
            "draft_id",
            "source",
            "fingerprint",
            name=op.f("uq_intake_alerts_draft_id_source_fingerprint"),
        ),
    )
    op.create_index(
        "ix_intake_alerts_source_fingerprint", "intake_alerts", ["source", "fingerprint"]
    )


def downgrade() -> None:
    op.drop_index("ix_intake_alerts_source_fingerprint", table_name="intake_alerts")
    op.drop_table("intake_alerts")
    op.drop_index("ix_intake_drafts_source_group", table_name="intake_drafts")
    op.drop_index("ix_intake_drafts_incident_id", table_name="intake_drafts")
    op.drop_table("intake_drafts")
