"""How incidents look to the outside: API responses and the CLI's ``--json``."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from amends.incidents.models import (
    ComponentStatus,
    Impact,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentUpdate,
)


class ComponentChangeOut(BaseModel):
    component: str
    status: ComponentStatus


class UpdateOut(BaseModel):
    id: int
    status: IncidentStatus
    message: str
    customer_facing: bool
    at: dt.datetime
    component_changes: list[ComponentChangeOut] = Field(default_factory=list)

    @classmethod
    def of(cls, update: IncidentUpdate) -> UpdateOut:
        return cls(
            id=update.id,
            status=update.status,
            message=update.message,
            customer_facing=update.customer_facing,
            at=update.at,
            component_changes=[
                ComponentChangeOut(component=c.component.key, status=c.status)
                for c in update.changes
            ],
        )


class IncidentComponentOut(BaseModel):
    key: str
    name: str
    status: ComponentStatus


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: IncidentKind
    title: str
    description: str
    status: IncidentStatus
    impact: Impact
    started_at: dt.datetime
    resolved_at: dt.datetime | None
    scheduled_for: dt.datetime | None
    scheduled_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    components: list[IncidentComponentOut]
    updates: list[UpdateOut]

    @classmethod
    def of(cls, incident: Incident) -> IncidentOut:
        """Timeline newest last, as it happened."""
        return cls(
            id=incident.id,
            kind=incident.kind,
            title=incident.title,
            description=incident.description,
            status=incident.status,
            impact=incident.impact,
            started_at=incident.started_at,
            resolved_at=incident.resolved_at,
            scheduled_for=incident.scheduled_for,
            scheduled_until=incident.scheduled_until,
            created_at=incident.created_at,
            updated_at=incident.updated_at,
            components=[
                IncidentComponentOut(key=c.component.key, name=c.component.name, status=c.status)
                for c in incident.components
            ],
            updates=[UpdateOut.of(u) for u in incident.updates],
        )


_TIME = "ISO 8601 with an offset (e.g. 2012-09-10T10:25:00-07:00); stored in UTC."


class PolicyIn(BaseModel):
    """A cadence policy, or the part of it to change (omitted fields keep their value).
    Each must be positive."""

    model_config = ConfigDict(extra="forbid")

    first_notice_within_minutes: int | None = Field(default=None, description="Default 15.")
    update_every_minutes: int | None = Field(default=None, description="Default 30.")
    apology_within_hours: int | None = Field(default=None, description="Default 48.")
    auto_holding_update: bool | None = Field(
        default=None, description="Post a holding update when an update is overdue (off)."
    )

    def changes(self) -> dict[str, int | bool | None]:
        """Keyword arguments for ``cadence_policy.set_policy``."""
        return {
            "first_notice_minutes": self.first_notice_within_minutes,
            "update_minutes": self.update_every_minutes,
            "apology_hours": self.apology_within_hours,
            "auto_holding_update": self.auto_holding_update,
        }


class IncidentOpen(BaseModel):
    """Request to declare an incident. Unknown fields are refused, so a typo
    (``startd_at``) is an error rather than an incident starting now."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    components: dict[str, ComponentStatus] = Field(
        description="Failing components by key, each with how badly it fails."
    )
    impact: Impact | None = Field(default=None, description="Default: from the worst status.")
    started_at: dt.datetime | None = Field(default=None, description=_TIME + " Default: now.")
    notify: bool = Field(default=True, description="Owe the affected a first notice.")
    description: str = ""
    message: str | None = Field(
        default=None, description="First timeline entry (default: the description or title)."
    )
    status: IncidentStatus = IncidentStatus.investigating
    cadence: PolicyIn | None = Field(
        default=None, description="Its own cadence policy (default 15 min / 30 min / 48 h)."
    )


class IncidentUpdateIn(BaseModel):
    """A timeline entry; component statuses may change with it."""

    model_config = ConfigDict(extra="forbid")

    status: IncidentStatus
    message: str = Field(min_length=1)
    components: dict[str, ComponentStatus] = Field(default_factory=dict)
    at: dt.datetime | None = Field(default=None, description=_TIME + " Default: now.")
    customer_facing: bool = Field(default=True, description="False: an internal note.")


class IncidentResolve(BaseModel):
    """Close an incident (or complete a maintenance)."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1)
    resolved_at: dt.datetime | None = Field(default=None, description=_TIME + " Default: now.")
    notify: bool = Field(default=True, description="Owe the affected a resolution notice.")


class MaintenanceIn(BaseModel):
    """Announce planned work; components go under maintenance when it starts."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    components: list[str]
    starts_at: dt.datetime = Field(description=_TIME)
    ends_at: dt.datetime = Field(description=_TIME)
    description: str = ""
    message: str | None = None
