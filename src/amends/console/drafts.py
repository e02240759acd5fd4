"""Drafted notices in the console: list an incident's drafts, start one from a
kind, edit it with the auditor's findings live beside the text, preview what a
chosen customer receives on each channel in each language, ask for it to be
sent, approve and send it (an approver; a recorded reason when the auditor
blocks; the two-person rule when it is on), or discard it.

Thin: the drafts service keeps the texts and versions, ``flows.send_draft``
writes the notice and its ledger rows with the approval.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.datastructures import FormData

from amends import flows
from amends import impact as impact_service
from amends.console.access import Guard, Operator, OperatorDep
from amends.console.deps import SessionDep, kick
from amends.console.pages import HEADERS, render
from amends.errors import AmendsError
from amends.incidents import service as incident_service
from amends.messages.audit import Report
from amends.messages.drafts import review
from amends.messages.drafts import service as drafts_service
from amends.messages.drafts.models import LANGUAGES, PARTS, DraftKind, MessageDraft
from amends.users.models import Role

router = APIRouter(include_in_schema=False, dependencies=[Guard])
CHANNELS = review.CHANNELS
BASE = "/console/incidents/{incident_id}/drafts"
#: The preview's frame shows the e-mail's own inline styles (attributes only: no script).
PREVIEW_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": HEADERS["Content-Security-Policy"]
    + "; style-src-attr 'unsafe-inline'",
}


async def form_data(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _texts(form: FormData) -> dict[str, dict[str, str]]:
    return {lang: {part: _text(form, f"{lang}.{part}") for part in PARTS} for lang in LANGUAGES}


def _message(exc: AmendsError) -> str:
    return exc.message + (f" ({exc.field})" if exc.field else "")


def _where(draft: MessageDraft, tail: str = "") -> str:
    return f"{BASE.format(incident_id=draft.incident_id)}/{draft.id}{tail}"


def _reports(
    request: Request, session: Any, incident_id: int, texts: dict[str, dict[str, str]]
) -> dict[str, Report]:
    settings = request.app.state.settings
    return review.findings(
        session=session, incident_id=incident_id, texts=texts, company=settings.notice_sender,
        public_url=settings.public_url,
    )  # fmt: skip


@router.get(BASE)
def draft_list(
    incident_id: int, request: Request, session: SessionDep, me: OperatorDep
) -> Response:
    return _list(request, session, me, incident_id)


def _list(
    request: Request, session: Any, me: Operator, incident_id: int, error: str = "",
    status_code: int = 200,
) -> Response:  # fmt: skip
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    rows = drafts_service.list_drafts(session=session, incident_id=incident_id)
    return render(
        request, "drafts.html", me, status_code=status_code, incident=incident, drafts=rows,
        kinds=list(DraftKind), error=error,
    )  # fmt: skip


@router.post(BASE)
def new_draft(
    incident_id: int, request: Request, session: SessionDep, me: OperatorDep, form: FormDep
) -> Response:
    settings = request.app.state.settings
    try:
        with session.begin_nested():
            draft = drafts_service.create(
                session=session, incident_id=incident_id, kind=_text(form, "kind"), who=me.email,
                company=settings.notice_sender, public_url=settings.public_url, ip=me.ip,
            )  # fmt: skip
    except AmendsError as exc:
        return _list(request, session, me, incident_id, _message(exc), 422)
    return RedirectResponse(_where(draft), status_code=303, headers=HEADERS)


@router.get(BASE + "/{draft_id}")
def edit_page(
    incident_id: int, draft_id: int, request: Request, session: SessionDep, me: OperatorDep
) -> Response:
    return _edit(request, session, me, incident_id, draft_id)


def _edit(
    request: Request, session: Any, me: Operator, incident_id: int, draft_id: int,
    error: str = "", status_code: int = 200, texts: dict[str, dict[str, str]] | None = None,
) -> Response:  # fmt: skip
    draft = drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    shown = texts or draft.current.texts
    try:
        reports, template_error = _reports(request, session, incident_id, shown), ""
    except AmendsError as exc:
        reports, template_error = {}, _message(exc)
    settings = request.app.state.settings
    return render(
        request, "draft.html", me, status_code=status_code, incident=incident, draft=draft,
        texts=shown, reports=reports, template_error=template_error, error=error,
        languages=LANGUAGES, blocked=any(r.blocked for r in reports.values()),
        two_person=settings.console_two_person_rule, may_send=me.may(Role.approver),
        people=impact_service.some_affected_customers(session=session, incident=incident),
        channels=CHANNELS,
    )  # fmt: skip


@router.post(BASE + "/{draft_id}")
def save(
    incident_id: int, draft_id: int, request: Request, session: SessionDep, me: OperatorDep,
    form: FormDep,
) -> Response:  # fmt: skip
    drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    texts = _texts(form)
    try:
        with session.begin_nested():
            draft = drafts_service.save(
                session=session, draft_id=draft_id, texts=texts, who=me.email, ip=me.ip
            )
    except AmendsError as exc:
        session.expire_all()
        return _edit(request, session, me, incident_id, draft_id, _message(exc), 422, texts)
    return RedirectResponse(_where(draft), status_code=303, headers=HEADERS)


@router.post(BASE + "/{draft_id}/check")
def live_check(
    incident_id: int, draft_id: int, request: Request, session: SessionDep, me: OperatorDep,
    form: FormDep,
) -> Response:  # fmt: skip
    """The auditor on the texts as typed, for htmx; writes nothing."""
    drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    texts = _texts(form)
    try:
        reports, template_error = _reports(request, session, incident_id, texts), ""
    except AmendsError as exc:
        reports, template_error = {}, _message(exc)
    return render(
        request, "_draft_findings.html", me, reports=reports, template_error=template_error
    )


@router.get(BASE + "/{draft_id}/preview")
def preview(
    incident_id: int, draft_id: int, request: Request, session: SessionDep, me: OperatorDep,
    customer: int | None = None, channel: str = "email", lang: str = "",
) -> Response:  # fmt: skip
    """Exactly what a chosen affected customer receives, per channel and language."""
    draft = drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    people = impact_service.some_affected_customers(session=session, incident=incident)
    chosen = next((p for p in people if p[0] == customer), people[0] if people else None)
    channel = channel if channel in CHANNELS else "email"
    lang = lang if lang in LANGUAGES else review.language_of(chosen[2]) if chosen else "en"
    message = sms = None
    if chosen is not None:
        settings = request.app.state.settings
        shown = review.preview(
            session=session, draft=draft, public_url=settings.public_url,
            sms_max_segments=settings.sms_max_segments, customer=chosen[0], channel=channel,
            lang=lang,
        )  # fmt: skip
        message, sms = shown.message, shown.sms
    response = render(
        request, "draft_preview.html", me, incident=incident, draft=draft, people=people,
        chosen=chosen, channel=channel, channels=CHANNELS, lang=lang, languages=LANGUAGES,
        message=message, sms=sms,
    )  # fmt: skip
    response.headers.update(PREVIEW_HEADERS)
    return response


@router.post(BASE + "/{draft_id}/request")
def ask(
    incident_id: int, draft_id: int, request: Request, session: SessionDep, me: OperatorDep
) -> Response:
    drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    try:
        with session.begin_nested():
            draft = drafts_service.ask(session=session, draft_id=draft_id, who=me.email, ip=me.ip)
    except AmendsError as exc:
        session.expire_all()
        return _edit(request, session, me, incident_id, draft_id, _message(exc), 409)
    return RedirectResponse(_where(draft), status_code=303, headers=HEADERS)


@router.post(BASE + "/{draft_id}/send")
def send(
    incident_id: int, draft_id: int, request: Request, session: SessionDep, me: OperatorDep,
    form: FormDep,
) -> Response:  # fmt: skip
    """Approve and owe every affected customer the draft (flows.send_draft)."""
    drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    settings = request.app.state.settings
    reason = _text(form, "reason").strip()
    try:
        with session.begin_nested():
            draft, _, _ = flows.send_draft(
                session=session, draft_id=draft_id, who=me.email, company=settings.notice_sender,
                public_url=settings.public_url, two_person=settings.console_two_person_rule,
                override_reason=reason or None, ip=me.ip,
            )  # fmt: skip
    except AmendsError as exc:
        session.expire_all()
        return _edit(request, session, me, incident_id, draft_id, _message(exc), 409)
    return RedirectResponse(
        _where(draft), status_code=303, headers=HEADERS, background=BackgroundTask(kick, request)
    )


@router.post(BASE + "/{draft_id}/discard")
def discard(
    incident_id: int, draft_id: int, request: Request, session: SessionDep, me: OperatorDep
) -> Response:
    drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    try:
        with session.begin_nested():
            drafts_service.discard(session=session, draft_id=draft_id, who=me.email, ip=me.ip)
    except AmendsError as exc:
        session.expire_all()
        return _edit(request, session, me, incident_id, draft_id, _message(exc), 409)
    return RedirectResponse(BASE.format(incident_id=incident_id), status_code=303, headers=HEADERS)
