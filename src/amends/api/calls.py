"""Call lists for the phone chain: managers, assignments, outcomes."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, BackgroundTasks, Request

from amends import flows
from amends.api.auth import AUTH_ERRORS, Reader, Writer
from amends.api.deliveries import kick
from amends.api.deps import SessionDep
from amends.calls import service
from amends.calls.schemas import AssignIn, AssignOut, CallOut, ManagerIn, ManagerOut, RecordIn

router = APIRouter(tags=["calls"], responses=AUTH_ERRORS)


@router.post("/account-managers", dependencies=[Writer], status_code=201)
def add_manager(body: ManagerIn, session: SessionDep) -> ManagerOut:
    """Someone who will phone customers during an incident."""
    manager = service.add_manager(
        session=session, name=body.name, email=body.email, phone=body.phone, locale=body.locale
    )
    return ManagerOut.model_validate(manager)


@router.get("/account-managers", dependencies=[Reader])
def list_managers(session: SessionDep) -> list[ManagerOut]:
    return [ManagerOut.model_validate(m) for m in service.list_managers(session=session)]


@router.post("/incidents/{incident_id}/calls", dependencies=[Writer])
def assign(
    incident_id: int,
    body: AssignIn,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> AssignOut:
    """Deal the incident's affected customers of these tiers to the managers,
    round-robin; each manager is sent their list (e-mail, and SMS with a phone).
    Customers nobody reaches within ``escalate_after_minutes`` get an automated call."""
    added, notice = flows.assign_calls(
        session=session,
        incident_id=incident_id,
        tiers=body.tiers,
        escalate_after=dt.timedelta(minutes=body.escalate_after_minutes),
    )
    if notice is not None:
        background.add_task(kick, request)
    return AssignOut(assigned=added)


@router.get("/incidents/{incident_id}/calls", dependencies=[Reader])
def call_list(
    incident_id: int, session: SessionDep, manager: str | None = None, unreached: bool = False
) -> list[CallOut]:
    rows = service.call_list(
        session=session, incident_id=incident_id, manager_email=manager, unreached_only=unreached
    )
    return [CallOut.model_validate(r) for r in rows]


@router.post("/calls/{assignment_id}/outcome", dependencies=[Writer])
def record(assignment_id: int, body: RecordIn, session: SessionDep) -> dict[str, object]:
    """A manager made the call: reached, voicemail or no_answer."""
    done = service.record(
        session=session, assignment_id=assignment_id, outcome=body.outcome, notes=body.notes
    )
    return {"id": done.id, "outcome": done.outcome, "attempts": done.attempts}
