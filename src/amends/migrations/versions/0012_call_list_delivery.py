"""call lists: managers' language, each assignment's escalation time;
notices written in two steps (rows_from)

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import amends.db

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account_managers") as batch:
        batch.add_column(
            sa.Column("locale", sa.String(length=16), server_default="en", nullable=False)
        )
    with op.batch_alter_table("call_assignments") as batch:
        batch.add_column(
            sa.Column("escalate_at", amends.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_call_assignments_due", "call_assignments", ["escalated_at", "escalate_at"])
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("rows_from", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("rows_from")
    op.drop_index("ix_call_assignments_due", table_name="call_assignments")
    with op.batch_alter_table("call_assignments") as batch:
        batch.drop_column("escalate_at")
    with op.batch_alter_table("account_managers") as batch:
        batch.drop_column("locale")
