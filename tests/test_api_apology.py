"""``POST /incidents/{id}/apology`` through the real app, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from amends import flows
from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work
from amends.facts import service as facts_service
from amends.facts.kinds import CauseOwner, Exposure
from amends.incidents.models import ComponentStatus
from tests.api_support import API, error_of, in_process, issue_key
from tests.factories import customer, hosting_catalog, site


@pytest.fixture
def app(database_url: str) -> Iterator[FastAPI]:
    app = create_app(Settings(database_url=database_url, auto_migrate=False))
    with unit_of_work(app.state.sessions) as session:
        hosting_catalog(session)
        site(session, customer(session, locale="es"), ["dns"])
        site(session, customer(session, locale="en"), ["email"])
        incident, _ = flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
            notify=False,
        )  # fmt: skip
        flows.resolve(session=session, incident_id=incident.id, message="Fixed", notify=False)
        facts_service.record_facts(
            session=session, incident_id=incident.id, cause_owner=CauseOwner.internal,
            root_cause="an attacker from outside took our DNS down",
            actions_taken=["we restored DNS"],
        )  # fmt: skip
        facts_service.assess_exposure(
            session=session, incident_id=incident.id, exposure=Exposure.none, signed_off_by="CISO"
        )
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def post(app: FastAPI, body: dict[str, object]):  # type: ignore[no-untyped-def]
    key = issue_key(app, Scope.write)

    async def go():  # type: ignore[no-untyped-def]
        async with in_process(app, key=key) as client:
            return await client.post(f"{API}/incidents/1/apology", json=body)

    return asyncio.run(go())


def test_a_blocked_apology_is_a_conflict_until_someone_overrides_it(app: FastAPI) -> None:
    error = error_of(post(app, {}), 409, "conflict")
    assert "N4" in error["message"] and error["field"] == "override"
    sent = post(app, {"override_by": "Ana", "reason": "legal approved"})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["kind"] == "apology" and body["deliveries"] == 2
    assert set(body["audit"]) == {"en", "es"}
    assert body["audit"]["en"]["blocked"]  # the English message names the attacker
    again = post(app, {"override_by": "Ana", "reason": "legal approved"})
    assert again.status_code == 201 and again.json()["deliveries"] == 0  # owed once
