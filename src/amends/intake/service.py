"""Alerts in, drafts out: deduplicate, group, publish, suggest resolution.

An alert is known by its fingerprint: the same fingerprint reported again
(Alertmanager repeats a firing group every ``repeat_interval``, and every
replica of an HA pair sends it) updates the alert it already is, never a
second draft. Alerts of one group (Alertmanager's ``groupKey``, the generic
webhook's ``group``) join one draft. A draft stays *live* — the place new
alerts of its group go — while it is a draft, while the incident it became
is open, or, once discarded, until its alerts resolve; after that the same
alert firing again is a new problem and opens a new draft.

Publishing is :func:`amends.flows.open_incident`, exactly as an operator
opening the incident by hand: the first notice is owed at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from amends import flows
from amends.catalog.models import Component
from amends.db import take_turn, utcnow
from amends.delivery.service import NoticeResult
from amends.errors import Conflict, NotFound, ValidationFailed
from amends.incidents import lifecycle
from amends.incidents.models import ComponentStatus, Incident
from amends.intake.models import Alert, AlertStatus, Draft, DraftState
from amends.intake.payloads import Incoming
from amends.intake.rules import Ignored, Route, RuleSet

logger = logging.getLogger("amends.intake")


@dataclass(frozen=True)
class Outcome:
    """What became of one alert: opened, joined, updated, resolved or ignored (and why)."""

    fingerprint: str
    status: AlertStatus
    outcome: str
    draft_id: int | None = None
    reason: str | None = None


@dataclass
class Received:
    outcomes: list[Outcome] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    #: Notices owed by drafts published (or incidents resolved) by their rules.
    notices: list[NoticeResult] = field(default_factory=list)


def receive(
    *,
    session: Session,
    alerts: Sequence[Incoming],
    rules: RuleSet,
    strict: bool = False,
    now: dt.datetime | None = None,
) -> Received:
    """File each alert in its draft, then apply the rules' publish and resolve.

    ``strict`` (one event from the generic webhook): a firing alert that would
    be ignored is an error naming why, so the caller can fix its request (a
    resolved one nobody knew is no error: there is nothing to open); an
    Alertmanager group is never refused for one alert (it would retry the
    whole group), each ignored alert is reported with its reason instead.
    """
    now = now or utcnow()
    take_turn(session, "intake")
    result = Received()
    touched: dict[int, tuple[Draft, dt.datetime | None, set[str]]] = {}
    for incoming in alerts:
        route = _route(session, incoming, rules)
        if isinstance(route, Ignored):
            if strict and incoming.status is AlertStatus.firing:
                where = "components" if incoming.components is not None else "labels"
                raise ValidationFailed(route.reason, field=where)
            logger.warning("intake: alert %s ignored: %s", incoming.fingerprint, route.reason)
            result.outcomes.append(
                Outcome(incoming.fingerprint, incoming.status, "ignored", reason=route.reason)
            )
            continue
        draft, outcome = _file(session, incoming, route, now)
        touched.setdefault(draft.id, (draft, draft.resolution_suggested_at, set(draft.components)))
        result.outcomes.append(Outcome(incoming.fingerprint, incoming.status, outcome, draft.id))
    for draft, suggested_before, components_before in touched.values():
        _refresh(draft, now)
        _note_new_components(session, draft, components_before, now)
        result.notices.extend(_follow_rules(session, draft, rules, suggested_before, now))
        result.drafts.append(draft)
    session.flush()
    return result


def _route(session: Session, incoming: Incoming, rules: RuleSet) -> Route | Ignored:
    if incoming.components is not None:
        route: Route | Ignored = rules.explicit(incoming.components, incoming.severity or "")
    else:
        labels = dict(incoming.labels)
        if incoming.severity:
            labels.setdefault(rules.severity_label, incoming.severity)
        route = rules.route(labels)
    if isinstance(route, Ignored):
        return route
    if not route.components:
        return Ignored("the event names no components")
    known = set(
        session.scalars(select(Component.key).where(Component.key.in_(list(route.components))))
    )
    missing = sorted(set(route.components) - known)
    if missing:
        return Ignored(
            f"component {missing[0]!r} (rule {route.rule!r}) is not in the catalog "
            "(amends component list)"
        )
    if incoming.status is AlertStatus.resolved and _live_alert(session, incoming) is None:
        return Ignored("resolved, and no draft knew it firing: nothing to open")
    return route


def _live() -> ColumnElement[bool]:
    """Drafts that new alerts of their group still join (see the module docstring)."""
    return or_(
        Draft.state == DraftState.draft,
        and_(Draft.state == DraftState.published, Incident.resolved_at.is_(None)),
        and_(Draft.state == DraftState.discarded, Draft.resolution_suggested_at.is_(None)),
    )


def _live_alert(session: Session, incoming: Incoming) -> Alert | None:
    return session.scalar(
        select(Alert)
        .join(Draft, Draft.id == Alert.draft_id)
        .outerjoin(Incident, Incident.id == Draft.incident_id)
        .where(Alert.source == incoming.source, Alert.fingerprint == incoming.fingerprint)
        .where(_live())
        .order_by(Alert.id.desc())
        .limit(1)
    )


def _live_group(session: Session, incoming: Incoming) -> Draft | None:
    return session.scalar(
        select(Draft)
        .outerjoin(Incident, Incident.id == Draft.incident_id)
        .where(Draft.source == incoming.source, Draft.group_key == incoming.group_key)
        .where(_live())
        .order_by(Draft.id.desc())
        .limit(1)
    )


def _title(incoming: Incoming, route: Route) -> str:
    title = (
        route.title
        or incoming.annotations.get("summary")
        or incoming.labels.get("alertname")
        or f"Alert {incoming.fingerprint}"
    )
    return title.strip()[:300] or f"Alert {incoming.fingerprint}"


def _file(
    session: Session, incoming: Incoming, route: Route, now: dt.datetime
) -> tuple[Draft, str]:
    """Put the alert where it belongs; say whether it opened, joined or updated a draft."""
    starts = min(incoming.starts_at or now, now)
    fields = {
        "status": incoming.status,
        "rule": route.rule,
        "severity": route.severity[:100],
        "components": {k: s.value for k, s in route.components.items()},
        "publish": route.publish,
        "resolve": route.resolve,
        "labels": incoming.labels,
        "annotations": incoming.annotations,
        "ends_at": incoming.ends_at if incoming.status is AlertStatus.resolved else None,
        "generator_url": incoming.generator_url,
        "last_received_at": now,
    }
    alert = _live_alert(session, incoming)
    if alert is not None:
        for name, value in fields.items():
            setattr(alert, name, value)
        alert.starts_at = min(alert.starts_at, starts)
        alert.received += 1
        outcome = "resolved" if incoming.status is AlertStatus.resolved else "updated"
        return alert.draft, outcome
    draft = _live_group(session, incoming)
    outcome = "joined"
    if draft is None:
        draft = Draft(
            source=incoming.source,
            group_key=incoming.group_key,
            state=DraftState.draft,
            title=_title(incoming, route),
            components={},
            started_at=starts,
            published_by="",
            discard_reason="",
            created_at=now,
            updated_at=now,
        )
        session.add(draft)
        outcome = "opened"
    alert = Alert(
        draft=draft,
        source=incoming.source,
        fingerprint=incoming.fingerprint,
        starts_at=starts,
        received=1,
        first_received_at=now,
        **fields,
    )
    session.add(alert)
    session.flush()
    return draft, outcome


def _refresh(draft: Draft, now: dt.datetime) -> None:
    """The draft from its alerts: worst status per component, earliest start,
    and a resolution suggested once every alert has resolved."""
    worst: dict[str, list[ComponentStatus]] = {}
    for alert in draft.alerts:
        for key, status in alert.components.items():
            worst.setdefault(key, []).append(ComponentStatus(status))
    draft.components = {k: lifecycle.worst(v).value for k, v in sorted(worst.items())}
    draft.started_at = min(a.starts_at for a in draft.alerts)
    if all(a.status is AlertStatus.resolved for a in draft.alerts):
        draft.resolution_suggested_at = draft.resolution_suggested_at or now
    else:
        draft.resolution_suggested_at = None
    draft.updated_at = now


def _open_incident(session: Session, draft: Draft) -> Incident | None:
    """The incident a published draft became, while it is open."""
    if draft.state is not DraftState.published or draft.incident_id is None:
        return None
    incident = session.get(Incident, draft.incident_id)
    return incident if incident is not None and incident.resolved_at is None else None


def _internal_note(session: Session, incident: Incident, message: str, now: dt.datetime) -> None:
    """A timeline entry for the operator only: no notice, not on the status page."""
    flows.post_update(
        session=session,
        incident_id=incident.id,
        status=incident.status,
        message=message,
        notify=False,
        now=now,
    )


def _note_new_components(
    session: Session, draft: Draft, before: set[str], now: dt.datetime
) -> None:
    """An alert of a published draft names a component the incident lacks: say so
    once, and leave the change (which customers would be told of) to a person."""
    incident = _open_incident(session, draft)
    if incident is None:
        return
    present = {link.component.key for link in incident.components}
    new = {k: v for k, v in draft.components.items() if k not in before and k not in present}
    if new:
        flags = " ".join(f"-c {k}={v}" for k, v in new.items())
        _internal_note(
            session,
            incident,
            f"Monitoring: alerts of draft {draft.id} now also affect "
            f"{', '.join(new)}. To add them: amends incident update {incident.id} "
            f"-s {incident.status.value} -m '…' {flags}",
            now,
        )


def _follow_rules(
    session: Session,
    draft: Draft,
    rules: RuleSet,
    suggested_before: dt.datetime | None,
    now: dt.datetime,
) -> list[NoticeResult]:
    """Publish for a severity the rule names; when every alert resolved, resolve
    the incident if the rules say so, else leave the operator an internal note."""
    firing = [a for a in draft.alerts if a.status is AlertStatus.firing]
    if draft.state is DraftState.draft and any(a.publish for a in firing):
        rule = next(a.rule for a in firing if a.publish)
        _, _, notice = publish(session=session, draft_id=draft.id, by=f"rule {rule}", now=now)
        return [notice] if notice is not None else []
    newly_resolved = draft.resolution_suggested_at is not None and suggested_before is None
    incident = _open_incident(session, draft)
    if incident is None or not newly_resolved:
        return []
    if all(a.resolve for a in draft.alerts):
        message = rules.resolve_message(draft.alerts[0].rule)
        _, notice = flows.resolve(
            session=session, incident_id=incident.id, message=message, now=now
        )
        return [notice] if notice is not None else []
    _internal_note(
        session,
        incident,
        f"Monitoring: all {len(draft.alerts)} alert(s) of draft {draft.id} resolved. "
        f"Resolution suggested: amends incident resolve {incident.id} -m '…'",
        now,
    )
    return []


def publish(
    *,
    session: Session,
    draft_id: int,
    title: str | None = None,
    message: str | None = None,
    description: str = "",
    by: str = "",
    now: dt.datetime | None = None,
) -> tuple[Draft, Incident, NoticeResult | None]:
    """Open the draft's incident, through the same flow as opening one by hand."""
    now = now or utcnow()
    draft = get_draft(session=session, draft_id=draft_id, for_update=True)
    if draft.state is not DraftState.draft:
        where = f" as incident {draft.incident_id}" if draft.incident_id else ""
        raise Conflict(f"draft {draft.id} is already {draft.state.value}{where}", field="draft")
    incident, notice = flows.open_incident(
        session=session,
        title=title or draft.title,
        components={k: ComponentStatus(v) for k, v in draft.components.items()},
        started_at=min(draft.started_at, now),
        description=description,
        message=message,
        notify=True,
        now=now,
    )
    draft.state = DraftState.published
    draft.incident_id = incident.id
    draft.published_at = now
    draft.published_by = by[:200]
    draft.updated_at = now
    session.flush()
    return draft, incident, notice


def discard(
    *, session: Session, draft_id: int, reason: str, now: dt.datetime | None = None
) -> Draft:
    """Not an incident (a false alarm, an internal-only problem): never published.

    Its alerts keep updating it, silently, until they resolve."""
    now = now or utcnow()
    if not reason.strip():
        raise ValidationFailed("say why the draft is discarded", field="reason")
    draft = get_draft(session=session, draft_id=draft_id, for_update=True)
    if draft.state is not DraftState.draft:
        raise Conflict(f"draft {draft.id} is already {draft.state.value}", field="draft")
    draft.state = DraftState.discarded
    draft.discarded_at = now
    draft.discard_reason = reason.strip()
    draft.updated_at = now
    session.flush()
    return draft


def get_draft(*, session: Session, draft_id: int, for_update: bool = False) -> Draft:
    query = select(Draft).where(Draft.id == draft_id)
    if for_update:
        query = query.with_for_update()
    draft = session.scalar(query)
    if draft is None:
        raise NotFound(f"no draft {draft_id}", field="draft")
    return draft


def list_drafts(
    *, session: Session, state: DraftState | None = DraftState.draft, limit: int = 50
) -> Sequence[Draft]:
    """Newest first; by default only those still waiting for a decision."""
    query = select(Draft).order_by(Draft.updated_at.desc(), Draft.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Draft.state == state)
    return session.scalars(query).all()
