"""Drafts: start one from the composer, save versions, ask, approve, discard.

Service functions take the session keyword-only, flush and never commit (the
console request is the unit of work). Each change is written to the audit log
here, in the same flush, so the console, the API and the CLI cannot tell it
differently or forget it (``ip`` and ``via`` say where the request came from).
Sending is :func:`amends.flows.send_draft`: the draft's notice and its ledger
rows are written with the approval, in one transaction, after the auditor has
read every language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from amends.db import utcnow
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.incidents import service as incident_service
from amends.messages import service as message_service
from amends.messages.audit import AuditFacts, Report, audit
from amends.messages.drafts import rendering
from amends.messages.drafts.models import (
    LANGUAGES,
    PARTS,
    DraftKind,
    DraftState,
    DraftVersion,
    MessageDraft,
)
from amends.messages.inputs import NoticeFacts
from amends.preferences import service as preferences
from amends.users import auditlog


def incident_facts(
    *, session: Session, incident_id: int, company: str, public_url: str
) -> NoticeFacts:
    """The incident as the composer reads it (the same as the apology's)."""
    return message_service.notice_facts(
        session=session,
        incident_id=incident_id,
        company=company,
        status_url=f"{public_url.rstrip('/')}/incidents/{incident_id}",
        signatory=company,
    )


def record(
    *,
    session: Session,
    who: str,
    action: str,
    draft: MessageDraft,
    detail: str = "",
    ip: str = "",
    via: str = "",
) -> None:
    """One audit log entry for a change to ``draft`` (``action``: draft.create,
    draft.edit, draft.request, draft.send, draft.discard)."""
    text = f"draft {draft.id}" + (f": {detail}" if detail else "") + (f"; {via}" if via else "")
    auditlog.record(
        session=session, actor=who, action=action, target=f"incident {draft.incident_id}",
        detail=text, ip=ip,
    )  # fmt: skip


def sent_detail(draft: MessageDraft, notice_id: int, deliveries: int, blocked: list[str]) -> str:
    """The audit log's account of a send: the version, the notice, who asked,
    and any override with its reason."""
    detail = f"version {draft.sent_version}: notice {notice_id}, {deliveries} rows"
    if draft.requested_by:
        detail += f"; asked by {draft.requested_by}"
    if blocked:
        detail += f"; override ({', '.join(sorted(blocked))}): {draft.override_reason}"
    return detail


def create(
    *,
    session: Session,
    incident_id: int,
    kind: DraftKind | str,
    who: str,
    company: str,
    public_url: str,
    now: dt.datetime | None = None,
    ip: str = "",
    via: str = "",
) -> MessageDraft:
    """A new draft whose first version is the composer's text of ``kind`` in
    every language (refused as the composer refuses: a resolution before the
    incident is resolved)."""
    try:
        kind = DraftKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in DraftKind)
        raise ValidationFailed(f"kind must be one of {choices}", field="kind") from None
    now = now or utcnow()
    incident_service.get_incident(session=session, incident_id=incident_id)
    facts = incident_facts(
        session=session, incident_id=incident_id, company=company, public_url=public_url
    )
    texts = rendering.check_texts(
        {lang: rendering.starter(kind, facts, lang) for lang in LANGUAGES}
    )
    draft = MessageDraft(
        incident_id=incident_id,
        kind=kind,
        state=DraftState.draft,
        created_by=who,
        created_at=now,
        version=1,
    )
    draft.versions.append(DraftVersion(number=1, texts=texts, written_by=who, written_at=now))
    session.add(draft)
    # A preview shows the unsubscribe link the dispatcher will sign; its key is made
    # here, on a write, so that a preview (a GET) never writes anything.
    preferences.signing_key(session=session)
    session.flush()
    record(session=session, who=who, action="draft.create", draft=draft, detail=kind.value,
           ip=ip, via=via)  # fmt: skip
    return draft


def get(*, session: Session, draft_id: int, incident_id: int | None = None) -> MessageDraft:
    draft = session.scalar(
        select(MessageDraft)
        .where(MessageDraft.id == draft_id)
        .options(selectinload(MessageDraft.versions))
    )
    if draft is None or (incident_id is not None and draft.incident_id != incident_id):
        raise NotFound(f"no draft {draft_id}", field="draft")
    return draft


def list_drafts(*, session: Session, incident_id: int) -> Sequence[MessageDraft]:
    return session.scalars(
        select(MessageDraft)
        .where(MessageDraft.incident_id == incident_id)
        .options(selectinload(MessageDraft.versions))
        .order_by(MessageDraft.id.desc())
    ).all()


def _open(draft: MessageDraft, doing: str) -> None:
    if not draft.open:
        raise Conflict(
            f"draft {draft.id} is {draft.state.value}: it cannot be {doing}", field="state"
        )


def save(
    *,
    session: Session,
    draft_id: int,
    texts: Mapping[str, Mapping[str, str]],
    who: str,
    now: dt.datetime | None = None,
    ip: str = "",
    via: str = "",
) -> MessageDraft:
    """Keep the edited texts as a new version (an unchanged text adds none).

    Every text is checked as a template first. An edit to a draft someone
    asked to send takes the request back: an approval is of the text asked for.
    """
    draft = get(session=session, draft_id=draft_id)
    _open(draft, "edited")
    clean = rendering.check_texts(texts)
    if clean == draft.current.texts:
        auditlog.nothing_to_log(session)
        return draft
    now = now or utcnow()
    number = draft.version + 1
    draft.versions.append(DraftVersion(number=number, texts=clean, written_by=who, written_at=now))
    draft.version = number
    if draft.state is DraftState.requested:
        draft.state = DraftState.draft
        draft.requested_by = draft.requested_at = None
    session.flush()
    record(session=session, who=who, action="draft.edit", draft=draft, detail=f"version {number}",
           ip=ip, via=via)  # fmt: skip
    return draft


def edited(
    draft: MessageDraft, changes: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """The current texts with ``changes[lang][part]`` put in: an API call or a
    CLI command may change one part and keep the rest."""
    texts = {lang: dict(parts) for lang, parts in draft.current.texts.items()}
    for lang, parts in changes.items():
        if lang not in LANGUAGES:
            raise ValidationFailed(f"lang must be one of {', '.join(LANGUAGES)}", field="lang")
        for part, text in parts.items():
            if part not in PARTS:
                raise ValidationFailed(f"part must be one of {', '.join(PARTS)}", field="field")
            texts.setdefault(lang, {})[part] = text
    return texts


def ask(
    *,
    session: Session,
    draft_id: int,
    who: str,
    now: dt.datetime | None = None,
    ip: str = "",
    via: str = "",
) -> MessageDraft:
    """Ask for the draft to be sent; asking twice keeps the first request."""
    draft = get(session=session, draft_id=draft_id)
    _open(draft, "asked for")
    if draft.state is DraftState.draft:
        draft.state = DraftState.requested
        draft.requested_by = who
        draft.requested_at = now or utcnow()
        session.flush()
    detail = f"version {draft.version}; asked by {draft.requested_by}"
    record(session=session, who=who, action="draft.request", draft=draft, detail=detail,
           ip=ip, via=via)  # fmt: skip
    return draft


def discard(
    *,
    session: Session,
    draft_id: int,
    who: str,
    now: dt.datetime | None = None,
    ip: str = "",
    via: str = "",
) -> MessageDraft:
    draft = get(session=session, draft_id=draft_id)
    _open(draft, "discarded")
    draft.state = DraftState.discarded
    draft.discarded_by = who
    draft.discarded_at = now or utcnow()
    session.flush()
    record(session=session, who=who, action="draft.discard", draft=draft, ip=ip, via=via)
    return draft


def check_approver(draft: MessageDraft, who: str, *, two_person: bool) -> None:
    """Refuse an approval that the state or the two-person rule does not allow.

    With the rule on, someone must have asked, and the approver may be neither
    the person who asked nor anyone who wrote a version: whoever drafted a
    customer-wide message cannot approve it alone."""
    if draft.state is DraftState.sent:
        raise Conflict(
            f"draft {draft.id} was already sent (notice {draft.notice_id})", field="state"
        )
    _open(draft, "approved")
    if not two_person:
        return
    if draft.state is not DraftState.requested:
        raise Conflict(
            "the two-person rule is on: someone must ask for this draft to be sent first",
            field="approval",
        )
    if who == draft.requested_by or who in draft.authors:
        raise Conflict(
            f"the two-person rule is on: {who} wrote or asked for this draft and cannot "
            "also approve it",
            field="approval",
        )


def mark_sent(
    *,
    session: Session,
    draft: MessageDraft,
    who: str,
    notice_id: int,
    override_reason: str | None,
    now: dt.datetime | None = None,
) -> MessageDraft:
    draft.state = DraftState.sent
    draft.approved_by = who
    draft.approved_at = now or utcnow()
    draft.sent_version = draft.version
    draft.notice_id = notice_id
    draft.override_reason = override_reason
    session.flush()
    return draft


def audit_gate(facts: NoticeFacts) -> AuditFacts:
    """What the auditor must know about the incident (a "no data was exposed"
    is only allowed when signed off)."""
    return AuditFacts(
        cause_owner=facts.cause_owner,
        exposure=facts.exposure,
        exposure_signed_off=facts.reassurance_allowed,
    )


def audit_language(
    texts: Mapping[str, Mapping[str, str]],
    lang: str,
    gate: AuditFacts,
    *,
    name: str = "",
    sites: Sequence[str] = (),
) -> Report:
    """The auditor on one language as a customer receives it: subject and
    e-mail, with the SMS and voice forms checked to state the same figures."""
    message = rendering.personal(texts, lang, name=name, sites=sites)
    return audit(
        f"{message.subject}\n\n{message.text}",
        lang,
        kind="notice",
        facts=gate,
        forms={"sms": message.sms, "voice": message.voice},
    )


def blocking_rules(report: Report) -> list[str]:
    return sorted(f.rule for f in report.findings if f.verdict.value == "block")
