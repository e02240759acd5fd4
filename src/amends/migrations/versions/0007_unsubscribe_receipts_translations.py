"""unsubscribe links' signing key; provider receipts find deliveries by provider id;
incident facts in other languages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from amends.db import UTCDateTime

revision = "0007"
down_revision = "0006"
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
    with op.batch_alter_table("incident_facts") as batch:
        batch.add_column(sa.Column("translations", sa.JSON(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("incident_facts") as batch:
        batch.drop_column("translations")
    op.drop_index("ix_deliveries_provider_id", table_name="deliveries")
    op.drop_table("instance_keys")
