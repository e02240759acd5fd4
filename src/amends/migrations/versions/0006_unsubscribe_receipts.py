"""unsubscribe links' signing key; provider receipts find deliveries by provider id

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from amends.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_keys")),
    )
    op.create_index("ix_deliveries_provider_id", "deliveries", ["provider_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_provider_id", table_name="deliveries")
    op.drop_table("instance_keys")
