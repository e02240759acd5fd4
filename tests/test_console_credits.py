"""Compensation from the console: preview a policy's totals, issue as an approver
(once: issuing again adds nothing), follow the credits. Both databases."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select

from amends import flows
from amends.api.app import create_app
from amends.config import Settings
from amends.credits.models import Credit
from amends.db import unit_of_work
from amends.incidents.models import ComponentStatus
from amends.users import service as user_service
from amends.users.models import AuditEntry, Role
from tests import factories
from tests.api_support import in_process
from tests.console_support import add_users, signed_in

pytestmark = pytest.mark.anyio
PATH = "/console/incidents/1/credits"


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        owner = factories.customer(session)
        factories.site(session, owner, ["web-hosting"], price=1200)
        factories.site(session, factories.customer(session), ["email"], price=800)
        incident, _ = flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
            notify=False,
        )  # fmt: skip
        flows.resolve(session=session, incident_id=incident.id, message="Fixed", notify=False)
    add_users(app)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def _rows(app: FastAPI, model: type) -> list[object]:
    with unit_of_work(app.state.sessions) as session:
        rows = list(session.scalars(select(model)).all())
        session.expunge_all()
        return rows


async def test_preview_then_issue_once_and_follow(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.communicator)
        page = await client.get(PATH)
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert 'class="credit-count">2<' in text and "€20.00" in text  # a month of each fee
        assert "Issue these credits" not in text  # approvers issue
        assert (await client.post(PATH, data={"csrf": csrf})).status_code == 403
        unknown = await client.get(PATH, params={"policy": "no-such-policy"})
        assert unknown.status_code == 422 and 'class="error"' in unknown.text
    assert _rows(app, Credit) == []
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.approver)
        issued = await client.post(PATH, data={"csrf": csrf, "policy": "godaddy-2012"})
        assert issued.status_code == 303
        again = await client.post(PATH, data={"csrf": csrf, "policy": "godaddy-2012"})
        assert again.status_code == 303
        page = await client.get(PATH)
        assert 'class="credited">2<' in page.text
        assert "already issued" in page.text
    credits = _rows(app, Credit)
    assert sorted(c.amount_minor for c in credits) == [800, 1200]  # type: ignore[attr-defined]
    details = [e.detail for e in _rows(app, AuditEntry) if e.action == "credits.issue"]  # type: ignore[attr-defined]
    assert details == ["policy godaddy-2012@1: 2 credits", "policy godaddy-2012@1: 0 credits"]
