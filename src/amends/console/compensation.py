"""Compensation from the console: choose a credit policy, preview what it
would pay (totals, distribution, examples, the research's warnings C1–C5),
issue the credits (an approver), and follow them through to redemption.

The same services as ``amends credits preview/issue/report`` and the API's
``/incidents/{id}/credits``; issuing is set-based and idempotent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from amends.availability.service import rules_from
from amends.console.access import Guard, Operator, OperatorDep
from amends.console.deps import SessionDep
from amends.console.pages import HEADERS, render
from amends.credits import issuance, policies, preview
from amends.credits import service as ledger
from amends.credits.money import money
from amends.errors import AmendsError, ValidationFailed
from amends.incidents import service as incident_service
from amends.users import auditlog
from amends.users.models import Role

router = APIRouter(include_in_schema=False, dependencies=[Guard])
DEFAULT_POLICY = "godaddy-2012"


def _choices(session: Any) -> list[str]:
    stored = [f"{row.key}@{row.version}" for row in policies.list_policies(session=session)]
    return [*policies.BUILTIN, *stored]


@router.get("/console/incidents/{incident_id}/credits")
def credits_page(
    incident_id: int,
    request: Request,
    session: SessionDep,
    me: OperatorDep,
    policy: str = DEFAULT_POLICY,
) -> Response:
    return _page(request, session, me, incident_id, policy)


def _page(
    request: Request, session: Any, me: Operator, incident_id: int, policy: str,
    error: str = "", status_code: int = 200,
) -> Response:  # fmt: skip
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    seen = None
    try:
        parsed, label = policies.peek(session=session, name=policy)
        seen = preview.preview(
            session=session, incident=incident, policy=parsed, name=label,
            rules=rules_from(request.app.state.settings),
        )  # fmt: skip
    except AmendsError as exc:
        error, status_code = error or exc.message, 422
    return render(
        request, "credits.html", me, status_code=status_code, incident=incident, policy=policy,
        choices=_choices(session), preview=seen, error=error, money=money,
        report=ledger.report(session=session, incident_id=incident_id),
        blocked=bool(seen and any(w.severity == "block" for w in seen.warnings)),
        may_issue=me.may(Role.approver),
    )  # fmt: skip


@router.post("/console/incidents/{incident_id}/credits")
def issue_credits(
    incident_id: int,
    request: Request,
    session: SessionDep,
    me: OperatorDep,
    policy: Annotated[str, Form()] = DEFAULT_POLICY,
) -> Response:
    """Issue one credit per affected site under ``policy``; re-issuing adds nothing."""
    rules = rules_from(request.app.state.settings)
    try:
        with session.begin_nested():
            row = policies.choose(session=session, name=policy)
            incident = incident_service.get_incident(session=session, incident_id=incident_id)
            parsed = policies.load(row)
            blocked = preview.blocking(
                session=session, incident=incident, policy=parsed, name=row.key, rules=rules
            )
            if blocked:
                raise ValidationFailed(f"{blocked[0].rule}: {blocked[0].message}", field="policy")
            result = issuance.issue(
                session=session, incident=incident, policy_row=row, policy=parsed,
                actor=me.email, rules=rules,
            )  # fmt: skip
    except AmendsError as exc:
        session.expire_all()
        return _page(request, session, me, incident_id, policy, exc.message, 422)
    auditlog.record(
        session=session, actor=me.email, action="credits.issue", target=f"incident {incident_id}",
        detail=f"policy {result.policy}: {result.created} credits", ip=me.ip,
    )  # fmt: skip
    where = f"/console/incidents/{incident_id}/credits?policy={policy}"
    return RedirectResponse(where, status_code=303, headers=HEADERS)
