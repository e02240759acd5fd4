"""incident facts: who signs the apology (rule S1: a senior, named person)

Revision ID: 0014
Revises: 0007
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incident_facts") as batch:
        batch.add_column(
            sa.Column("signatory", sa.String(length=200), server_default="", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("incident_facts") as batch:
        batch.drop_column("signatory")
