"""Outage windows imported from monitoring.

The incidents' component-status history is one source of downtime; a
provider's monitoring (Pingdom, Prometheus, an older status page) is the other.
Imported windows are kept as given — one row each — and merged with the
incident history only when availability is computed, so a re-import of the
same file changes nothing (unique on component, start, end, impact).
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base, UTCDateTime, utcnow


class OutageImpact(enum.StrEnum):
    """The same words as a component status, plus planned work."""

    major_outage = "major_outage"
    partial_outage = "partial_outage"
    degraded_performance = "degraded_performance"
    maintenance = "maintenance"


class OutageWindow(Base):
    __tablename__ = "outage_windows"
    __table_args__ = (
        UniqueConstraint("component_id", "starts_at", "ends_at", "impact"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    impact: Mapped[OutageImpact] = mapped_column(
        Enum(OutageImpact, native_enum=False, length=24, validate_strings=True)
    )
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
