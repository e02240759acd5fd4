"""API shapes for call lists, shared by the API and the CLI's --json."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from amends.calls.models import CallOutcome


class ManagerIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    phone: str | None = None
    locale: str = Field(default="en", description="Language of their list: en or es.")


class ManagerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    phone: str | None
    locale: str
    active: bool


class AssignIn(BaseModel):
    tiers: list[str] = Field(min_length=1)
    escalate_after_minutes: int = Field(
        default=60,
        ge=0,
        le=7 * 24 * 60,
        description="Customers nobody reached by then get an automated call.",
    )


class AssignOut(BaseModel):
    assigned: int


class CallOut(BaseModel):
    id: int
    external_id: str
    name: str
    phone: str | None
    locale: str
    tier: str
    manager: str
    outcome: CallOutcome | None
    attempts: int
    called_at: dt.datetime | None
    escalate_at: dt.datetime | None
    escalated_at: dt.datetime | None
    notes: str


class RecordIn(BaseModel):
    outcome: CallOutcome
    notes: str = ""
