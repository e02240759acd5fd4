"""``amends demo``: the 10 September 2012 DNS outage, replayed end to end.

Builds the reference provider (scenario.py), imports its customers and sites
through the same importer a real provider uses, replays the incident as it
happened — opened, root cause identified, fix monitored, resolved — and
computes who was hit. Later capabilities (alerts, apology, credits, status
page) join the replay as they land.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from amends import impact, scenario
from amends.catalog import importer
from amends.catalog import service as catalog_service
from amends.db import session_factory, unit_of_work
from amends.impact import ImpactSummary
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus, IncidentStatus
from amends.statuspage import service as statuspage_service

T0 = scenario.OUTAGE_START
MINUTE = dt.timedelta(minutes=1)

#: The replay: (minutes after the start, status, message, component changes).
TIMELINE: tuple[tuple[int, IncidentStatus, str, dict[str, ComponentStatus]], ...] = (
    (
        75,
        IncidentStatus.identified,
        "The outage is due to a series of internal network events that corrupted "
        "router data tables. We are taking corrective actions to restore service.",
        {},
    ),
    (
        330,
        IncidentStatus.monitoring,
        "Router data tables have been rebuilt and DNS is answering again. Websites and "
        "e-mail are coming back; we are watching closely.",
        {"dns": ComponentStatus.degraded_performance},
    ),
)
OPENING = (
    "We are aware of intermittent outages affecting websites, e-mail and DNS. "
    "Our engineers are investigating."
)
POSTMORTEM = (
    "On 10 September 2012 at 17:25 UTC a series of internal network events corrupted "
    "the data tables of our core routers. Our name servers stopped answering, and every "
    "website and mailbox that depends on them became unreachable for about six hours.\n\n"
    "This was not an attack, and no customer data was accessed or lost.\n\n"
    "We rebuilt the router tables, brought DNS back at 22:55 UTC and watched websites and "
    "e-mail recover until 23:25 UTC. We now validate router table updates before they "
    "are applied, and keep DNS answering from a separate network path."
)
RESOLUTION = (
    "All services are restored. We have implemented a series of measures to prevent "
    "this from occurring again. No customer data was compromised."
)


@dataclass
class DemoResult:
    customers: int
    sites: int
    incident_id: int
    summary: ImpactSummary
    timings: dict[str, float] = field(default_factory=dict)


Step = Callable[[str], None]


def run(
    engine: Engine, *, workdir: Path, customers: int, seed: int, step: Step = lambda _: None
) -> DemoResult:
    """Build the provider, replay the outage, and return who was hit."""
    timings: dict[str, float] = {}
    sessions = session_factory(engine)

    started = time.perf_counter()
    step(f"generating {customers:,} customers and their sites (seed {seed})")
    files = scenario.write_files(workdir, customers, seed)
    timings["generate"] = time.perf_counter() - started

    started = time.perf_counter()
    step("importing the catalog")
    with unit_of_work(sessions) as session:
        for key, name, group, depends_on, description in scenario.COMPONENTS:
            catalog_service.save_component(
                session=session,
                key=key,
                name=name,
                group=group,
                description=description,
                depends_on=list(depends_on),
            )
    with unit_of_work(sessions) as session:
        importer.import_customers(session=session, path=files.customers)
    with unit_of_work(sessions) as session:
        importer.import_sites(session=session, path=files.sites)
    timings["import"] = time.perf_counter() - started

    started = time.perf_counter()
    step("replaying the outage of 10 September 2012")
    with unit_of_work(sessions) as session:
        incident_id = _replay(session)
    timings["replay"] = time.perf_counter() - started

    started = time.perf_counter()
    step("working out who was hit")
    with unit_of_work(sessions) as session:
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        summary = impact.summarize(session=session, incident=incident)
    timings["impact"] = time.perf_counter() - started
    return DemoResult(files.customer_count, files.site_count, incident_id, summary, timings)


def _replay(session: Session) -> int:
    """The incident as it unfolded; each call made at its own moment of 2012."""
    incident = incident_service.open_incident(
        session=session,
        title="Intermittent outage of websites, e-mail and DNS",
        components={"dns": ComponentStatus.major_outage},
        started_at=T0,
        description=OPENING,
        now=T0 + 5 * MINUTE,
    )
    for minutes, status, message, changes in TIMELINE:
        at = T0 + minutes * MINUTE
        incident_service.post_update(
            session=session,
            incident_id=incident.id,
            status=status,
            message=message,
            components=changes,
            at=at,
            now=at,
        )
    end = scenario.OUTAGE_END
    incident_service.resolve(
        session=session, incident_id=incident.id, message=RESOLUTION, resolved_at=end, now=end
    )
    statuspage_service.publish_postmortem(
        session=session, incident_id=incident.id, body=POSTMORTEM, now=end + 2 * 24 * 60 * MINUTE
    )
    return incident.id
