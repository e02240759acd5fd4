"""Call lists for the phone chain: assignment, outcomes, escalation, CLI and API."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.calls import service
from amends.calls.models import CallAssignment, CallOutcome
from amends.cli import app as cli_app
from amends.config import Settings
from amends.db import unit_of_work
from amends.errors import NotFound, ValidationFailed
from amends.incidents import service as incidents
from amends.incidents.models import ComponentStatus
from tests import factories
from tests.api_support import API, in_process, issue_key

T0 = factories.T0
LATER = T0 + dt.timedelta(hours=1)


def outage(session: Session) -> int:
    """DNS down: 7 premium and 3 gold customers hit, plus standard ones and a spared one."""
    factories.hosting_catalog(session)
    for n in range(14):
        tier = "premium" if n < 7 else "gold" if n < 10 else "standard"
        owner = factories.customer(session, tier=tier, phone=f"+3461234{n:04d}")
        factories.site(session, owner, ["web-hosting"])
    spared = factories.customer(session, tier="premium")
    factories.site(session, spared, ["domains"])
    incident = incidents.open_incident(
        session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
        started_at=T0, now=T0,
    )  # fmt: skip
    return incident.id


def managers(session: Session, n: int) -> list[int]:
    return [
        service.add_manager(session=session, name=f"M{i}", email=f"m{i}@provider.example").id
        for i in range(n)
    ]


def test_round_robin_over_chosen_tiers_and_idempotent(session: Session) -> None:
    incident_id = outage(session)
    ids = managers(session, 3)
    added = service.assign(session=session, incident_id=incident_id, tiers=["premium"], now=LATER)
    assert added == 7
    rows = list(session.scalars(select(CallAssignment).order_by(CallAssignment.customer_id)))
    assert [r.manager_id for r in rows] == [ids[i % 3] for i in range(7)]
    assert (
        service.assign(session=session, incident_id=incident_id, tiers=["premium"], now=LATER) == 0
    )
    # a second tier continues the round where it stopped
    assert service.assign(session=session, incident_id=incident_id, tiers=["gold"], now=LATER) == 3
    counts = Counter(r.manager_id for r in session.scalars(select(CallAssignment)))
    assert sorted(counts.values()) == [3, 3, 4]


def test_record_and_escalate_the_unreached(session: Session) -> None:
    incident_id = outage(session)
    managers(session, 2)
    wait = dt.timedelta(minutes=30)
    service.assign(
        session=session, incident_id=incident_id, tiers=["premium"], escalate_after=wait, now=LATER
    )
    calls = service.call_list(session=session, incident_id=incident_id)
    first, second, third = (c["id"] for c in calls[:3])
    service.record(session=session, assignment_id=first, outcome=CallOutcome.reached, now=LATER)
    service.record(session=session, assignment_id=second, outcome=CallOutcome.voicemail)
    service.record(
        session=session, assignment_id=third, outcome=CallOutcome.no_answer, notes="line busy"
    )
    assert list(session.execute(
        service.unreached_customers(incident_id=incident_id, now=LATER + wait / 2)
    )) == []  # fmt: skip
    due = LATER + wait
    unreached = session.execute(service.unreached_customers(incident_id=incident_id, now=due)).all()
    assert len(unreached) == 6 and first not in {row[0] for row in unreached}
    assert service.incidents_due(session=session, now=due) == [incident_id]
    assert service.mark_escalated(session=session, incident_id=incident_id, now=due) == 6
    assert len(session.execute(service.escalated(incident_id=incident_id, at=due)).all()) == 6
    again = service.unreached_customers(incident_id=incident_id, now=due)
    assert session.execute(again).all() == []
    left = service.call_list(session=session, incident_id=incident_id, unreached_only=True)
    assert len(left) == 6
    noted = next(c for c in calls if c["id"] == third)
    assert noted["id"] == third
    assert session.get(CallAssignment, third).notes == "line busy"  # type: ignore[union-attr]


def test_clear_errors(session: Session) -> None:
    incident_id = outage(session)
    with pytest.raises(ValidationFailed, match="no active account managers"):
        service.assign(session=session, incident_id=incident_id, tiers=["premium"])
    with pytest.raises(NotFound):
        service.record(session=session, assignment_id=999, outcome=CallOutcome.reached)


def test_from_the_command_line(database_url: str, session: Session) -> None:
    incident_id = outage(session)
    session.commit()
    runner = CliRunner()
    env = {"AMENDS_DATABASE_URL": database_url}

    def run(*args: str) -> str:
        result = runner.invoke(cli_app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    run("calls", "manager-add", "Ana", "ana@provider.example")
    run("calls", "manager-add", "Luis", "luis@provider.example", "--phone", "+34600000000")
    assert json.loads(run("calls", "assign", str(incident_id), "-t", "gold", "--json")) == {
        "assigned": 3
    }
    listed = json.loads(run("calls", "list", str(incident_id), "--json"))
    assert [c["manager"] for c in listed].count("ana@provider.example") == 2
    run("calls", "record", str(listed[0]["id"]), "reached", "--notes", "ok")
    left = json.loads(run("calls", "list", str(incident_id), "--unreached", "--json"))
    assert len(left) == 2
    bad = runner.invoke(cli_app, ["calls", "record", "1", "maybe"], env=env)
    assert bad.exit_code != 0


@pytest.mark.anyio
async def test_through_the_api(settings: Settings) -> None:
    app: FastAPI = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        incident_id = outage(session)
    async with in_process(app, key=issue_key(app, Scope.write)) as client:
        created = await client.post(
            f"{API}/account-managers", json={"name": "Ana", "email": "ana@provider.example"}
        )
        assert created.status_code == 201
        assigned = await client.post(
            f"{API}/incidents/{incident_id}/calls", json={"tiers": ["premium", "gold"]}
        )
        assert assigned.json() == {"assigned": 10}
        calls = (await client.get(f"{API}/incidents/{incident_id}/calls")).json()
        assert len(calls) == 10 and calls[0]["phone"].startswith("+34")
        done = await client.post(
            f"{API}/calls/{calls[0]['id']}/outcome", json={"outcome": "voicemail"}
        )
        assert done.json()["attempts"] == 1
        wrong = await client.post(f"{API}/calls/{calls[0]['id']}/outcome", json={"outcome": "x"})
        assert wrong.status_code == 422
    async with in_process(app) as anonymous:
        assert (await anonymous.get(f"{API}/incidents/{incident_id}/calls")).status_code == 401
