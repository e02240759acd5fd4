"""The holding update: when an update is overdue, amends says so itself.

An incident that opted in (``--auto-holding-update``) and has let its update
deadline pass gets a customer-facing update through the normal update flow
(``flows.post_update``), so its notice goes out through the ledger like any
other: "We are still working on it. Our next update will come by …", worded
in each customer's language and time zone when it is rendered.

Run by ``amends serve``'s inline worker, by a periodic job in ``amends
worker``, and by ``amends cadence --send-holding-updates`` (cron). Any number
of them may run at once: each locks the incident row, judges what is owed,
and claims the deadline with one conditional UPDATE of the incident's policy
row (``holding_for < deadline``) before anything is posted, so the first claim
wins and the others change nothing; the unique ``(incident, due_at)`` of
``holding_updates`` backs it up.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from amends import flows
from amends.cadence import service as cadence_service
from amends.db import unit_of_work, utcnow
from amends.delivery.models import Notice as LedgerNotice
from amends.incidents import cadence
from amends.incidents import service as incident_service
from amends.incidents.models import HoldingUpdate, Incident, IncidentCadence, IncidentKind
from amends.messages.variants import holding_text

log = logging.getLogger(__name__)


def candidates(*, session: Session) -> list[int]:
    """Open incidents that opted in: the only ones a holding update may touch.

    Not while an operator has paused any of the incident's notices
    (delivery/pausing.py): they stopped the sending on purpose, and an
    automatic message would go out around their pause."""
    paused = exists().where(
        LedgerNotice.incident_id == Incident.id, LedgerNotice.paused_at.is_not(None)
    )
    return list(
        session.scalars(
            select(Incident.id)
            .join(IncidentCadence, IncidentCadence.incident_id == Incident.id)
            .where(
                IncidentCadence.auto_holding_update.is_(True),
                Incident.resolved_at.is_(None),
                Incident.kind == IncidentKind.incident,
                ~paused,
            )
            .order_by(Incident.id)
        )
    )


def post_if_overdue(
    *, session: Session, incident_id: int, now: dt.datetime | None = None
) -> HoldingUpdate | None:
    """Post one holding update if this incident's update is overdue and no one
    has answered that deadline yet; ``None`` when nothing was owed or another
    worker got there first. Flushes; the caller commits."""
    now = now or utcnow()
    # The incident row first, as every update does: one lock order, no deadlock
    # with an operator posting or changing the policy meanwhile.
    incident_service.get_incident(session=session, incident_id=incident_id, for_update=True)
    found = cadence_service.standing(session=session, incident_id=incident_id, now=now)
    if found is None or not found.policy.auto_holding_update or found.incident.resolved_at:
        return None
    late = [d for d in found.due if d.notice is cadence.Notice.update and d.overdue]
    if not late:  # the first notice is a person's to write; holding only follows it
        return None
    due_at = late[0].due_at
    row = IncidentCadence.__table__
    claimed = session.execute(
        update(row)
        .where(
            row.c.incident_id == incident_id,
            row.c.auto_holding_update.is_(True),
            or_(row.c.holding_for.is_(None), row.c.holding_for < due_at),
        )
        .values(holding_for=due_at)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    next_at = now + found.policy.update_every
    posted, _ = flows.post_update(
        session=session,
        incident_id=incident_id,
        status=found.incident.status,
        message=holding_text("en", next_at.strftime("%H:%M UTC")),
        now=now,
    )
    held = HoldingUpdate(
        update_id=posted.id, incident_id=incident_id, due_at=due_at, next_update_at=next_at
    )
    session.add(held)
    session.flush()
    return held


def post_overdue(*, sessions: sessionmaker[Session], now: dt.datetime | None = None) -> list[int]:
    """Every opted-in incident's overdue holding update, each in its own
    transaction (one failing does not hold back the others). Returns the
    incidents that got one."""
    with unit_of_work(sessions) as session:
        ids = candidates(session=session)
    posted = []
    for incident_id in ids:
        try:
            with unit_of_work(sessions) as session:
                if post_if_overdue(session=session, incident_id=incident_id, now=now):
                    posted.append(incident_id)
        except Exception:
            log.exception("holding update for incident %s failed", incident_id)
    return posted
