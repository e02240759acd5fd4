"""``amends demo``: the 10 September 2012 DNS outage, replayed end to end.

Builds the reference provider (scenario.py), imports its customers and sites
through the same importer a real provider uses, replays the incident as it
happened — opened, root cause identified, fix monitored, resolved — and
computes who was hit. Later capabilities (alerts, apology, credits, status
page) join the replay as they land.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from amends import flows, scenario
from amends.availability import service as availability
from amends.catalog import importer
from amends.catalog import service as catalog_service
from amends.credits import issuance, policies, redemption
from amends.credits import service as ledger
from amends.credits.models import Credit
from amends.db import session_factory, unit_of_work
from amends.delivery import ledger as delivery_ledger
from amends.delivery.dispatch import Dispatcher
from amends.delivery.ledger import DeliveryCounts
from amends.facts import service as facts_service
from amends.facts.kinds import CauseOwner, Exposure
from amends.impact import summary as impact_summary
from amends.impact.summary import ImpactSummary
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus, IncidentStatus
from amends.messages.audit.report import Report
from amends.statuspage import service as statuspage_service

T0 = scenario.OUTAGE_START
#: The CEO's e-mail went out on Wednesday 12 September 2012: credits are issued then.
COMPANY = "Hostia"  # the synthetic provider; notices are signed with its name
APOLOGY_AT = dt.datetime(2012, 9, 12, 16, 0, tzinfo=dt.UTC)
#: The synthetic provider has run DNS since 2003, so its track record can be measured.
IN_SERVICE_SINCE = dt.datetime(2003, 1, 1, tzinfo=dt.UTC)
#: GoDaddy's offer as written ("click the button below to redeem"), with a 30-day
#: window: the demo shows the whole link path (apology → page → one redemption).
#: A real installation's default is automatic application (research rule C4).
POLICY = "godaddy-2012-click"
PUBLIC_URL = "http://127.0.0.1:8000"
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
    credits: dict[str, object] = field(default_factory=dict)
    track_record: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    deliveries: DeliveryCounts | None = None
    audits: dict[str, Report] = field(default_factory=dict)
    sample_link: str | None = None  # one customer's redemption link, as their apology has it


Step = Callable[[str], None]


def run(
    engine: Engine,
    *,
    workdir: Path,
    customers: int,
    seed: int,
    step: Step = lambda _: None,
    dispatcher: Dispatcher | None = None,
) -> DemoResult:
    """Build the provider, replay the outage owing its notices, send them
    (when given a dispatcher), and return who was hit and what was sent."""
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
                created_at=IN_SERVICE_SINCE,
            )
    with unit_of_work(sessions) as session:
        importer.import_customers(session=session, path=files.customers)
    with unit_of_work(sessions) as session:
        importer.import_sites(session=session, path=files.sites)
    timings["import"] = time.perf_counter() - started

    started = time.perf_counter()
    step("replaying the outage of 10 September 2012, owing a notice at each step")
    with unit_of_work(sessions) as session:
        incident_id = _replay(session, notify=True)
    timings["replay"] = time.perf_counter() - started

    if dispatcher is not None:
        started = time.perf_counter()
        step("sending the first notice, the updates and the resolution")
        asyncio.run(_send(dispatcher))
        timings["send"] = time.perf_counter() - started

    started = time.perf_counter()
    step("working out who was hit")
    with unit_of_work(sessions) as session:
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        summary = impact_summary.summarize(session=session, incident=incident)
    timings["impact"] = time.perf_counter() - started

    started = time.perf_counter()
    step("issuing the credits: 1 month per active/published site (GoDaddy's own offer)")
    with unit_of_work(sessions) as session:
        credits, record = issue_credits(session, incident_id)
    timings["credits"] = time.perf_counter() - started

    started = time.perf_counter()
    step("apologising: the seven steps, each customer's sites and credit, audited first")
    with unit_of_work(sessions) as session:
        audits = apologise(session, incident_id)
    if dispatcher is not None:
        asyncio.run(_send(dispatcher))
    timings["apology"] = time.perf_counter() - started
    with unit_of_work(sessions) as session:
        deliveries = delivery_ledger.counts(session=session, incident_id=incident_id)
        link = sample_link(session, incident_id)
    return DemoResult(
        files.customer_count,
        files.site_count,
        incident_id,
        summary,
        credits,
        record,
        timings,
        deliveries,
        audits,
        link,
    )


def sample_link(session: Session, incident_id: int) -> str | None:
    """The first credited customer's link: the URL their apology carries."""
    first = session.scalar(
        select(Credit.customer_id)
        .where(Credit.incident_id == incident_id)
        .order_by(Credit.customer_id)
        .limit(1)
    )
    if first is None:
        return None
    summary = redemption.credit_summary(
        session=session, customer_id=first, incident_id=incident_id, base_url=PUBLIC_URL
    )
    return summary.redeem_url if summary else None


def apologise(session: Session, incident_id: int) -> dict[str, Report]:
    """The facts the 2012 e-mail rested on, then the apology it became: the
    auditor reads one real customer's message per language before any goes."""
    facts_service.record_facts(
        session=session,
        incident_id=incident_id,
        what_failed="our DNS servers, and with them websites and e-mail hosted with us",
        customer_effect="your websites and e-mail were unreachable for up to six hours",
        root_cause="a series of internal network events corrupted the data tables of our routers",
        cause_owner=CauseOwner.internal,
        actions_taken=["we corrected the router data tables and restored every service"],
        actions_planned=["add safeguards so that this cannot happen again"],
        signatory="Marta Ruiz, CEO",
        now=APOLOGY_AT,
    )
    facts_service.record_facts(
        session=session,
        incident_id=incident_id,
        lang="es",
        what_failed="nuestros servidores DNS y, con ellos, los sitios web y el correo alojados "
        "con nosotros",
        customer_effect="sus sitios web y su correo no respondieron durante hasta seis horas",
        root_cause="una serie de fallos internos de nuestra red corrompió las tablas de datos "
        "de nuestros routers",
        actions_taken=["corregimos las tablas de los routers y restablecimos todos los servicios"],
        actions_planned=["añadir salvaguardas para que esto no vuelva a ocurrir"],
        signatory="Marta Ruiz, consejera delegada",
        now=APOLOGY_AT,
    )
    facts_service.assess_exposure(
        session=session,
        incident_id=incident_id,
        exposure=Exposure.none,
        signed_off_by="Marta Ruiz (CEO)",
        now=APOLOGY_AT,
    )
    _, reports = flows.apologise(
        session=session,
        incident_id=incident_id,
        company=COMPANY,
        public_url=PUBLIC_URL,
        now=APOLOGY_AT,
    )
    return reports


def issue_credits(session: Session, incident_id: int) -> tuple[dict[str, object], str | None]:
    """The 2012 offer (redeemed by a click, as GoDaddy wrote it, within 30 days of being
    available), and the DNS track record the apology may truthfully quote."""
    row = policies.choose(session=session, name=POLICY)
    incident = incident_service.get_incident(session=session, incident_id=incident_id)
    issuance.issue(
        session=session, incident=incident, policy_row=row, policy=policies.load(row),
        actor="demo", now=APOLOGY_AT,
    )  # fmt: skip
    record = availability.track_record(
        session=session, component="dns", locale="en", now=APOLOGY_AT
    )
    return ledger.report(session=session, incident_id=incident_id), (
        record.sentence if record else None
    )


async def _send(dispatcher: Dispatcher) -> None:
    try:
        await dispatcher.drain()
    finally:
        await dispatcher.close()


def _replay(session: Session, *, notify: bool = False) -> int:
    """The incident as it unfolded; each call made at its own moment of 2012.

    ``notify``: owe the notices as an operator would (first, each update,
    resolution); benchmarks replay without them."""
    incident, _ = flows.open_incident(
        session=session,
        title="Intermittent outage of websites, e-mail and DNS",
        components={"dns": ComponentStatus.major_outage},
        started_at=T0,
        description=OPENING,
        notify=notify,
        now=T0 + 5 * MINUTE,
    )
    for minutes, status, message, changes in TIMELINE:
        at = T0 + minutes * MINUTE
        if notify:
            flows.post_update(
                session=session,
                incident_id=incident.id,
                status=status,
                message=message,
                components=changes,
                at=at,
                now=at,
            )
        else:
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
    flows.resolve(
        session=session,
        incident_id=incident.id,
        message=RESOLUTION,
        resolved_at=end,
        notify=notify,
        now=end,
    )
    statuspage_service.publish_postmortem(
        session=session, incident_id=incident.id, body=POSTMORTEM, now=end + 2 * 24 * 60 * MINUTE
    )
    return incident.id
