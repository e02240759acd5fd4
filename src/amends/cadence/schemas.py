"""How an incident's cadence looks outside: the API detail and ``incident show --json``."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from amends.cadence.service import Standing
from amends.incidents.cadence import CadencePolicy, Due
from amends.incidents.models import Incident
from amends.incidents.schemas import IncidentOut, PolicyIn


def _minutes(value: dt.timedelta) -> int:
    return int(value.total_seconds() // 60)


def _seconds(value: dt.timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _span(seconds: float) -> str:
    """12 min, 2 h 5 min, 3 d 4 h: what a person reads at a glance."""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def describe(due: Due, now: dt.datetime) -> str:
    """'update due at 14:30 UTC, in 12 min' or 'update OVERDUE by 5 min (due 14:30 UTC)'."""
    name = due.notice.value.replace("_", " ")
    at = due.due_at.astimezone(dt.UTC)
    when = (
        at.strftime("%H:%M UTC") if at.date() == now.date() else at.strftime("%Y-%m-%d %H:%M UTC")
    )
    left = (due.due_at - now).total_seconds()
    if due.overdue:
        return f"{name} OVERDUE by {_span(left)} (due {when})"
    return f"next {name} due at {when}, in {_span(left)}"


class PolicyOut(BaseModel):
    first_notice_within_minutes: int
    update_every_minutes: int
    apology_within_hours: int
    auto_holding_update: bool

    @classmethod
    def of(cls, policy: CadencePolicy) -> PolicyOut:
        return cls(
            first_notice_within_minutes=_minutes(policy.first_notice_within),
            update_every_minutes=_minutes(policy.update_every),
            apology_within_hours=_minutes(policy.apology_within) // 60,
            auto_holding_update=policy.auto_holding_update,
        )


__all__ = ["CadenceOut", "IncidentDetail", "PolicyIn", "PolicyOut", "describe"]


class DueOut(BaseModel):
    notice: str
    due_at: dt.datetime
    overdue: bool
    seconds: int = Field(description="Until due (positive) or past it (negative).")
    text: str


class RecordOut(BaseModel):
    """Seconds; null when it has not happened (yet)."""

    time_to_first_notice: int | None
    longest_update_gap: int | None
    time_to_apology: int | None


class CadenceOut(BaseModel):
    policy: PolicyOut
    due: list[DueOut]
    record: RecordOut
    as_of: dt.datetime

    @classmethod
    def of(cls, found: Standing) -> CadenceOut:
        now = found.now
        return cls(
            policy=PolicyOut.of(found.policy),
            due=[
                DueOut(
                    notice=d.notice.value,
                    due_at=d.due_at,
                    overdue=d.overdue,
                    seconds=int((d.due_at - now).total_seconds()),
                    text=describe(d, now),
                )
                for d in found.due
            ],
            record=RecordOut(
                time_to_first_notice=_seconds(found.record.time_to_first_notice),
                longest_update_gap=_seconds(found.record.longest_update_gap),
                time_to_apology=_seconds(found.record.time_to_apology),
            ),
            as_of=now,
        )


class IncidentDetail(IncidentOut):
    """An incident with its cadence (``null`` for maintenance)."""

    cadence: CadenceOut | None = None

    @classmethod
    def with_cadence(cls, incident: Incident, found: Standing | None) -> IncidentDetail:
        base = IncidentOut.of(incident).model_dump()
        return cls(**base, cadence=CadenceOut.of(found) if found else None)
