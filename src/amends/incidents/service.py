"""Operations on incidents and maintenance windows.

Every change of a component's status is written to ``component_status_changes``
with the time it happened, because impact windows (and later availability and
credits) are computed from that history, not from the incident's current state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.catalog import service as catalog_service
from amends.catalog.models import Component
from amends.db import utcnow
from amends.errors import InvalidTime, InvalidTransition, NotFound, ValidationFailed
from amends.incidents import lifecycle
from amends.incidents.models import (
    ComponentStatus,
    ComponentStatusChange,
    Impact,
    Incident,
    IncidentComponent,
    IncidentKind,
    IncidentStatus,
    IncidentUpdate,
)

NO_CHANGES: Mapping[str, ComponentStatus] = {}


def _aware(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None:
        raise InvalidTime(f"{field} has no time zone offset", field=field)
    return value.astimezone(dt.UTC)


def _not_future(value: dt.datetime, now: dt.datetime, field: str, skew: int = 300) -> None:
    if value > now + dt.timedelta(seconds=skew):
        raise InvalidTime(f"{field} {value.isoformat()} is in the future", field=field)


def _title(title: str) -> str:
    title = title.strip()
    if not title or len(title) > 300:
        raise ValidationFailed("title must be 1-300 characters", field="title")
    return title


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
    now: dt.datetime | None = None,
) -> Incident:
    """Declare an incident: what is failing, how badly, since when."""
    now = now or utcnow()
    started = _aware(started_at, "started_at") if started_at else now
    _not_future(started, now, "started_at")
    if status not in lifecycle.INCIDENT_TRANSITIONS or status is IncidentStatus.resolved:
        raise InvalidTransition(f"an incident cannot open as {status}", field="status")
    healthy = [k for k, s in components.items() if s not in lifecycle.FAILING]
    if healthy:
        raise ValidationFailed(
            f"component {healthy[0]!r} is named as operational in a new incident",
            field="components",
        )
    found = catalog_service.components_by_key(session=session, keys=components)
    incident = Incident(
        kind=IncidentKind.incident,
        title=_title(title),
        description=description,
        status=status,
        impact=impact or lifecycle.impact_from(list(components.values())),
        started_at=started,
        created_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    # The first entry happened when the incident started, like its status
    # changes: stamped ``now`` instead, a backdated incident could take no
    # update between its start and the moment it was declared.
    first = message or description or title
    update = _add_update(session, incident, status, first, started, True)
    _apply_changes(session, incident, update, found, components, at=started)
    return incident


def schedule_maintenance(
    *,
    session: Session,
    title: str,
    components: Sequence[str],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    description: str = "",
    message: str | None = None,
    now: dt.datetime | None = None,
) -> Incident:
    """Announce planned work. Components go under maintenance only when it starts."""
    now = now or utcnow()
    starts, ends = _aware(starts_at, "starts_at"), _aware(ends_at, "ends_at")
    if ends <= starts:
        raise InvalidTime("a maintenance window must end after it starts", field="ends_at")
    found = catalog_service.components_by_key(session=session, keys=components)
    incident = Incident(
        kind=IncidentKind.maintenance,
        title=_title(title),
        description=description,
        status=IncidentStatus.scheduled,
        impact=Impact.maintenance,
        started_at=starts,
        scheduled_for=starts,
        scheduled_until=ends,
        created_at=now,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    for component in found.values():
        session.add(
            IncidentComponent(
                incident=incident, component=component, status=ComponentStatus.operational
            )
        )
    _add_update(session, incident, IncidentStatus.scheduled, message or description or title, now)
    session.flush()
    return incident


def post_update(
    *,
    session: Session,
    incident_id: int,
    status: IncidentStatus,
    message: str,
    components: Mapping[str, ComponentStatus] = NO_CHANGES,
    at: dt.datetime | None = None,
    customer_facing: bool = True,
    now: dt.datetime | None = None,
) -> IncidentUpdate:
    """Tell the world what changed. A closing status closes the incident too."""
    now = now or utcnow()
    incident = get_incident(session=session, incident_id=incident_id, for_update=True)
    when = _aware(at, "at") if at else now
    _check_update_time(incident, when, now)
    if not lifecycle.may_follow(incident.kind, incident.status, status):
        raise InvalidTransition(
            f"incident {incident.id} is {incident.status}; it cannot become {status}",
            field="status",
        )
    if not message.strip():
        raise ValidationFailed("an update needs a message", field="message")
    found = catalog_service.components_by_key(session=session, keys=components)
    changes = dict(components)
    if incident.kind is IncidentKind.maintenance and status is IncidentStatus.in_progress:
        if incident.status is IncidentStatus.scheduled:
            incident.started_at = when
        for link in incident.components:
            changes.setdefault(link.component.key, ComponentStatus.under_maintenance)
            found.setdefault(link.component.key, link.component)
    if status in lifecycle.CLOSING:
        incident.resolved_at = when
        for link in incident.components:
            changes[link.component.key] = ComponentStatus.operational
            found.setdefault(link.component.key, link.component)
    incident.status = status
    incident.updated_at = now
    update = _add_update(session, incident, status, message, when, customer_facing)
    _apply_changes(session, incident, update, found, changes, at=when)
    if incident.kind is IncidentKind.incident and status not in lifecycle.CLOSING:
        failing = [link.status for link in incident.components]
        incident.impact = max(
            incident.impact, lifecycle.impact_from(failing), key=_IMPACT_ORDER.index
        )
    session.flush()
    return update


_IMPACT_ORDER = [Impact.none, Impact.maintenance, Impact.minor, Impact.major, Impact.critical]


def resolve(
    *,
    session: Session,
    incident_id: int,
    message: str,
    resolved_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Incident:
    """Close an incident (or complete a maintenance): every component back to operational."""
    incident = get_incident(session=session, incident_id=incident_id)
    closing = (
        IncidentStatus.resolved
        if incident.kind is IncidentKind.incident
        else IncidentStatus.completed
    )
    try:
        post_update(
            session=session,
            incident_id=incident_id,
            status=closing,
            message=message,
            at=resolved_at,
            now=now,
        )
    except InvalidTime as exc:
        # The caller gave ``resolved_at``; name that, not post_update's ``at``.
        if exc.field == "at":
            exc.field = "resolved_at"
        raise
    return incident


def _check_update_time(incident: Incident, when: dt.datetime, now: dt.datetime) -> None:
    _not_future(when, now, "at")
    if incident.kind is IncidentKind.incident and when < incident.started_at:
        raise InvalidTime(
            f"{when.isoformat()} is before the incident started "
            f"({incident.started_at.isoformat()})",
            field="at",
        )
    if incident.updates and when < incident.updates[-1].at:
        raise InvalidTime(
            f"{when.isoformat()} is before the previous update "
            f"({incident.updates[-1].at.isoformat()})",
            field="at",
        )


def _add_update(
    session: Session,
    incident: Incident,
    status: IncidentStatus,
    message: str,
    at: dt.datetime,
    customer_facing: bool = True,
) -> IncidentUpdate:
    update = IncidentUpdate(
        incident=incident,
        status=status,
        message=message.strip(),
        customer_facing=customer_facing,
        at=at,
    )
    session.add(update)
    session.flush()
    return update


def _apply_changes(
    session: Session,
    incident: Incident,
    update: IncidentUpdate,
    found: Mapping[str, Component],
    changes: Mapping[str, ComponentStatus],
    *,
    at: dt.datetime,
) -> None:
    """Set each component's status in the incident and record the change."""
    links = {link.component_id: link for link in incident.components}
    for key, status in changes.items():
        component = found[key]
        component_id = component.id
        link = links.get(component_id)
        if link is None:
            link = IncidentComponent(incident=incident, component_id=component_id, status=status)
            session.add(link)
        elif link.status == status:
            continue
        link.status = status
        session.add(
            ComponentStatusChange(
                incident_id=incident.id,
                update_id=update.id,
                component_id=component_id,
                status=status,
                at=at,
            )
        )
    session.flush()


def get_incident(*, session: Session, incident_id: int, for_update: bool = False) -> Incident:
    query = select(Incident).where(Incident.id == incident_id)
    if for_update:
        query = query.with_for_update()
    incident = session.scalar(query)
    if incident is None:
        raise NotFound(f"no incident {incident_id}", field="incident")
    return incident


def list_incidents(
    *,
    session: Session,
    kind: IncidentKind | None = None,
    open_only: bool = False,
    limit: int = 50,
) -> Sequence[Incident]:
    query = select(Incident).order_by(Incident.started_at.desc(), Incident.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(Incident.kind == kind)
    if open_only:
        query = query.where(Incident.resolved_at.is_(None))
    return session.scalars(query).all()


def status_changes(*, session: Session, incident_id: int) -> Sequence[ComponentStatusChange]:
    """The incident's component-status history, oldest first."""
    return session.scalars(
        select(ComponentStatusChange)
        .where(ComponentStatusChange.incident_id == incident_id)
        .order_by(ComponentStatusChange.at, ComponentStatusChange.id)
    ).all()


def component_statuses(*, session: Session) -> dict[str, ComponentStatus]:
    """Every component's status now: the worst across open incidents."""
    statuses = {
        c.key: ComponentStatus.operational for c in catalog_service.list_components(session=session)
    }
    rows = session.execute(
        select(Component.key, IncidentComponent.status)
        .join(Incident, Incident.id == IncidentComponent.incident_id)
        .join(Component, Component.id == IncidentComponent.component_id)
        .where(Incident.resolved_at.is_(None))
    ).all()
    for key, status in rows:
        statuses[key] = lifecycle.worst([statuses[key], status])
    return statuses
