"""redemption links derived from the installation's key (generation); billing
endpoints and the outbox of credit webhook events

Revision ID: 0008
Revises: 0009
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from amends.db import UTCDateTime

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("redemption_links") as batch:
        batch.add_column(sa.Column("generation", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "billing_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_endpoints")),
    )
    op.create_table(
        "credit_webhook_events",
        sa.Column("id", BIG, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("first_credit_id", sa.BigInteger(), nullable=False),
        sa.Column("last_credit_id", sa.BigInteger(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_credit_webhook_events_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_webhook_events")),
    )
    op.create_index("ix_credit_webhook_events_queued_at", "credit_webhook_events", ["queued_at"])


def downgrade() -> None:
    op.drop_index("ix_credit_webhook_events_queued_at", table_name="credit_webhook_events")
    op.drop_table("credit_webhook_events")
    op.drop_table("billing_endpoints")
    with op.batch_alter_table("redemption_links") as batch:
        batch.drop_column("generation")
