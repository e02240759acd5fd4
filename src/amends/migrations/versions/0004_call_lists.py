"""call lists (account managers, call assignments); subscriber endpoint health

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import amends.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_managers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_managers")),
        sa.UniqueConstraint("email", name=op.f("uq_account_managers_email")),
    )
    op.create_table(
        "call_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("manager_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "reached",
                "voicemail",
                "no_answer",
                name="calloutcome",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("called_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("escalated_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_call_assignments_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_call_assignments_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["account_managers.id"],
            name=op.f("fk_call_assignments_manager_id_account_managers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_assignments")),
        sa.UniqueConstraint(
            "incident_id", "customer_id", name=op.f("uq_call_assignments_incident_id_customer_id")
        ),
    )
    op.create_index(
        "ix_call_assignments_manager", "call_assignments", ["manager_id", "incident_id"]
    )
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("disabled_at", amends.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    op.drop_index("ix_call_assignments_manager", table_name="call_assignments")
    op.drop_table("call_assignments")
    op.drop_table("account_managers")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("disabled_at")
        batch.drop_column("consecutive_failures")
