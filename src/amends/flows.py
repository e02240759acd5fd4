"""The incident lifecycle with its notices: what happens when an operator acts.

Opening an incident owes the affected customers a first notice; an update the
operator marks customer-facing owes an update notice; resolving owes a
resolution notice. The notice and its ledger rows are written in the same
transaction as the incident change (the transactional outbox), so either both
exist or neither does; dispatch only ever reads the ledger afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.delivery import service as delivery_service
from amends.delivery.models import NoticeKind
from amends.delivery.service import NoticeResult
from amends.incidents import lifecycle
from amends.incidents import service as incident_service
from amends.incidents.models import (
    ComponentStatus,
    Impact,
    Incident,
    IncidentStatus,
    IncidentUpdate,
)


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
    now: dt.datetime | None = None,
) -> tuple[Incident, NoticeResult | None]:
    """Declare an incident and owe its first notice ("we know, we are on it")."""
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
    if not notify:
        return incident, None
    result = delivery_service.issue_notice(
        session=session, incident_id=incident.id, kind=NoticeKind.first, now=now
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
