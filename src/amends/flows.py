"""The incident lifecycle with its notices: what happens when an operator acts.

Opening an incident owes the affected customers a first notice; an update the
operator marks customer-facing owes an update notice; resolving owes a
resolution notice. The notice and its ledger rows are written in the same
transaction as the incident change (the transactional outbox), so either both
exist or neither does; dispatch only ever reads the ledger afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from amends.catalog.models import Customer
from amends.db import utcnow
from amends.delivery import ledger as delivery_ledger
from amends.delivery import service as delivery_service
from amends.delivery.models import NoticeKind
from amends.delivery.service import NoticeResult
from amends.errors import Conflict, ValidationFailed
from amends.facts import service as facts_service
from amends.incidents import cadence_policy, lifecycle
from amends.incidents import service as incident_service
from amends.incidents.models import (
    ComponentStatus,
    Impact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
)
from amends.messages import service as message_service
from amends.messages.drafts import service as drafts_service
from amends.messages.drafts.models import LANGUAGES, MessageDraft
from amends.preferences import service as preferences

if TYPE_CHECKING:
    from amends.messages.audit.report import Report

# The apology's composer and auditor (jinja2, credits, httpx…) and the call
# lists are imported by the flows that use them: `amends incident open --send`
# should not pay for them before its first e-mail (benchmarks/first_notice.py).


def open_incident(
    *,
    session: Session,
    title: str,
    components: Mapping[str, ComponentStatus],
    impact: Impact | None = None,
    started_at: dt.datetime | None = None,
    description: str = "",
    message: str | None = None,
    status: IncidentStatus = IncidentStatus.investigating,
    notify: bool = True,
    cadence: Mapping[str, int | bool | None] | None = None,
    first_slice: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[Incident, NoticeResult | None]:
    """Declare an incident and owe its first notice ("we know, we are on it").

    ``cadence``: its own policy (``cadence_policy.set_policy`` arguments), if
    not the defaults; a bad value refuses the whole incident. ``first_slice``:
    write only the first slice of the notice's rows now, the rest after the
    first messages are sent (``delivery/slices.py``)."""
    now = now or utcnow()
    incident = incident_service.open_incident(
        session=session,
        title=title,
        components=components,
        impact=impact,
        started_at=started_at,
        description=description,
        message=message,
        status=status,
        now=now,
    )
    if cadence and any(v is not None for v in cadence.values()):
        cadence_policy.set_policy(session=session, incident_id=incident.id, now=now, **cadence)  # type: ignore[arg-type]
    if not notify:
        return incident, None
    result = delivery_service.issue_notice(
        session=session,
        incident_id=incident.id,
        kind=NoticeKind.first,
        first_slice=first_slice,
        now=now,
    )
    return incident, result


def post_update(
    *,
    session: Session,
    incident_id: int,
    status: IncidentStatus,
    message: str,
    components: Mapping[str, ComponentStatus] = incident_service.NO_CHANGES,
    at: dt.datetime | None = None,
    notify: bool = True,
    now: dt.datetime | None = None,
) -> tuple[IncidentUpdate, NoticeResult | None]:
    """Post an update; a customer-facing one owes a notice (a closing status:
    the resolution notice)."""
    now = now or utcnow()
    update = incident_service.post_update(
        session=session,
        incident_id=incident_id,
        status=status,
        message=message,
        components=components,
        at=at,
        customer_facing=notify,
        now=now,
    )
    if not notify:
        return update, None
    kind = NoticeKind.resolution if status in lifecycle.CLOSING else NoticeKind.update
    result = delivery_service.issue_notice(
        session=session,
        incident_id=incident_id,
        kind=kind,
        update_id=update.id if kind is NoticeKind.update else None,
        now=now,
    )
    return update, result


def resolve(
    *,
    session: Session,
    incident_id: int,
    message: str,
    resolved_at: dt.datetime | None = None,
    notify: bool = True,
    now: dt.datetime | None = None,
) -> tuple[Incident, NoticeResult | None]:
    """Resolve (or complete a maintenance) and owe the resolution notice."""
    now = now or utcnow()
    incident = incident_service.resolve(
        session=session,
        incident_id=incident_id,
        message=message,
        resolved_at=resolved_at,
        now=now,
    )
    if not notify:
        return incident, None
    result = delivery_service.issue_notice(
        session=session, incident_id=incident_id, kind=NoticeKind.resolution, now=now
    )
    return incident, result


def apologise(
    *,
    session: Session,
    incident_id: int,
    company: str,
    public_url: str,
    override_by: str | None = None,
    override_reason: str | None = None,
    kind: NoticeKind = NoticeKind.apology,
    now: dt.datetime | None = None,
) -> tuple[NoticeResult, dict[str, Report]]:
    """Owe every affected customer the seven-step apology, if the auditor lets it go.

    The apology is composed for one real recipient per language and audited
    before any row is committed: a blocking finding refuses the whole notice
    (:class:`Conflict`, nothing written) unless a named person overrides it
    with a reason, which is recorded. Each customer's own message is composed
    when it is sent.
    """
    from amends.messages.audit.report import Verdict

    now = now or utcnow()
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    if incident.resolved_at is None:
        raise Conflict("apologise once the incident is resolved", field="incident_id")
    result = delivery_service.issue_notice(
        session=session, incident_id=incident_id, kind=kind, now=now
    )
    reports = _audit_samples(session, incident_id, kind, company, public_url)
    blocked = {lang: r for lang, r in reports.items() if r.blocked}
    if blocked and not (override_by and override_reason):
        rules = sorted(
            {f.rule for r in blocked.values() for f in r.findings if f.verdict is Verdict.block}
        )
        raise Conflict(
            f"the auditor blocks this {kind.value} ({', '.join(rules)}); fix the incident "
            "facts, or override with a name and a reason",
            field="override",
        )
    for lang, report in blocked.items():
        facts_service.record_override(
            session=session,
            incident_id=incident_id,
            kind=kind.value,
            locale=lang,
            rules=sorted(f.rule for f in report.findings if f.verdict is Verdict.block),
            who=override_by or "",
            why=override_reason or "",
            now=now,
        )
    return result, reports


def _audit_samples(
    session: Session, incident_id: int, kind: NoticeKind, company: str, public_url: str
) -> dict[str, Report]:
    """The auditor's report on one real customer's e-mail per language, as it
    will be sent (with its rating links), and whether its SMS and voice forms
    state the same figures (S4)."""
    from amends.messages.apologies import ApologyComposer
    from amends.messages.composer import audit_composed

    samples = delivery_ledger.sample_recipients(
        session=session, incident_id=incident_id, kind=kind, channel="email"
    )
    composer = ApologyComposer(
        company=company,
        public_url=public_url,
        rating_key=preferences.signing_key(session=session),
    )
    facts, _, records = composer.incident(session, incident_id)
    reports = {}
    for lang, (delivery_id, customer_id) in samples.items():
        forms = {
            channel: composer.compose_rows(
                session, incident_id, kind, [(delivery_id, customer_id, channel, lang)]
            )[delivery_id]
            for channel in ("email", "sms", "voice")
        }
        email = forms.pop("email")
        reports[lang] = audit_composed(email, facts, records.get(lang), forms=forms)
    return reports


def send_draft(
    *,
    session: Session,
    draft_id: int,
    who: str,
    company: str,
    public_url: str,
    two_person: bool = False,
    override_reason: str | None = None,
    now: dt.datetime | None = None,
    ip: str = "",
    via: str = "",
) -> tuple[MessageDraft, NoticeResult, dict[str, Report]]:
    """Approve a draft and owe it to every affected customer, once.

    Refused (:class:`Conflict`, nothing written) when the draft was already
    sent or discarded, when the two-person rule needs another person, or when
    the auditor blocks a language and no reason is given; an override is
    recorded with ``who`` and the reason. Each language is audited as one real
    recipient of the new notice receives it (or, with nobody in that language,
    with empty fields). Each customer's message is rendered when it is sent.
    """
    now = now or utcnow()
    draft = drafts_service.get(session=session, draft_id=draft_id)
    drafts_service.check_approver(draft, who, two_person=two_person)
    result = delivery_service.issue_notice(
        session=session,
        incident_id=draft.incident_id,
        kind=NoticeKind.draft,
        draft_id=draft.id,
        now=now,
    )
    facts = drafts_service.incident_facts(
        session=session, incident_id=draft.incident_id, company=company, public_url=public_url
    )
    gate = drafts_service.audit_gate(facts)
    samples = delivery_ledger.sample_recipients(
        session=session,
        incident_id=draft.incident_id,
        kind=NoticeKind.draft,
        channel="email",
        notice_id=result.notice.id,
    )
    reports = {}
    for lang in LANGUAGES:
        name, sites = "", []
        if lang in samples:
            customer = session.get(Customer, samples[lang][1])
            name = customer.name if customer else ""
            sites = message_service.affected_domains(
                session=session, incident_id=draft.incident_id, customer_id=samples[lang][1]
            )
        reports[lang] = drafts_service.audit_language(
            draft.current.texts, lang, gate, name=name, sites=sites
        )
    blocked = {lang: r for lang, r in reports.items() if r.blocked}
    reason = (override_reason or "").strip()
    if blocked and not reason:
        rules = sorted({x for r in blocked.values() for x in drafts_service.blocking_rules(r)})
        raise Conflict(
            f"the auditor blocks this draft ({', '.join(rules)}); change the text, or "
            "override with a reason",
            field="override",
        )
    if reason and not blocked:
        raise ValidationFailed("nothing blocks: leave the override empty", field="reason")
    for lang, report in blocked.items():
        facts_service.record_override(
            session=session,
            incident_id=draft.incident_id,
            kind=f"draft {draft.id}",
            locale=lang,
            rules=drafts_service.blocking_rules(report),
            who=who,
            why=reason,
            now=now,
        )
    drafts_service.mark_sent(
        session=session,
        draft=draft,
        who=who,
        notice_id=result.notice.id,
        override_reason=reason or None,
        now=now,
    )
    detail = drafts_service.sent_detail(draft, result.notice.id, result.deliveries, list(blocked))
    drafts_service.record(session=session, who=who, action="draft.send", draft=draft,
                          detail=detail, ip=ip, via=via)  # fmt: skip
    return draft, result, reports


def assign_calls(
    *,
    session: Session,
    incident_id: int,
    tiers: Sequence[str],
    escalate_after: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> tuple[int, NoticeResult | None]:
    """Deal the affected customers of ``tiers`` to the account managers, and owe
    each manager given customers their list (e-mail, and SMS when they have a
    phone), in the same transaction: a list is never assigned and not sent.
    ``escalate_after``: default ``calls.service.DEFAULT_ESCALATION``."""
    from amends.calls import service as calls_service
    from amends.delivery import call_lists

    now = now or utcnow()
    added = calls_service.assign(
        session=session,
        incident_id=incident_id,
        tiers=tiers,
        escalate_after=(
            calls_service.DEFAULT_ESCALATION if escalate_after is None else escalate_after
        ),
        now=now,
    )
    if not added:
        return 0, None
    notice = call_lists.send_lists(
        session=session, incident_id=incident_id, assigned_at=now, now=now
    )
    return added, notice
