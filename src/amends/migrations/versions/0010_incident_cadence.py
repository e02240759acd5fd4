"""per-incident cadence policy, automatic holding updates, each notice's first send

Revision ID: 0010
Revises: 0013
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from amends.db import UTCDateTime

revision = "0010"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_cadences",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("first_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("update_minutes", sa.Integer(), nullable=False),
        sa.Column("apology_hours", sa.Integer(), nullable=False),
        sa.Column("auto_holding_update", sa.Boolean(), nullable=False),
        sa.Column("holding_for", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_cadences_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_cadences")),
    )
    op.create_table(
        "holding_updates",
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("next_update_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_holding_updates_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["incident_updates.id"],
            name=op.f("fk_holding_updates_update_id_incident_updates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_holding_updates")),
        sa.UniqueConstraint(
            "incident_id", "due_at", name=op.f("uq_holding_updates_incident_id_due_at")
        ),
    )

    op.add_column("notices", sa.Column("first_sent_at", UTCDateTime(), nullable=True))
    # Notices sent before: their first send, from their rows (once, at upgrade).
    op.execute(
        "UPDATE notices SET first_sent_at = "
        "(SELECT min(sent_at) FROM deliveries WHERE deliveries.notice_id = notices.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("first_sent_at")
    op.drop_table("holding_updates")
    op.drop_table("incident_cadences")
