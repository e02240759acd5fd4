"""A small provider with a status page's worth of history, and the customers
whose names and addresses must never appear on it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus, IncidentStatus
from amends.statuspage import service as statuspage_service
from tests import factories

#: Personal data planted in the catalog; none of it may reach a public byte.
SECRETS = (
    "Zebulon Quixote-Farnsworth",
    "zebulon.private@secret-mail.example",
    "+34611223344",
    "zebulon-secret-shop.example",
    "cust-zq-4242",
)

OUTAGE_TITLE = "Name servers not answering"
OLD_TITLE = "Slow e-mail delivery"
POSTMORTEM = "A router table was corrupted by a faulty update.\n\nWe now stage updates."


def build_world(
    session: Session, now: dt.datetime, *, outage: bool = True, personal: bool = True
) -> dict[str, int]:
    """Components, a resolved incident with a postmortem, maintenance, and
    (when ``outage``) an open DNS outage that started two hours ago."""
    factories.hosting_catalog(session)
    if personal:
        owner = factories.customer(
            session,
            external_id=SECRETS[4],
            name=SECRETS[0],
            email=SECRETS[1],
            phone=SECRETS[2],
        )
        site = factories.site(session, owner, ["dns", "web-hosting"])
        site.domain = SECRETS[3]
    ids: dict[str, int] = {}
    old = incident_service.open_incident(
        session=session,
        title=OLD_TITLE,
        components={"email": ComponentStatus.partial_outage},
        started_at=now - dt.timedelta(days=10, hours=3),
        message="Mail is queueing.",
        now=now - dt.timedelta(days=10, hours=3),
    )
    incident_service.resolve(
        session=session,
        incident_id=old.id,
        message="Queues drained.",
        resolved_at=now - dt.timedelta(days=10),
        now=now - dt.timedelta(days=10),
    )
    statuspage_service.publish_postmortem(
        session=session, incident_id=old.id, body=POSTMORTEM, now=now - dt.timedelta(days=9)
    )
    ids["old"] = old.id
    upcoming = incident_service.schedule_maintenance(
        session=session,
        title="Database upgrade",
        components=["web-hosting"],
        starts_at=now + dt.timedelta(days=2),
        ends_at=now + dt.timedelta(days=2, hours=2),
        message="Short interruptions expected.",
        now=now - dt.timedelta(days=1),
    )
    ids["upcoming"] = upcoming.id
    if outage:
        open_ = incident_service.open_incident(
            session=session,
            title=OUTAGE_TITLE,
            components={"dns": ComponentStatus.major_outage},
            started_at=now - dt.timedelta(hours=2),
            message="We are investigating failing DNS lookups.",
            now=now - dt.timedelta(hours=2),
        )
        incident_service.post_update(
            session=session,
            incident_id=open_.id,
            status=IncidentStatus.identified,
            message="A router table is corrupt; rebuilding it.",
            at=now - dt.timedelta(hours=1),
            now=now - dt.timedelta(hours=1),
        )
        ids["outage"] = open_.id
    session.flush()
    return ids


def resolve_outage(session: Session, incident_id: int, now: dt.datetime) -> None:
    incident_service.resolve(
        session=session, incident_id=incident_id, message="DNS is answering again.", now=now
    )
