"""Notices over HTTP: owed by the incident endpoints, counted, and in /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work
from tests import factories
from tests.api_support import API, error_of, in_process, issue_key

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app(settings.model_copy(update={"dispatch": "off"}))
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        ana = factories.customer(session, channels=["email", "sms"], phone="+34600000009")
        factories.site(session, ana, ["web-hosting"])
        factories.site(session, ana, ["email"])
        factories.site(session, factories.customer(session, opt_out=["email"]), ["dns"])
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app, key=issue_key(app, Scope.write)) as client:
        yield client


async def test_incident_endpoints_owe_notices_and_deliveries_counts_them(
    client: httpx.AsyncClient,
) -> None:
    opened = await client.post(
        f"{API}/incidents", json={"title": "DNS down", "components": {"dns": "major_outage"}}
    )
    assert opened.status_code == 201, opened.text
    iid = opened.json()["id"]
    internal = await client.post(
        f"{API}/incidents/{iid}/updates",
        json={"status": "identified", "message": "router tables", "customer_facing": False},
    )
    assert internal.status_code == 201
    public = await client.post(
        f"{API}/incidents/{iid}/updates", json={"status": "monitoring", "message": "Fixed"}
    )
    assert public.status_code == 201
    resolved = await client.post(
        f"{API}/incidents/{iid}/resolve", json={"message": "ok", "notify": False}
    )
    assert resolved.status_code == 200

    counts = (await client.get(f"{API}/incidents/{iid}/deliveries")).json()
    assert [n["kind"] for n in counts["notices"]] == ["first", "update"]
    assert counts["by_channel"] == {
        "email": {"pending": 2, "suppressed": 2},
        "sms": {"pending": 2},
    }
    error_of(await client.get(f"{API}/incidents/999/deliveries"), 404, "not_found")

    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "amends_deliveries_outstanding 4.0" in metrics.text
    assert "@example.com" not in metrics.text


async def test_deliveries_need_a_key(app: FastAPI) -> None:
    async with in_process(app) as anonymous:
        error_of(await anonymous.get(f"{API}/incidents/1/deliveries"), 401, "unauthorized")
