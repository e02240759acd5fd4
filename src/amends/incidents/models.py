"""Tables of incidents, their updates and the component-status history.

The status history (``component_status_changes``) is the raw material for
impact windows and, later, availability: every change of a component's status
inside an incident is one row with its time.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from amends.catalog.models import Component
from amends.db import Base, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, validate_strings=True)


class IncidentKind(enum.StrEnum):
    incident = "incident"
    maintenance = "maintenance"


class IncidentStatus(enum.StrEnum):
    """Statuspage's vocabulary, so its clients understand ours."""

    investigating = "investigating"
    identified = "identified"
    monitoring = "monitoring"
    resolved = "resolved"
    # scheduled maintenance
    scheduled = "scheduled"
    in_progress = "in_progress"
    verifying = "verifying"
    completed = "completed"
    cancelled = "cancelled"


class ComponentStatus(enum.StrEnum):
    operational = "operational"
    degraded_performance = "degraded_performance"
    partial_outage = "partial_outage"
    major_outage = "major_outage"
    under_maintenance = "under_maintenance"


class Impact(enum.StrEnum):
    none = "none"
    minor = "minor"
    major = "major"
    critical = "critical"
    maintenance = "maintenance"


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_kind_status", "kind", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[IncidentKind] = mapped_column(_enum(IncidentKind))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[IncidentStatus] = mapped_column(_enum(IncidentStatus))
    impact: Mapped[Impact] = mapped_column(_enum(Impact))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scheduled_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    components: Mapped[list[IncidentComponent]] = relationship(
        back_populates="incident",
        cascade="all, delete-orphan",
        order_by="IncidentComponent.component_id",
        lazy="selectin",
    )
    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident",
        cascade="all, delete-orphan",
        order_by="(IncidentUpdate.at, IncidentUpdate.id)",
        lazy="selectin",
    )

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class IncidentComponent(Base):
    """A component named by an incident, with its current status in it."""

    __tablename__ = "incident_components"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="RESTRICT"), primary_key=True
    )
    status: Mapped[ComponentStatus] = mapped_column(_enum(ComponentStatus))

    incident: Mapped[Incident] = relationship(back_populates="components")
    component: Mapped[Component] = relationship(lazy="joined")


class IncidentUpdate(Base):
    """One entry of the timeline: what the operator told the world, and when."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    status: Mapped[IncidentStatus] = mapped_column(_enum(IncidentStatus))
    message: Mapped[str] = mapped_column(Text)
    customer_facing: Mapped[bool] = mapped_column(Boolean, default=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="updates")
    changes: Mapped[list[ComponentStatusChange]] = relationship(
        back_populates="update", lazy="selectin", order_by="ComponentStatusChange.component_id"
    )


class ComponentStatusChange(Base):
    """A component's status inside an incident changed at ``at``."""

    __tablename__ = "component_status_changes"
    __table_args__ = (Index("ix_component_status_changes_component_at", "component_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    update_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_updates.id", ondelete="CASCADE")
    )
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id", ondelete="RESTRICT"))
    status: Mapped[ComponentStatus] = mapped_column(_enum(ComponentStatus))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    update: Mapped[IncidentUpdate | None] = relationship(back_populates="changes")
    component: Mapped[Component] = relationship(lazy="joined")


class IncidentCadence(Base):
    """How often this incident's customers are owed news (issue 4, item 5).

    No row means the defaults (15 min / 30 min / 48 h, no automatic holding
    update). ``holding_for`` is the deadline the last automatic holding update
    answered: claiming a deadline is one conditional UPDATE of this row, so two
    workers that find the same update overdue post it once.
    """

    __tablename__ = "incident_cadences"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    first_notice_minutes: Mapped[int] = mapped_column(Integer, default=15)
    update_minutes: Mapped[int] = mapped_column(Integer, default=30)
    apology_hours: Mapped[int] = mapped_column(Integer, default=48)
    auto_holding_update: Mapped[bool] = mapped_column(Boolean, default=False)
    holding_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HoldingUpdate(Base):
    """A timeline update amends posted itself because an update was overdue.

    The notice renderer reads it to word the update in each customer's
    language ("still working on it; next update by …") instead of the
    timeline's one-language text. ``(incident, due_at)`` is unique: one
    holding update per missed deadline, whatever races.
    """

    __tablename__ = "holding_updates"
    __table_args__ = (UniqueConstraint("incident_id", "due_at"),)

    update_id: Mapped[int] = mapped_column(
        ForeignKey("incident_updates.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_update_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
