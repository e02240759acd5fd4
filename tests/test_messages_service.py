"""From the database to a composed, audited message: facts, a customer and their sites."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from amends.cli import app as cli
from amends.db import make_engine, session_factory, unit_of_work
from amends.facts import service as facts_service
from amends.facts.kinds import CauseOwner, Exposure
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus
from amends.messages import service
from amends.messages.audit import Verdict
from tests import factories

T0 = factories.T0


def _scenario(session: Session) -> tuple[int, str]:
    factories.hosting_catalog(session)
    lucia = factories.customer(session, name="Lucía Núñez", locale="es", timezone="Europe/Madrid")
    other = factories.customer(session, name="Other")
    for _ in range(5):
        factories.site(session, lucia, ["web-hosting"])
    factories.site(session, lucia, ["domains"])  # not hit: no DNS dependency
    factories.site(session, other, ["email"])
    incident = incident_service.open_incident(
        session=session,
        title="Caída del DNS",
        components={"dns": ComponentStatus.major_outage},
        started_at=T0,
        now=T0 + dt.timedelta(minutes=1),
    )
    incident_service.resolve(
        session=session,
        incident_id=incident.id,
        message="Resuelto",
        resolved_at=T0 + dt.timedelta(hours=6),
        now=T0 + dt.timedelta(hours=6, minutes=1),
    )
    facts_service.record_facts(
        session=session,
        incident_id=incident.id,
        what_failed="nuestro DNS",
        customer_effect="sus sitios web no cargaban",
        root_cause="unos eventos de nuestra red interna corrompieron las tablas de los routers",
        cause_owner=CauseOwner.internal,
        actions_planned=["validar cada cambio en los routers"],
    )
    facts_service.assess_exposure(
        session=session, incident_id=incident.id, exposure=Exposure.none, signed_off_by="Ana"
    )
    session.commit()
    return incident.id, lucia.external_id


def test_compose_for_a_customer_from_the_database(session: Session) -> None:
    incident_id, lucia = _scenario(session)
    facts = service.notice_facts(session=session, incident_id=incident_id, company="GoDaddy")
    assert facts.exposure_signed_off_by == "Ana" and facts.resolved_at == T0 + dt.timedelta(hours=6)
    message, report = service.compose_for_customer(
        session=session,
        kind="apology",
        incident_id=incident_id,
        customer_external_id=lucia,
        channel="email",
        facts=facts,
    )
    assert message.locale == "es"
    assert "afectó a sus sitios" in message.text and "y 2 más" in message.text
    assert "a las 19:25 (CEST)" in message.text  # Madrid time
    assert "Ningún dato de clientes se vio comprometido" in message.text
    assert not report.blocked
    assert report.finding("A2").verdict is Verdict.warn  # no credit given yet


def test_cli_compose(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            incident_id, lucia = _scenario(session)
    finally:
        engine.dispose()
    result = CliRunner().invoke(
        cli,
        ["compose", "apology", str(incident_id), lucia, "--company", "GoDaddy", "--json"],
        env={"AMENDS_DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["subject"].startswith("Le pedimos disculpas")
    assert data["audit"]["blocked"] is False
    # as it will be sent: with her own rating links (and the auditor still passes it)
    assert "¿Cómo hemos gestionado esta incidencia?" in data["text"]
    assert data["text"].count("/rate/") == 5 and data["html"].count("/rate/") == 5
    sms = CliRunner().invoke(
        cli,
        [
            "compose",
            "first_notice",
            str(incident_id),
            lucia,
            "--channel",
            "sms",
            "--locale",
            "en",
            "--status-url",
            "https://status.example",
        ],
        env={"AMENDS_DATABASE_URL": database_url},
    )
    assert sms.exit_code == 0, sms.output
    assert "https://status.example" in sms.output and "nothing blocks" in sms.output
