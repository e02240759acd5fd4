"""notices can be paused: who paused the sending of a notice, and when

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-07 00:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import amends.db

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None

PAUSED = sa.text("paused_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(
            sa.Column("paused_at", amends.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("paused_by", sa.Text(), nullable=True))
    # Every claim asks which notices are paused: a partial index keeps that
    # read to the (few) paused ones however many notices there are.
    op.create_index(
        "ix_notices_paused", "notices", ["id"], postgresql_where=PAUSED, sqlite_where=PAUSED
    )


def downgrade() -> None:
    op.drop_index("ix_notices_paused", table_name="notices")
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("paused_by")
        batch.drop_column("paused_at")
