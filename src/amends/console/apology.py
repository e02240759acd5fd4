"""The apology from the console: preview what a chosen customer receives on each
channel with the auditor's findings, check a hand-written text live, ask for
it to be sent, and (an approver) send it — with a recorded override when the
auditor blocks, and the two-person rule when it is switched on.

Sending is flows.apologise, the same step as ``amends incident apologise``
and ``POST /api/v1/incidents/{id}/apology``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.background import BackgroundTask

from amends import flows
from amends import impact as impact_service
from amends.console.access import Guard, Operator, OperatorDep
from amends.console.deps import SessionDep, kick
from amends.console.pages import HEADERS, render
from amends.delivery import service as delivery_service
from amends.delivery.models import NoticeKind
from amends.errors import AmendsError, ValidationFailed
from amends.incidents import service as incident_service
from amends.messages.apologies import ApologyComposer
from amends.messages.audit import AuditFacts, audit
from amends.messages.composer import audit_composed
from amends.users import approvals, auditlog
from amends.users.models import Role

router = APIRouter(include_in_schema=False, dependencies=[Guard])
CHANNELS = ("email", "sms", "voice")
KIND = NoticeKind.apology


def _composer(request: Request) -> ApologyComposer:
    settings = request.app.state.settings
    return ApologyComposer(company=settings.notice_sender, public_url=settings.public_url)


@router.get("/console/incidents/{incident_id}/apology")
def apology_page(
    incident_id: int,
    request: Request,
    session: SessionDep,
    me: OperatorDep,
    customer: int | None = None,
    channel: str = "email",
) -> Response:
    return _page(request, session, me, incident_id, customer, channel)


def _page(
    request: Request, session: Any, me: Operator, incident_id: int, customer: int | None,
    channel: str, error: str = "", status_code: int = 200,
) -> Response:  # fmt: skip
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    channel = channel if channel in CHANNELS else "email"
    people = impact_service.some_affected_customers(session=session, incident=incident)
    chosen = next((p for p in people if p[0] == customer), people[0] if people else None)
    composed = report = None
    by_lang: dict[str, Any] = {}
    if chosen is not None and incident.resolved_at is not None:
        composer = _composer(request)
        facts, _windows, records = composer.incident(session, incident_id)
        row = (0, chosen[0], channel, chosen[2])
        composed = composer.compose_rows(session, incident_id, KIND, [row])[0]
        report = audit_composed(composed, facts, records.get(composed.locale))
        by_lang = _per_language(session, composer, incident_id, people)
    settings = request.app.state.settings
    return render(
        request, "apology.html", me, status_code=status_code, incident=incident, people=people,
        chosen=chosen, channel=channel, channels=CHANNELS, composed=composed, report=report,
        by_lang=by_lang, blocked=any(r.blocked for r in by_lang.values()),
        error=error, two_person=settings.console_two_person_rule,
        asked=approvals.open_request(session=session, incident_id=incident_id, kind=KIND.value),
        sent=delivery_service.find_notice(session=session, incident_id=incident_id, kind=KIND),
        may_send=me.may(Role.approver),
    )  # fmt: skip


def _per_language(
    session: Any, composer: ApologyComposer, incident_id: int, people: list[tuple[int, str, str]]
) -> dict[str, Any]:
    """The auditor's verdict on one customer's e-mail per language — what sending checks."""
    first: dict[str, tuple[int, str]] = {}
    for customer_id, _name, locale in people:
        first.setdefault("es" if locale.lower().startswith("es") else "en", (customer_id, locale))
    facts, _windows, records = composer.incident(session, incident_id)
    reports = {}
    for lang, (customer_id, locale) in sorted(first.items()):
        composed = composer.compose_rows(
            session, incident_id, KIND, [(0, customer_id, "email", locale)]
        )[0]
        reports[lang] = audit_composed(composed, facts, records.get(lang))
    return reports


@router.post("/console/check")
def live_check(
    request: Request,
    me: OperatorDep,
    text: Annotated[str, Form()] = "",
    lang: Annotated[str, Form()] = "en",
) -> Response:
    """The auditor on a hand-written text, for htmx as the operator types. Writes nothing."""
    report = audit(text, "es" if lang == "es" else "en", kind="apology", facts=AuditFacts())
    return render(request, "_findings.html", me, report=report if text.strip() else None)


@router.post("/console/incidents/{incident_id}/apology/request")
def ask(incident_id: int, request: Request, session: SessionDep, me: OperatorDep) -> Response:
    incident_service.get_incident(session=session, incident_id=incident_id)
    row = approvals.ask(session=session, incident_id=incident_id, kind=KIND.value, who=me.email)
    auditlog.record(
        session=session, actor=me.email, action="apology.request",
        target=f"incident {incident_id}", detail=f"asked by {row.requested_by}", ip=me.ip,
    )  # fmt: skip
    where = f"/console/incidents/{incident_id}/apology"
    return RedirectResponse(where, status_code=303, headers=HEADERS)


@router.post("/console/incidents/{incident_id}/apology")
def send(
    incident_id: int,
    request: Request,
    session: SessionDep,
    me: OperatorDep,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Approve and owe every affected customer the apology (flows.apologise)."""
    settings = request.app.state.settings
    try:
        with session.begin_nested():
            request_row = approvals.approve(
                session=session, incident_id=incident_id, kind=KIND.value, who=me.email,
                two_person=settings.console_two_person_rule,
            )  # fmt: skip
            result, reports = flows.apologise(
                session=session, incident_id=incident_id, company=settings.notice_sender,
                public_url=settings.public_url, override_by=me.email if reason.strip() else None,
                override_reason=reason.strip() or None, kind=KIND,
            )  # fmt: skip
            if reason.strip() and not any(r.blocked for r in reports.values()):
                raise ValidationFailed("nothing blocks: leave the override empty", field="reason")
    except AmendsError as exc:
        session.expire_all()
        message = exc.message + (f" ({exc.field})" if exc.field else "")
        return _page(request, session, me, incident_id, None, "email", message, 409)
    blocked = sorted(lang for lang, r in reports.items() if r.blocked)
    detail = f"notice {result.notice.id}: {result.deliveries} rows"
    if request_row is not None:
        detail += f"; asked by {request_row.requested_by}"
    if blocked:
        detail += f"; override ({', '.join(blocked)}): {reason.strip()}"
    auditlog.record(
        session=session, actor=me.email, action="apology.send", target=f"incident {incident_id}",
        detail=detail, ip=me.ip,
    )  # fmt: skip
    return RedirectResponse(
        f"/console/incidents/{incident_id}", status_code=303, headers=HEADERS,
        background=BackgroundTask(kick, request),
    )  # fmt: skip
