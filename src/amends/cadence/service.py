"""What each incident owes its customers, judged from what the ledger says was told.

``incidents.cadence`` holds the pure rules over times; this module feeds them
the delivery ledger's notices, which ``incidents`` cannot see (it sits below
``delivery``). A notice counts from its first message a provider accepted
(``notices.first_sent_at``, stamped by the dispatcher, so no scan of a
notice's millions of rows is needed at a scrape); until one is, from the
moment it was issued (its rows were committed with it and go out from there;
a notice with nobody to reach never sends anything).

``cadence_record(session=…, incident_id=…)`` is the after-action figure other
code (the incident report) calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, lazyload

from amends.db import UTCDateTime, utcnow
from amends.delivery.models import Notice as LedgerNotice
from amends.delivery.models import NoticeKind
from amends.incidents import cadence
from amends.incidents import service as incident_service
from amends.incidents.cadence import CadencePolicy, CadenceRecord, Due
from amends.incidents.cadence_policy import policies_of
from amends.incidents.models import Incident, IncidentKind

#: Ledger notice kinds as the cadence counts them (a breach notice is the apology
#: of an incident that exposed data; maintenance notices are not incident news).
COUNTED = {
    NoticeKind.first: cadence.Notice.first_notice,
    NoticeKind.update: cadence.Notice.update,
    NoticeKind.resolution: cadence.Notice.resolution,
    NoticeKind.apology: cadence.Notice.apology,
    NoticeKind.breach: cadence.Notice.apology,
}

#: A resolved incident stays watched this long for its apology (the longest policy allowed).
APOLOGY_WATCH = cadence.LONGEST["apology_within"]


@dataclass(frozen=True)
class Standing:
    """One incident's cadence now: its policy, what it owes, how it was kept so far."""

    incident: Incident
    policy: CadencePolicy
    sent: list[tuple[cadence.Notice, dt.datetime]]
    due: list[Due]
    record: CadenceRecord
    now: dt.datetime


def sent_from_ledger(
    *, session: Session, incident_ids: Sequence[int]
) -> dict[int, list[tuple[cadence.Notice, dt.datetime]]]:
    """Each incident's notices, oldest first, in the cadence's words. One query.

    An incident opened without a first notice whose customers were first told
    by an update notice: that update is its first notice.
    """
    found: dict[int, list[tuple[cadence.Notice, dt.datetime]]] = {i: [] for i in incident_ids}
    told = func.coalesce(LedgerNotice.first_sent_at, LedgerNotice.created_at, type_=UTCDateTime)
    rows = session.execute(
        select(LedgerNotice.incident_id, LedgerNotice.kind, told)
        .where(LedgerNotice.incident_id.in_(list(incident_ids)))
        .order_by(told, LedgerNotice.id)
    )
    for incident_id, kind, at in rows:
        counted = COUNTED.get(NoticeKind(kind))
        if counted is not None:
            found[incident_id].append((counted, at))
    for sent in found.values():
        kinds = {n for n, _ in sent}
        if cadence.Notice.first_notice not in kinds:
            first = next((i for i, (n, _) in enumerate(sent) if n is cadence.Notice.update), None)
            if first is not None:
                sent[first] = (cadence.Notice.first_notice, sent[first][1])
    return found


def _standing(
    incident: Incident,
    policy: CadencePolicy,
    sent: list[tuple[cadence.Notice, dt.datetime]],
    now: dt.datetime,
) -> Standing:
    times = {"opened_at": incident.started_at, "resolved_at": incident.resolved_at}
    return Standing(
        incident=incident,
        policy=policy,
        sent=sent,
        due=cadence.what_is_due(**times, sent=sent, now=now, policy=policy),
        record=cadence.record(**times, sent=sent, now=now),
        now=now,
    )


def standing(
    *, session: Session, incident_id: int, now: dt.datetime | None = None
) -> Standing | None:
    """One incident's cadence (``None`` for a maintenance window, which has none)."""
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    if incident.kind is not IncidentKind.incident:
        return None
    return standings(session=session, incidents=[incident], now=now)[0]


def standings(
    *, session: Session, incidents: Sequence[Incident], now: dt.datetime | None = None
) -> list[Standing]:
    """Several incidents' cadence: three queries whatever their number."""
    now = now or utcnow()
    ids = [i.id for i in incidents]
    policies = policies_of(session=session, incident_ids=ids)
    sent = sent_from_ledger(session=session, incident_ids=ids)
    return [_standing(i, policies[i.id], sent[i.id], now) for i in incidents]


def watched(*, session: Session, now: dt.datetime | None = None) -> list[Standing]:
    """Incidents that may owe something: open ones, and those resolved within
    :data:`APOLOGY_WATCH` that have no apology yet. Cheap enough for a scrape."""
    now = now or utcnow()
    apologised = exists().where(
        LedgerNotice.incident_id == Incident.id,
        LedgerNotice.kind.in_([NoticeKind.apology, NoticeKind.breach]),
    )
    incidents = session.scalars(
        select(Incident)
        .where(
            Incident.kind == IncidentKind.incident,
            or_(
                Incident.resolved_at.is_(None),
                and_(Incident.resolved_at >= now - APOLOGY_WATCH, ~apologised),
            ),
        )
        .order_by(Incident.id)
        .options(lazyload("*"))  # columns only: no timelines loaded at every scrape
    ).all()
    return standings(session=session, incidents=incidents, now=now)


def cadence_record(
    *, session: Session, incident_id: int, now: dt.datetime | None = None
) -> CadenceRecord:
    """Time to first notice, longest gap between updates, time to apology, from
    the ledger. For the after-action report; an open incident's gap runs to now."""
    found = standing(session=session, incident_id=incident_id, now=now)
    if found is None:
        return CadenceRecord(None, None, None)
    return found.record
