"""Shared set-up for credit tests: the 2012 catalog, a few sites, a six-hour DNS outage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from amends.catalog import service as catalog_service
from amends.catalog.models import Customer, Site, SiteState
from amends.credits import issuance, policies
from amends.credits.issuance import Issued
from amends.incidents import service as incidents
from amends.incidents.models import ComponentStatus, Incident
from tests import factories

T0 = factories.T0  # 2012-09-10 17:25 UTC
END = T0 + dt.timedelta(hours=6)
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
ISSUED = dt.datetime(2012, 9, 12, 12, tzinfo=dt.UTC)


@dataclass
class World:
    incident: Incident
    ana: Customer
    bob: Customer
    ana_web: Site
    ana_mail: Site
    bob_web: Site
    bob_suspended: Site
    bob_domains: Site


def world(session: Session) -> World:
    factories.hosting_catalog(session)
    for key in ("dns", "domains", "web-hosting", "email", "website-builder"):
        catalog_service.save_component(session=session, key=key, created_at=LONG_AGO)
    ana = factories.customer(session, locale="es", name="Ana")
    bob = factories.customer(session, locale="en", name="Bob", tier="premium")
    ana_web = factories.site(session, ana, ["web-hosting"], price=999)
    ana_mail = factories.site(session, ana, ["email"], state=SiteState.published, price=1200)
    bob_web = factories.site(session, bob, ["web-hosting", "dns"], price=2500)
    bob_suspended = factories.site(session, bob, ["web-hosting"], state=SiteState.suspended)
    bob_domains = factories.site(session, bob, ["domains"], price=500)
    incident = dns_outage(session, T0, END)
    session.commit()
    return World(incident, ana, bob, ana_web, ana_mail, bob_web, bob_suspended, bob_domains)


def dns_outage(session: Session, start: dt.datetime, end: dt.datetime) -> Incident:
    incident = incidents.open_incident(
        session=session,
        title="DNS",
        components={"dns": ComponentStatus.major_outage},
        started_at=start,
        now=start,
    )
    incidents.resolve(
        session=session, incident_id=incident.id, message="ok", resolved_at=end, now=end
    )
    return incident


def issue(session: Session, incident: Incident, document: str, now: dt.datetime = ISSUED) -> Issued:
    row = policies.save(session=session, document=document)
    return issuance.issue(
        session=session, incident=incident, policy_row=row, policy=policies.load(row), now=now
    )
