"""Each incident's own cadence policy, stored with it.

An incident without a row keeps the defaults (15 min / 30 min / 48 h): every
incident opened before policies were stored, and any opened without options.
Set at open, changed later; the values are checked by
:class:`~amends.incidents.cadence.CadencePolicy` before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.db import utcnow
from amends.errors import ValidationFailed
from amends.incidents import service as incident_service
from amends.incidents.cadence import CadencePolicy
from amends.incidents.models import IncidentCadence, IncidentKind


def _policy(row: IncidentCadence | None) -> CadencePolicy:
    if row is None:
        return CadencePolicy()
    return CadencePolicy.of(
        first_notice_minutes=row.first_notice_minutes,
        update_minutes=row.update_minutes,
        apology_hours=row.apology_hours,
        auto_holding_update=row.auto_holding_update,
    )


def policy_of(*, session: Session, incident_id: int) -> CadencePolicy:
    """The incident's policy (the defaults if it never set one)."""
    return _policy(session.get(IncidentCadence, incident_id))


def policies_of(*, session: Session, incident_ids: Iterable[int]) -> dict[int, CadencePolicy]:
    """Policies of many incidents in one query; defaults for those without a row."""
    ids = list(incident_ids)
    rows = {
        row.incident_id: row
        for row in session.scalars(
            select(IncidentCadence).where(IncidentCadence.incident_id.in_(ids))
        )
    }
    return {i: _policy(rows.get(i)) for i in ids}


def set_policy(
    *,
    session: Session,
    incident_id: int,
    first_notice_minutes: int | None = None,
    update_minutes: int | None = None,
    apology_hours: int | None = None,
    auto_holding_update: bool | None = None,
    now: dt.datetime | None = None,
) -> CadencePolicy:
    """Change what is given, keep the rest; refuse the whole change if any value is bad."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    if incident.kind is not IncidentKind.incident:
        raise ValidationFailed(
            "a cadence policy is for incidents; maintenance is announced on its own schedule",
            field="incident",
        )
    row = session.get(IncidentCadence, incident_id)
    current = row or IncidentCadence(
        first_notice_minutes=15, update_minutes=30, apology_hours=48, auto_holding_update=False
    )
    values = {
        "first_notice_minutes": _pick(first_notice_minutes, current.first_notice_minutes),
        "update_minutes": _pick(update_minutes, current.update_minutes),
        "apology_hours": _pick(apology_hours, current.apology_hours),
        "auto_holding_update": _pick(auto_holding_update, current.auto_holding_update),
    }
    policy = CadencePolicy.of(**values)  # type: ignore[arg-type]
    if row is None:
        row = IncidentCadence(incident_id=incident_id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    # The status page promises "next update by" from the policy: its caches
    # notice changes through the incident's updated_at.
    row.updated_at = incident.updated_at = now or utcnow()
    session.flush()
    return policy


def _pick(given: object, current: object) -> object:
    return current if given is None else given
