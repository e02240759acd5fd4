"""Every API write that succeeds is in the audit log, with the key that made it;
a refused or failed write, and a read, leave nothing (both databases)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work
from amends.users.models import AuditEntry
from tests import factories
from tests.api_support import API, in_process, issue_key

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app(settings.model_copy(update={"dispatch": "off"}))
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        factories.site(session, factories.customer(session), ["web-hosting"])
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app, key=issue_key(app, Scope.admin, name="ops")) as client:
        yield client


def _log(app: FastAPI) -> list[tuple[str, str, str, str]]:
    with unit_of_work(app.state.sessions) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(e.actor, e.action, e.target, e.detail) for e in entries]


async def test_each_successful_write_is_logged_with_its_key_route_and_path(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    opened = await client.post(
        f"{API}/incidents", json={"title": "DNS down", "components": {"dns": "major_outage"}}
    )
    assert opened.status_code == 201, opened.text
    iid = opened.json()["id"]
    updated = await client.post(
        f"{API}/incidents/{iid}/updates", json={"status": "identified", "message": "Found it"}
    )
    assert updated.status_code == 201, updated.text
    made = await client.post(f"{API}/apikeys", json={"scope": "read", "name": "dashboard"})
    assert made.status_code == 201, made.text

    log = _log(app)
    assert [(actor, target, detail) for actor, _, target, detail in log] == [
        ("api key ops", f"{API}/incidents", "POST"),
        ("api key ops", f"{API}/incidents/{iid}/updates", "POST"),
        ("api key ops", f"{API}/apikeys", "POST"),
    ]
    assert all(action.startswith("api.") and len(action) > 4 for _, action, _, _ in log)
    assert len({action for _, action, _, _ in log}) == 3  # one action name per route
    with unit_of_work(app.state.sessions) as session:
        assert {e.ip for e in session.scalars(select(AuditEntry))} == {"127.0.0.1"}


async def test_reads_refusals_and_failed_writes_leave_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert (await client.get(f"{API}/incidents")).status_code == 200
    invalid = await client.post(f"{API}/incidents", json={"title": "", "components": {}})
    assert invalid.status_code == 422
    unknown = await client.post(
        f"{API}/incidents/999/updates", json={"status": "identified", "message": "x"}
    )
    assert unknown.status_code == 404
    reader = issue_key(app, Scope.read, name="dashboard")
    refused = await client.post(
        f"{API}/incidents",
        json={"title": "DNS down", "components": {"dns": "major_outage"}},
        headers={"X-API-Key": reader},
    )
    assert refused.status_code == 403
    assert _log(app) == []


async def test_a_service_that_logs_its_own_entry_is_not_logged_twice(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    opened = await client.post(
        f"{API}/incidents", json={"title": "DNS down", "components": {"dns": "major_outage"}}
    )
    iid = opened.json()["id"]
    paused = await client.post(f"{API}/incidents/{iid}/deliveries/pause")
    assert paused.status_code == 200, paused.text
    assert [action for _, action, _, _ in _log(app)][1:] == ["deliveries.pause"]


async def test_an_admin_only_read_is_not_logged(app: FastAPI, client: httpx.AsyncClient) -> None:
    listed = await client.get(f"{API}/credits/webhooks")
    assert listed.status_code == 200, listed.text
    keys = await client.get(f"{API}/apikeys")
    assert keys.status_code == 200, keys.text
    assert _log(app) == []
