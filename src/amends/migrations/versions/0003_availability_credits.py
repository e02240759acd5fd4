"""availability (imported outage windows) and credits (policies, ledger, events, redemption links)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 13:26:56.686705
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import amends.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_policies")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_credit_policies_key_version")),
    )
    op.create_table(
        "outage_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "impact",
            sa.Enum(
                "major_outage",
                "partial_outage",
                "degraded_performance",
                "maintenance",
                name="outageimpact",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("created_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_outage_windows_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_outage_windows_component_id_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_windows")),
        sa.UniqueConstraint(
            "component_id",
            "starts_at",
            "ends_at",
            "impact",
            name=op.f("uq_outage_windows_component_id_starts_at_ends_at_impact"),
        ),
    )
    op.create_table(
        "redemption_links",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_redemption_links_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_redemption_links_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_links")),
        sa.UniqueConstraint(
            "customer_id", "incident_id", name=op.f("uq_redemption_links_customer_id_incident_id")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_redemption_links_token_hash")),
    )
    op.create_table(
        "credits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee_ppm", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "issued",
                "available",
                "redeemed",
                "applied",
                "expired",
                "void",
                name="creditstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("auto_apply", sa.Boolean(), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("issued_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("available_at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("redeemed_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("applied_at", amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_credits_amount_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_credits_customer_id_customers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_credits_incident_id_incidents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["credit_policies.id"],
            name=op.f("fk_credits_policy_id_credit_policies"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_credits_site_id_sites"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credits")),
        sa.UniqueConstraint("incident_id", "site_id", name=op.f("uq_credits_incident_id_site_id")),
    )
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credits_customer_incident", ["customer_id", "incident_id"], unique=False
        )
        batch_op.create_index("ix_credits_state_id", ["state", "id"], unique=False)

    op.create_table(
        "credit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "credit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "from_state",
            sa.Enum(
                "issued",
                "available",
                "redeemed",
                "applied",
                "expired",
                "void",
                name="creditstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "issued",
                "available",
                "redeemed",
                "applied",
                "expired",
                "void",
                name="creditstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_id"],
            ["credits.id"],
            name=op.f("fk_credit_events_credit_id_credits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_events")),
    )
    with op.batch_alter_table("credit_events", schema=None) as batch_op:
        batch_op.create_index("ix_credit_events_credit_id", ["credit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_events_credit_id")

    op.drop_table("credit_events")
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.drop_index("ix_credits_state_id")
        batch_op.drop_index("ix_credits_customer_incident")

    op.drop_table("credits")
    op.drop_table("redemption_links")
    op.drop_table("outage_windows")
    op.drop_table("credit_policies")
