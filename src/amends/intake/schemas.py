"""How drafts and intake results look to the outside: API responses and ``--json``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from amends.intake.models import Alert, AlertStatus, Draft, DraftState
from amends.intake.service import Received


class AlertOut(BaseModel):
    fingerprint: str
    status: AlertStatus
    rule: str
    severity: str
    components: dict[str, str]
    labels: dict[str, Any]
    annotations: dict[str, Any]
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    generator_url: str
    received: int
    first_received_at: dt.datetime
    last_received_at: dt.datetime

    @classmethod
    def of(cls, alert: Alert) -> AlertOut:
        return cls.model_validate(alert, from_attributes=True)


class DraftOut(BaseModel):
    id: int
    source: str
    group_key: str
    state: DraftState
    title: str
    components: dict[str, str]
    started_at: dt.datetime
    resolution_suggested_at: dt.datetime | None
    incident_id: int | None
    published_at: dt.datetime | None
    published_by: str
    discarded_at: dt.datetime | None
    discard_reason: str
    created_at: dt.datetime
    updated_at: dt.datetime
    firing: int
    alerts: list[AlertOut]

    @classmethod
    def of(cls, draft: Draft) -> DraftOut:
        return cls(
            id=draft.id,
            source=draft.source,
            group_key=draft.group_key,
            state=draft.state,
            title=draft.title,
            components=draft.components,
            started_at=draft.started_at,
            resolution_suggested_at=draft.resolution_suggested_at,
            incident_id=draft.incident_id,
            published_at=draft.published_at,
            published_by=draft.published_by,
            discarded_at=draft.discarded_at,
            discard_reason=draft.discard_reason,
            created_at=draft.created_at,
            updated_at=draft.updated_at,
            firing=sum(1 for a in draft.alerts if a.status is AlertStatus.firing),
            alerts=[AlertOut.of(a) for a in draft.alerts],
        )


class OutcomeOut(BaseModel):
    fingerprint: str
    status: AlertStatus
    outcome: str
    draft_id: int | None
    reason: str | None


class ReceivedOut(BaseModel):
    """Each alert's fate (``ignored`` ones with the reason) and the drafts touched."""

    alerts: list[OutcomeOut]
    drafts: list[DraftOut]

    @classmethod
    def of(cls, received: Received) -> ReceivedOut:
        return cls(
            alerts=[
                OutcomeOut(
                    fingerprint=o.fingerprint,
                    status=o.status,
                    outcome=o.outcome,
                    draft_id=o.draft_id,
                    reason=o.reason,
                )
                for o in received.outcomes
            ],
            drafts=[DraftOut.of(d) for d in received.drafts],
        )


class PublishIn(BaseModel):
    """What customers read may differ from what the alert said: override it here."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        default=None, min_length=1, max_length=300, description="Default: the draft's title."
    )
    message: str | None = Field(
        default=None, min_length=1, description="First timeline entry (default: the title)."
    )
    description: str = Field(default="", description="What customers see.")


class DiscardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
