"""Incident facts and the data-exposure assessment: service, CLI, API, both databases."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.cli import app as cli
from amends.config import Settings
from amends.db import make_engine, session_factory, unit_of_work
from amends.errors import NotFound, ValidationFailed
from amends.facts import service
from amends.facts.kinds import CauseOwner, DataKind, Exposure
from amends.facts.models import IncidentFacts
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus
from amends.messages.audit import Verdict, audit, gate
from tests import factories
from tests.api_support import API, error_of, in_process, issue_key

T0 = factories.T0


def _incident(session: Session) -> int:
    factories.hosting_catalog(session)
    incident = incident_service.open_incident(
        session=session,
        title="DNS down",
        components={"dns": ComponentStatus.major_outage},
        started_at=T0,
    )
    return incident.id


def test_facts_are_recorded_piecewise(session: Session) -> None:
    incident_id = _incident(session)
    blank = service.get_facts(session=session, incident_id=incident_id)
    assert blank.exposure is Exposure.under_investigation and blank.actions_taken == []
    service.record_facts(
        session=session,
        incident_id=incident_id,
        what_failed="DNS",
        customer_effect="Sites and e-mail unreachable",
        root_cause="Corrupted router tables after an internal network event",
        cause_owner=CauseOwner.internal,
        actions_taken=["Restored the router tables"],
        actions_planned=["Validate router table changes before they are applied"],
    )
    service.record_facts(session=session, incident_id=incident_id, contact_point="dpo@example.com")
    session.commit()
    session.expire_all()
    facts = service.get_facts(session=session, incident_id=incident_id)
    assert facts.what_failed == "DNS" and facts.contact_point == "dpo@example.com"
    assert facts.actions_planned == ["Validate router table changes before they are applied"]
    assert facts.cause_owner is CauseOwner.internal
    with pytest.raises(ValidationFailed) as empty:
        service.record_facts(session=session, incident_id=incident_id, actions_taken=[" "])
    assert empty.value.field == "actions_taken"
    with pytest.raises(NotFound):
        service.record_facts(session=session, incident_id=9999, what_failed="x")


def test_exposure_none_needs_a_named_sign_off(session: Session) -> None:
    incident_id = _incident(session)
    with pytest.raises(ValidationFailed) as unsigned:
        service.assess_exposure(session=session, incident_id=incident_id, exposure=Exposure.none)
    assert unsigned.value.field == "signed_off_by"
    at = dt.datetime(2012, 9, 11, 9, tzinfo=dt.UTC)
    facts = service.assess_exposure(
        session=session,
        incident_id=incident_id,
        exposure=Exposure.none,
        signed_off_by="Ana Pérez, CISO",
        now=at,
    )
    assert (facts.exposure_signed_off_by, facts.exposure_signed_off_at) == ("Ana Pérez, CISO", at)
    assert gate.audit_facts(facts).exposure_signed_off
    # a later change drops the sign-off: a stale "none" can never be quoted
    facts = service.assess_exposure(
        session=session,
        incident_id=incident_id,
        exposure=Exposure.confirmed,
        data_kinds=[DataKind.passwords, DataKind.passwords, DataKind.api_keys],
    )
    assert facts.exposed_data == ["api_keys", "passwords"]
    assert facts.exposure_signed_off_by is None and not gate.audit_facts(facts).exposure_signed_off
    for bad, field in (
        ({"exposure": Exposure.confirmed}, "data_kinds"),
        (
            {"exposure": Exposure.under_investigation, "data_kinds": [DataKind.passwords]},
            "data_kinds",
        ),
        (
            {
                "exposure": Exposure.confirmed,
                "data_kinds": [DataKind.passwords],
                "signed_off_by": "X",
            },
            "signed_off_by",
        ),
    ):
        with pytest.raises(ValidationFailed) as refused:
            service.assess_exposure(session=session, incident_id=incident_id, **bad)  # type: ignore[arg-type]
        assert refused.value.field == field
    session.commit()


def test_the_database_refuses_an_unsigned_none(session: Session) -> None:
    incident_id = _incident(session)
    service.assess_exposure(
        session=session, incident_id=incident_id, exposure=Exposure.none, signed_off_by="Ana"
    )
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(update(IncidentFacts).values(exposure_signed_off_by=None))
        session.flush()
    session.rollback()


def test_recorded_facts_gate_the_auditor(session: Session) -> None:
    incident_id = _incident(session)
    claim = "We let you down. No customer data was compromised."
    allowed = gate.facts_for_audit(session=session, incident_id=incident_id)
    assert audit(claim, "en", facts=allowed).finding("N7").verdict is Verdict.block
    service.assess_exposure(
        session=session, incident_id=incident_id, exposure=Exposure.none, signed_off_by="Ana"
    )
    allowed = gate.facts_for_audit(session=session, incident_id=incident_id)
    assert audit(claim, "en", facts=allowed).finding("N7").verdict is Verdict.passed
    # a claim of sign-off without 'none' unlocks nothing
    claimed = gate.facts_for_audit(
        session=None, exposure=Exposure.under_investigation, exposure_signed_off=True
    )
    assert audit(claim, "en", facts=claimed).finding("N7").verdict is Verdict.block


def test_overrides_are_recorded_with_who_and_why(session: Session) -> None:
    incident_id = _incident(session)
    with pytest.raises(ValidationFailed):
        service.record_override(
            session=session,
            incident_id=incident_id,
            kind="apology",
            locale="en",
            rules=["N2"],
            who="",
            why="because we must",
        )
    with pytest.raises(ValidationFailed):
        service.record_override(
            session=session,
            incident_id=incident_id,
            kind="apology",
            locale="en",
            rules=["N2"],
            who="Ana",
            why="ok",
        )
    with pytest.raises(ValidationFailed):
        service.record_override(
            session=session,
            incident_id=incident_id,
            kind="apology",
            locale="en",
            rules=[],
            who="Ana",
            why="nothing blocks here",
        )
    service.record_override(
        session=session,
        incident_id=incident_id,
        kind="apology",
        locale="es",
        rules=["N7", "N2", "N7"],
        who="Ana",
        why="Legal approved the text",
    )
    session.commit()
    (row,) = service.overrides(session=session, incident_id=incident_id)
    assert (row.rules, row.who, row.locale) == (["N2", "N7"], "Ana", "es")


def test_cli_incident_facts(database_url: str) -> None:
    runner = CliRunner()
    env = {"AMENDS_DATABASE_URL": database_url}

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), env=env)

    assert run("component", "add", "dns").exit_code == 0
    opened = run("incident", "open", "DNS down", "-c", "dns=major_outage", "--json")
    incident_id = json.loads(opened.output)["id"]
    result = run(
        "incident",
        "facts",
        str(incident_id),
        "--what-failed",
        "DNS",
        "--cause",
        "Router tables corrupted",
        "--cause-owner",
        "internal",
        "--taken",
        "Restored the tables",
        "--taken",
        "Rebooted routers",
        "--exposure",
        "none",
        "--signed-off-by",
        "Ana Pérez",
        "--json",
    )
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["actions_taken"] == ["Restored the tables", "Rebooted routers"]
    assert facts["exposure"] == "none" and facts["exposure_signed_off_by"] == "Ana Pérez"
    shown = run("incident", "facts", str(incident_id))
    assert shown.exit_code == 0 and "signed off by Ana Pérez" in shown.output
    refused = run("incident", "facts", str(incident_id), "--exposure", "confirmed")
    assert refused.exit_code == 1 and "data_kinds" in refused.output


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        incident_service.open_incident(
            session=session,
            title="DNS down",
            components={"dns": ComponentStatus.major_outage},
            started_at=T0,
        )
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app, key=issue_key(app, Scope.write)) as client:
        yield client


@pytest.mark.anyio
async def test_api_facts_and_exposure(app: FastAPI, client: httpx.AsyncClient) -> None:
    blank = (await client.get(f"{API}/incidents/1/facts")).json()
    assert blank["exposure"] == "under_investigation"
    patched = await client.patch(
        f"{API}/incidents/1/facts", json={"root_cause": "A bad change", "cause_owner": "upstream"}
    )
    assert patched.status_code == 200 and patched.json()["cause_owner"] == "upstream"
    confirmed = await client.put(
        f"{API}/incidents/1/exposure", json={"exposure": "confirmed", "data_kinds": ["passwords"]}
    )
    assert confirmed.json()["exposed_data"] == ["passwords"]
    error_of(
        await client.put(f"{API}/incidents/1/exposure", json={"exposure": "none"}),
        422,
        "validation_failed",
    )
    error_of(
        await client.patch(f"{API}/incidents/1/facts", json={"root_casue": "x"}),
        422,
        "validation_failed",
    )
    error_of(await client.get(f"{API}/incidents/77/facts"), 404, "not_found")
    async with in_process(app, key=issue_key(app, Scope.read, "reader")) as reader:
        assert (await reader.get(f"{API}/incidents/1/facts")).json()["root_cause"] == "A bad change"
        error_of(await reader.patch(f"{API}/incidents/1/facts", json={}), 403, "forbidden")


def test_cli_audit_override_is_recorded_with_who_and_why(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {"AMENDS_DATABASE_URL": database_url}

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), env=env)

    assert run("component", "add", "dns").exit_code == 0
    opened = run("incident", "open", "DNS down", "-c", "dns=major_outage", "--json")
    incident_id = json.loads(opened.output)["id"]
    draft = tmp_path / "draft.txt"
    draft.write_text("We are sorry for any inconvenience. Your data is safe.")
    blocked = run("audit", str(draft), "--lang", "en", "--incident", str(incident_id))
    assert blocked.exit_code == 1
    no_reason = run(
        "audit", str(draft), "--lang", "en", "--incident", str(incident_id), "--override-by", "Ana"
    )
    assert no_reason.exit_code == 1 and "reason" in no_reason.output
    no_incident = run(
        "audit",
        str(draft),
        "--lang",
        "en",
        "--override-by",
        "Ana",
        "--reason",
        "Legal approved the wording",
    )
    assert no_incident.exit_code == 1 and "incident" in no_incident.output
    sent = run(
        "audit",
        str(draft),
        "--lang",
        "en",
        "--incident",
        str(incident_id),
        "--override-by",
        "Ana",
        "--reason",
        "Legal approved the wording",
    )
    assert sent.exit_code == 0, sent.output
    assert "override recorded" in sent.output
    engine = make_engine(database_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            (row,) = service.overrides(session=session, incident_id=incident_id)
            assert row.who == "Ana" and row.why == "Legal approved the wording"
            assert {"A1", "A2", "N2", "N7"} <= set(row.rules)
    finally:
        engine.dispose()


def test_facts_in_other_languages_reach_each_customer_in_theirs(session: Session) -> None:
    from amends.messages import service as message_service
    from amends.messages.composer import compose
    from amends.messages.inputs import Recipient

    incident_id = _incident(session)
    service.record_facts(
        session=session, incident_id=incident_id, cause_owner=CauseOwner.internal,
        root_cause="a faulty router update", actions_taken=["we rolled it back", "we checked"],
    )  # fmt: skip
    service.record_facts(
        session=session, incident_id=incident_id, lang="es",
        root_cause="una actualización defectuosa de los routers",
        actions_taken=["la deshicimos"],
    )  # fmt: skip
    stored = service.get_facts(session=session, incident_id=incident_id)
    assert stored.root_cause == "a faulty router update"  # the first-written text stays
    assert stored.translations == {
        "es": {
            "root_cause": "una actualización defectuosa de los routers",
            "actions_taken": ["la deshicimos"],
        }
    }
    incident_service.resolve(
        session=session, incident_id=incident_id, message="Fixed.",
        resolved_at=T0 + dt.timedelta(hours=2), now=T0 + dt.timedelta(hours=3),
    )  # fmt: skip
    facts = message_service.notice_facts(session=session, incident_id=incident_id, company="X")
    es = compose("apology", facts, Recipient("Ana"), "es", "email").text
    en = compose("apology", facts, Recipient("Ann"), "en", "email").text
    assert "una actualización defectuosa" in es and "faulty router" not in es
    assert "la deshicimos" in es and "we checked" in es  # untranslated items stay as written
    assert "a faulty router update" in en and "actualización" not in en
    with pytest.raises(ValidationFailed):
        service.record_facts(session=session, incident_id=incident_id, lang="e s", root_cause="x")


def test_the_signatory_signs_the_apology_in_each_language(session: Session) -> None:
    """Rule S1: who signs is an incident fact, translated like the others; without
    one the apology is signed by the company's team (and S1 reports it)."""
    from amends.messages import service as message_service
    from amends.messages.composer import audit_composed, compose
    from amends.messages.inputs import Recipient

    incident_id = _incident(session)
    incident_service.resolve(
        session=session, incident_id=incident_id, message="Fixed.",
        resolved_at=T0 + dt.timedelta(hours=2), now=T0 + dt.timedelta(hours=3),
    )  # fmt: skip

    def signed(lang: str) -> tuple[str, str]:
        facts = message_service.notice_facts(session=session, incident_id=incident_id, company="X")
        composed = compose("apology", facts, Recipient("Ana"), lang, "email")
        return composed.text.rstrip().splitlines()[-1], audit_composed(composed, facts).finding(
            "S1"
        ).verdict.value

    assert signed("en") == ("The X team", "info")
    service.record_facts(session=session, incident_id=incident_id, signatory="Ana Ruiz, CEO")
    service.record_facts(
        session=session, incident_id=incident_id, lang="es",
        signatory="Ana Ruiz, consejera delegada",
    )  # fmt: skip
    assert service.get_facts(session=session, incident_id=incident_id).signatory == "Ana Ruiz, CEO"
    assert signed("en") == ("Ana Ruiz, CEO", "pass")
    assert signed("es") == ("Ana Ruiz, consejera delegada", "pass")
