"""Drafts opened from monitoring alerts, and the alerts that fed them.

A draft is not an incident: it has no row in ``incidents`` until it is
published, so nothing customer-facing (notices, the status page, the cadence
of updates, impact) can ever see it. Publishing opens the incident through
the same flow as an operator would, and the draft keeps pointing at it so
later alerts of the same group (and their resolution) still find it.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from amends.db import Base, UTCDateTime, utcnow


class DraftState(enum.StrEnum):
    draft = "draft"
    published = "published"
    discarded = "discarded"


class AlertStatus(enum.StrEnum):
    """Alertmanager's two words, kept as they are."""

    firing = "firing"
    resolved = "resolved"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, validate_strings=True)


class Draft(Base):
    """What monitoring thinks is an incident, waiting for a person (or a rule) to say so."""

    __tablename__ = "intake_drafts"
    __table_args__ = (Index("ix_intake_drafts_source_group", "source", "group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    group_key: Mapped[str] = mapped_column(String(1000))
    state: Mapped[DraftState] = mapped_column(_enum(DraftState), default=DraftState.draft)
    title: Mapped[str] = mapped_column(String(300))
    #: Component key → status in the incident to open: the worst each alert asked for.
    components: Mapped[dict[str, str]] = mapped_column(JSON)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolution_suggested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[str] = mapped_column(String(200), default="")
    discarded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    discard_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    alerts: Mapped[list[Alert]] = relationship(
        back_populates="draft",
        cascade="all, delete-orphan",
        order_by="Alert.id",
        lazy="selectin",
    )


class Alert(Base):
    """One alert (by fingerprint) as last reported, with how often it was."""

    __tablename__ = "intake_alerts"
    __table_args__ = (
        UniqueConstraint("draft_id", "source", "fingerprint"),
        Index("ix_intake_alerts_source_fingerprint", "source", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("intake_drafts.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(200))
    status: Mapped[AlertStatus] = mapped_column(_enum(AlertStatus))
    rule: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(100), default="")
    components: Mapped[dict[str, str]] = mapped_column(JSON)
    #: The rule said: publish the draft at once / resolve the incident when all resolve.
    publish: Mapped[bool] = mapped_column(default=False)
    resolve: Mapped[bool] = mapped_column(default=False)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    generator_url: Mapped[str] = mapped_column(Text, default="")
    received: Mapped[int] = mapped_column(Integer, default=1)
    first_received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    draft: Mapped[Draft] = relationship(back_populates="alerts")
