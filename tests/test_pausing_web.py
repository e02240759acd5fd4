"""Pausing and resuming over HTTP: the API (scopes, body, answer, audit) and the
console (roles, CSRF, the ledger and its event stream say "Paused"), and the
``amends_notices_paused`` gauge. The real app in-process, both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select, update

from amends import flows
from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.console import sending
from amends.db import unit_of_work
from amends.delivery.models import Delivery, DeliveryState, Notice
from amends.incidents.models import ComponentStatus, IncidentStatus
from amends.users import service as user_service
from amends.users.models import AuditEntry, Role
from tests import factories
from tests.api_support import API, bearer, error_of, in_process, issue_key
from tests.console_support import add_users, signed_in

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    yield


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"dispatch": "off"}))
    add_users(app)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def incident_with_two_notices(app: FastAPI) -> tuple[int, int, int]:
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        for _ in range(3):
            factories.site(session, factories.customer(session), ["web-hosting"])
        incident, first = flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage}
        )
        _, later = flows.post_update(
            session=session, incident_id=incident.id, status=IncidentStatus.identified,
            message="Found it",
        )  # fmt: skip
        assert first is not None and later is not None
        return incident.id, first.notice.id, later.notice.id


def paused(app: FastAPI) -> dict[int, str | None]:
    with unit_of_work(app.state.sessions) as session:
        return dict(session.execute(select(Notice.id, Notice.paused_by)).all())  # type: ignore[arg-type]


async def test_the_api_pauses_and_resumes_with_a_write_key(app: FastAPI) -> None:
    incident, first, later = incident_with_two_notices(app)
    pause = f"{API}/incidents/{incident}/deliveries/pause"
    resume = f"{API}/incidents/{incident}/deliveries/resume"
    reader = issue_key(app, Scope.read)
    writer = issue_key(app, Scope.write, name="ops-bot")
    async with in_process(app) as client:
        error_of(await client.post(pause), 401, "unauthorized")
        error_of(await client.post(pause, headers=bearer("amends_nope")), 401, "unauthorized")
        error_of(await client.post(pause, headers=bearer(reader)), 403, "forbidden")
        error_of(await client.post(resume, headers=bearer(reader)), 403, "forbidden")
        assert paused(app) == {first: None, later: None}

        one = await client.post(pause, headers=bearer(writer), json={"notice": first})
        assert one.status_code == 200, one.text
        assert one.json() == {"incident_id": incident, "notice": first, "changed": 1, "paused": 1}
        assert paused(app) == {first: "api key ops-bot", later: None}
        every = await client.post(pause, headers=bearer(writer))  # no body: all of them
        assert every.json() == {"incident_id": incident, "notice": None, "changed": 1, "paused": 2}

        counts = await client.get(f"{API}/incidents/{incident}/deliveries", headers=bearer(reader))
        assert counts.json()["paused"] == 2
        assert all(n["paused_at"] and n["paused_by"] for n in counts.json()["notices"])
        metrics = await client.get("/metrics")
        assert "amends_notices_paused 2.0" in metrics.text

        error_of(
            await client.post(pause, headers=bearer(writer), json={"notice": 999}), 404, "not_found"
        )
        error_of(
            await client.post(pause, headers=bearer(writer), json={"what": 1}),
            422,
            "validation_failed",
        )
        missing = f"{API}/incidents/999/deliveries/pause"
        error_of(await client.post(missing, headers=bearer(writer)), 404, "not_found")

        back = await client.post(resume, headers=bearer(writer), json={"notice": later})
        assert back.json() == {"incident_id": incident, "notice": later, "changed": 1, "paused": 1}
        rest = await client.post(resume, headers=bearer(writer), json={})
        assert rest.json()["changed"] == 1 and rest.json()["paused"] == 0
        assert "amends_notices_paused 0.0" in (await client.get("/metrics")).text
    assert paused(app) == {first: None, later: None}
    with unit_of_work(app.state.sessions) as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["deliveries.pause"] * 2 + ["deliveries.resume"] * 2


async def test_the_console_pauses_for_approvers_with_the_sessions_token(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident, first, later = incident_with_two_notices(app)
    page = f"/console/incidents/{incident}"
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.communicator)
        refused = await client.post(f"{page}/pause", data={"csrf": csrf})
        assert refused.status_code == 403 and "needs the approver role" in refused.text
        shown = await client.get(page)
        assert "Pause sending" not in shown.text  # no button a communicator cannot use
    assert paused(app) == {first: None, later: None}

    async with in_process(app) as client:
        csrf = await signed_in(client, Role.approver)
        shown = await client.get(page)
        assert "Pause sending" in shown.text and "Paused" not in shown.text
        for token in ("", "forged", csrf[:-1]):
            answer = await client.post(f"{page}/pause", data={"csrf": token})
            assert answer.status_code == 403 and "security token" in answer.text
        assert paused(app) == {first: None, later: None}
        assert (await client.get(f"{page}/pause")).status_code == 405  # nothing acts on GET

        done = await client.post(f"{page}/pause", data={"csrf": csrf, "notice": str(first)})
        assert done.status_code == 303 and done.headers["location"] == page
        assert paused(app) == {first: "approver@console.example", later: None}
        shown = await client.get(page)
        assert 'class="paused-label">Paused</strong>' in shown.text
        assert "by approver@console.example at" in shown.text
        assert f'aria-label="resume notice {first}"' in shown.text
        assert f'aria-label="pause notice {later}"' in shown.text

        # the live ledger says so too; it goes on while rows are owed (here: until
        # what was with the provider is recorded as sent)
        monkeypatch.setattr(sending, "TICK", 0.05)

        async def recorded() -> None:
            await asyncio.sleep(0.3)
            with unit_of_work(app.state.sessions) as session:
                session.execute(update(Delivery).values(state=DeliveryState.sent))

        task = asyncio.create_task(recorded())
        stream = await client.get(f"{page}/ledger/stream")
        await task
        first_event = stream.text.split("\n\n")[0]
        assert "Paused" in first_event and "by approver@console.example" in first_event
        assert f'aria-label="resume notice {first}"' in first_event  # its button, with the token
        assert f'name="csrf" value="{csrf}"' in first_event

        everything = await client.post(f"{page}/resume", data={"csrf": csrf})
        assert everything.status_code == 303
        assert paused(app) == {first: None, later: None}
    with unit_of_work(app.state.sessions) as session:
        logged = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)
        ).all()
    pauses = [tuple(r) for r in logged if r[1].startswith("deliveries.")]
    assert pauses == [
        ("approver@console.example", "deliveries.pause", f"incident {incident} notice {first}"),
        ("approver@console.example", "deliveries.resume", f"incident {incident}"),
    ]


async def test_a_viewer_sees_the_pause_but_no_buttons(app: FastAPI) -> None:
    incident, _, _ = incident_with_two_notices(app)
    writer = issue_key(app, Scope.write)
    async with in_process(app) as client:
        answer = await client.post(
            f"{API}/incidents/{incident}/deliveries/pause", headers=bearer(writer)
        )
        assert answer.status_code == 200
        await signed_in(client, Role.viewer)
        shown = await client.get(f"/console/incidents/{incident}")
    assert "Paused" in shown.text and "Resume" not in shown.text
    assert "2 of 2 notices are not being sent" in shown.text
