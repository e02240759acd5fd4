"""Drafted notices over HTTP: what the console's drafts screens do, for scripts.

List an incident's drafts, start one from a kind, read it with its versions
and the auditor's findings, save a new version, ask for it to be sent,
preview what a customer receives, send it, discard it. Thin: the drafts
service keeps texts and versions, ``review`` reads findings and previews,
``flows.send_draft`` sends — the same calls the console makes, with the same
two-person rule (``console_two_person_rule``) and the same refusal of a
blocking finding without an override reason.

The actor of every write is the API key (``api key <name or prefix>``, as
intake's publish records it): under the two-person rule, the key that wrote
or asked for a draft cannot also send it. Every write is in the audit log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from sqlalchemy.orm import Session

from amends import flows
from amends.api.auth import AUTH_ERRORS, Reader, Writer, actor
from amends.api.deliveries import kick
from amends.api.deps import SessionDep
from amends.apikeys.models import ApiKey
from amends.config import Settings
from amends.incidents import service as incident_service
from amends.messages.drafts import review
from amends.messages.drafts import service as drafts_service
from amends.messages.drafts.models import MessageDraft
from amends.messages.drafts.schemas import (
    DraftDetail,
    DraftOut,
    NewDraftIn,
    PreviewOut,
    SaveIn,
    SendIn,
    SentOut,
)

router = APIRouter(tags=["drafts"], responses=AUTH_ERRORS)
BASE = "/incidents/{incident_id}/drafts"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _origin(request: Request, key: ApiKey) -> dict[str, str]:
    """Where an API write came from, for the audit log the drafts service writes."""
    return {"ip": request.client.host if request.client else "", "via": f"key {key.prefix}"}


def _detail(session: Session, request: Request, draft: MessageDraft) -> DraftDetail:
    settings = _settings(request)
    reports = review.findings(
        session=session,
        incident_id=draft.incident_id,
        texts=draft.current.texts,
        company=settings.notice_sender,
        public_url=settings.public_url,
    )
    return DraftDetail.with_findings(draft, reports)


@router.get(BASE, dependencies=[Reader])
def list_drafts(incident_id: int, session: SessionDep) -> list[DraftOut]:
    """The incident's drafts, newest first (a 404 for an unknown incident)."""
    incident_service.get_incident(session=session, incident_id=incident_id)
    return [
        DraftOut.of(d) for d in drafts_service.list_drafts(session=session, incident_id=incident_id)
    ]


@router.post(BASE, status_code=201)
def create_draft(
    incident_id: int,
    body: NewDraftIn,
    session: SessionDep,
    request: Request,
    key: Annotated[ApiKey, Writer],
) -> DraftDetail:
    """Start a draft from a kind: version 1 is the composer's text of that kind in
    every language, with ``{{ name }}`` and ``{{ sites }}`` for each customer's own.
    A resolution before the incident is resolved is a 422."""
    settings = _settings(request)
    draft = drafts_service.create(
        session=session,
        incident_id=incident_id,
        kind=body.kind,
        who=actor(key),
        company=settings.notice_sender,
        public_url=settings.public_url,
        **_origin(request, key),
    )
    return _detail(session, request, draft)


@router.get(BASE + "/{draft_id}", dependencies=[Reader])
def get_draft(
    incident_id: int, draft_id: int, session: SessionDep, request: Request
) -> DraftDetail:
    """The draft, every version (who wrote it, when, its texts) and the auditor's
    findings on the current version per language."""
    draft = drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    return _detail(session, request, draft)


@router.post(BASE + "/{draft_id}/versions", status_code=201)
def save_version(
    incident_id: int,
    draft_id: int,
    body: SaveIn,
    session: SessionDep,
    request: Request,
    key: Annotated[ApiKey, Writer],
) -> DraftDetail:
    """Save a new version: the parts given replace the current ones, the rest is
    kept. Every text is checked as a template; a bad one is a 422
    ``validation_failed`` whose ``field`` names it (``en.email``). An unchanged
    text adds no version; an edit takes back a request to send. A sent or
    discarded draft is a 409."""
    draft = drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    texts = drafts_service.edited(draft, body.texts.changes())
    draft = drafts_service.save(
        session=session, draft_id=draft_id, texts=texts, who=actor(key), **_origin(request, key)
    )
    return _detail(session, request, draft)


@router.post(BASE + "/{draft_id}/request")
def ask(
    incident_id: int,
    draft_id: int,
    session: SessionDep,
    request: Request,
    key: Annotated[ApiKey, Writer],
) -> DraftOut:
    """Ask for the draft to be sent (asking again keeps the first request)."""
    drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    draft = drafts_service.ask(
        session=session, draft_id=draft_id, who=actor(key), **_origin(request, key)
    )
    return DraftOut.of(draft)


@router.get(BASE + "/{draft_id}/preview", dependencies=[Reader])
def preview(
    incident_id: int,
    draft_id: int,
    session: SessionDep,
    request: Request,
    customer: Annotated[
        str | None,
        Query(description="A customer's external id; default: the first affected customer."),
    ] = None,
    channel: Annotated[str, Query(description="email, sms or voice.")] = "email",
    lang: Annotated[str | None, Query(description="es or en; default: the customer's.")] = None,
) -> PreviewOut:
    """Exactly what the customer receives from the current version: the subject,
    the e-mail's text and HTML (with the unsubscribe link the dispatcher signs),
    the SMS as the channel cuts it (segments, encoding), the voice script."""
    draft = drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    settings = _settings(request)
    shown = review.preview(
        session=session,
        draft=draft,
        public_url=settings.public_url,
        sms_max_segments=settings.sms_max_segments,
        customer=customer,
        channel=channel,
        lang=lang,
    )
    return PreviewOut.of(shown)


@router.post(BASE + "/{draft_id}/send")
def send(
    incident_id: int,
    draft_id: int,
    body: SendIn,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
    key: Annotated[ApiKey, Writer],
) -> SentOut:
    """Approve the draft and owe it to every affected customer, once.

    A 409 ``conflict`` when it was already sent or discarded, when the
    two-person rule is on and nobody else asked for it (or this key wrote or
    asked for it: ``field`` = ``approval``), or when the auditor blocks a
    language and no ``override_reason`` is given (``field`` = ``override``);
    a reason when nothing blocks is a 422. Nothing is written when refused."""
    drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    settings = _settings(request)
    reason = (body.override_reason or "").strip() or None
    draft, result, reports = flows.send_draft(
        session=session,
        draft_id=draft_id,
        who=actor(key),
        company=settings.notice_sender,
        public_url=settings.public_url,
        two_person=settings.console_two_person_rule,
        override_reason=reason,
        **_origin(request, key),
    )
    background.add_task(kick, request)
    return SentOut.of(draft, result.notice.id, result.deliveries, reports)


@router.post(BASE + "/{draft_id}/discard")
def discard(
    incident_id: int,
    draft_id: int,
    session: SessionDep,
    request: Request,
    key: Annotated[ApiKey, Writer],
) -> DraftOut:
    """Never send it (a sent or discarded draft is a 409)."""
    drafts_service.get(session=session, draft_id=draft_id, incident_id=incident_id)
    draft = drafts_service.discard(
        session=session, draft_id=draft_id, who=actor(key), **_origin(request, key)
    )
    return DraftOut.of(draft)
