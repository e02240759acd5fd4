"""ratings: how well did we handle the incident? one answer per customer per incident

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from amends.db import UTCDateTime

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("notice_kind", sa.String(length=16), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_ratings_score_on_scale")),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"],
            name=op.f("fk_ratings_incident_id_incidents"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"],
            name=op.f("fk_ratings_customer_id_customers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint(
            "incident_id", "customer_id", name=op.f("uq_ratings_incident_id_customer_id")
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("ratings")
