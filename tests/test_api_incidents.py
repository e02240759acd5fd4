"""Incidents and maintenance over HTTP: the lifecycle, its timeline, and every refusal."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work
from tests import factories
from tests.api_support import API, error_of, in_process, issue_key

pytestmark = pytest.mark.anyio

STARTED = "2012-09-10T10:25:00-07:00"  # GoDaddy's DNS outage, Arizona time


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app, key=issue_key(app, Scope.write)) as client:
        yield client


async def _open(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "title": "DNS outage",
        "components": {"dns": "major_outage"},
        "started_at": STARTED,
        "description": "Customers cannot reach their sites or e-mail.",
    } | overrides
    response = await client.post(f"{API}/incidents", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _ago(**delta: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(**delta)).isoformat()


async def test_full_lifecycle_with_timeline(client: httpx.AsyncClient) -> None:
    incident = await _open(client)
    assert incident["status"] == "investigating"
    assert incident["impact"] == "critical"
    assert incident["started_at"] == "2012-09-10T17:25:00Z", "stored and shown in UTC"
    iid = incident["id"]

    update = await client.post(
        f"{API}/incidents/{iid}/updates",
        json={
            "status": "identified",
            "message": "Corrupted router data tables",
            "components": {"email": "partial_outage"},
            "at": "2012-09-10T11:30:00-07:00",
        },
    )
    assert update.status_code == 201, update.text
    assert update.json()["component_changes"] == [
        {"component": "email", "status": "partial_outage"}
    ]
    internal = await client.post(
        f"{API}/incidents/{iid}/updates",
        json={
            "status": "monitoring",
            "message": "Fix applied",
            "customer_facing": False,
            "at": "2012-09-10T15:00:00-07:00",
        },
    )
    assert internal.status_code == 201 and internal.json()["customer_facing"] is False

    listed_open = (await client.get(f"{API}/incidents", params={"open": True})).json()
    assert [i["id"] for i in listed_open] == [iid]
    during = (await client.get(f"{API}/status")).json()
    assert (during["dns"], during["email"]) == ("major_outage", "partial_outage")

    resolved = await client.post(
        f"{API}/incidents/{iid}/resolve",
        json={"message": "All services restored", "resolved_at": "2012-09-10T16:30:00-07:00"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_at"] == "2012-09-10T23:30:00Z"

    shown = (await client.get(f"{API}/incidents/{iid}")).json()
    assert [(u["status"], u["at"]) for u in shown["updates"]] == [
        ("investigating", "2012-09-10T17:25:00Z"),
        ("identified", "2012-09-10T18:30:00Z"),
        ("monitoring", "2012-09-10T22:00:00Z"),
        ("resolved", "2012-09-10T23:30:00Z"),
    ]
    assert shown["updates"][0]["message"] == "Customers cannot reach their sites or e-mail."
    assert shown["updates"][-1]["component_changes"] == [
        {"component": "dns", "status": "operational"},
        {"component": "email", "status": "operational"},
    ]
    assert {c["key"]: c["status"] for c in shown["components"]} == {
        "dns": "operational",
        "email": "operational",
    }
    assert (await client.get(f"{API}/incidents", params={"open": True})).json() == []
    assert set((await client.get(f"{API}/status")).json().values()) == {"operational"}


async def test_the_api_answers_what_the_cli_shows(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    """Same service, same schema: ``GET /incidents/1`` is ``amends incident show 1 --json``."""
    from amends.cli import app as cli

    iid = (await _open(client))["id"]
    await client.post(
        f"{API}/incidents/{iid}/updates",
        json={
            "status": "identified",
            "message": "Found it",
            "components": {"email": "degraded_performance"},
        },
    )
    result = CliRunner().invoke(
        cli, ["--database-url", settings.database_url, "incident", "show", str(iid), "--json"]
    )
    assert result.exit_code == 0, result.output
    shown, answered = json.loads(result.stdout), (await client.get(f"{API}/incidents/{iid}")).json()
    # The cadence is judged at the moment of asking: compare what does not move with the clock.
    cli_cadence, api_cadence = shown.pop("cadence"), answered.pop("cadence")
    assert shown == answered
    assert cli_cadence["policy"] == api_cadence["policy"]
    steady = [(d["notice"], d["due_at"]) for d in cli_cadence["due"]]
    assert steady == [(d["notice"], d["due_at"]) for d in api_cadence["due"]]
    assert steady and steady[0][0] == "update"


async def test_an_invalid_transition_is_a_409_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    iid = (await _open(client))["id"]
    await client.post(f"{API}/incidents/{iid}/resolve", json={"message": "Fixed"})

    def steady(detail: dict[str, Any]) -> dict[str, Any]:
        """The incident without what moves with the clock (the cadence's as-of and countdowns)."""
        cadence = detail.pop("cadence")
        return detail | {"due": [(d["notice"], d["due_at"]) for d in cadence["due"]]}

    before = steady((await client.get(f"{API}/incidents/{iid}")).json())
    for url, body in [
        (f"{API}/incidents/{iid}/updates", {"status": "identified", "message": "Again?"}),
        (f"{API}/incidents/{iid}/updates", {"status": "scheduled", "message": "No"}),
        (f"{API}/incidents/{iid}/resolve", {"message": "Twice"}),
    ]:
        response = await client.post(url, json=body)
        error = error_of(response, 409, "invalid_transition")
        assert error == {
            "code": "invalid_transition",
            "message": error["message"],
            "field": "status",
        }
        assert "resolved" in error["message"]
    assert steady((await client.get(f"{API}/incidents/{iid}")).json()) == before
    opened_as = await client.post(
        f"{API}/incidents", json={"title": "x", "components": {}, "status": "resolved"}
    )
    error_of(opened_as, 409, "invalid_transition")


@pytest.mark.parametrize(
    ("case", "path", "body", "code", "field"),
    [
        (
            "no offset",
            "/incidents",
            {"started_at": "2012-09-10T10:25:00"},
            "invalid_time",
            "started_at",
        ),
        (
            "future",
            "/incidents",
            {"started_at": "2999-01-01T00:00:00Z"},
            "invalid_time",
            "started_at",
        ),
        (
            "not a time",
            "/incidents",
            {"started_at": "yesterday"},
            "validation_failed",
            "started_at",
        ),
        (
            "before start",
            "/incidents/{id}/updates",
            {"status": "identified", "message": "m", "at": "2012-09-10T10:00:00-07:00"},
            "invalid_time",
            "at",
        ),
        (
            "update in the future",
            "/incidents/{id}/updates",
            {"status": "identified", "message": "m", "at": "2999-01-01T00:00:00Z"},
            "invalid_time",
            "at",
        ),
        (
            "resolved before start",
            "/incidents/{id}/resolve",
            {"message": "m", "resolved_at": "2012-09-09T00:00:00Z"},
            "invalid_time",
            "resolved_at",
        ),
        (
            "maintenance backwards",
            "/maintenance",
            {
                "title": "Upgrade",
                "components": ["dns"],
                "starts_at": "2030-01-02T00:00:00Z",
                "ends_at": "2030-01-01T00:00:00Z",
            },
            "invalid_time",
            "ends_at",
        ),
        (
            "maintenance naive",
            "/maintenance",
            {
                "title": "Upgrade",
                "components": ["dns"],
                "starts_at": "2030-01-01T00:00:00",
                "ends_at": "2030-01-02T00:00:00Z",
            },
            "invalid_time",
            "starts_at",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else "",
)
async def test_bad_times_are_422(
    client: httpx.AsyncClient,
    case: str,
    path: str,
    body: dict[str, Any],
    code: str,
    field: str,
) -> None:
    iid = (await _open(client))["id"]
    if path == "/incidents":
        body = {"title": case, "components": {"dns": "major_outage"}} | body
    response = await client.post(API + path.format(id=iid), json=body)
    assert error_of(response, 422, code)["field"] == field
    assert len((await client.get(f"{API}/incidents")).json()) == 1, "nothing was saved"


async def test_an_update_before_the_previous_one_is_refused(client: httpx.AsyncClient) -> None:
    iid = (await _open(client, started_at=_ago(hours=3)))["id"]
    first = await client.post(
        f"{API}/incidents/{iid}/updates",
        json={"status": "identified", "message": "m", "at": _ago(hours=1)},
    )
    assert first.status_code == 201
    earlier = await client.post(
        f"{API}/incidents/{iid}/updates",
        json={"status": "monitoring", "message": "m", "at": _ago(hours=2)},
    )
    assert "previous update" in error_of(earlier, 422, "invalid_time")["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/incidents/404", None),
        ("POST", "/incidents/404/updates", {"status": "identified", "message": "m"}),
        ("POST", "/incidents/404/resolve", {"message": "m"}),
    ],
)
async def test_unknown_incident_is_404(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    response = await client.request(method, API + path, json=body)
    assert error_of(response, 404, "not_found") == {
        "code": "not_found",
        "message": "no incident 404",
        "field": "incident",
    }


async def test_an_unknown_component_saves_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/incidents",
        json={"title": "x", "components": {"dns": "major_outage", "nope": "major_outage"}},
    )
    assert error_of(response, 404, "not_found")["field"] == "components"
    iid = (await _open(client))["id"]
    bad_update = await client.post(
        f"{API}/incidents/{iid}/updates",
        json={"status": "identified", "message": "m", "components": {"nope": "partial_outage"}},
    )
    error_of(bad_update, 404, "not_found")
    shown = (await client.get(f"{API}/incidents/{iid}")).json()
    assert (shown["status"], len(shown["updates"])) == ("investigating", 1)
    assert len((await client.get(f"{API}/incidents")).json()) == 1


async def test_an_operational_component_cannot_open_an_incident(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API}/incidents", json={"title": "x", "components": {"dns": "operational"}}
    )
    assert error_of(response, 422, "validation_failed")["field"] == "components"


async def test_maintenance_lifecycle(client: httpx.AsyncClient) -> None:
    starts = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    created = await client.post(
        f"{API}/maintenance",
        json={
            "title": "Router upgrade",
            "components": ["dns"],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + dt.timedelta(hours=2)).isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    maintenance = created.json()
    assert (maintenance["kind"], maintenance["status"], maintenance["impact"]) == (
        "maintenance",
        "scheduled",
        "maintenance",
    )
    mid = maintenance["id"]
    assert (await client.get(f"{API}/status")).json()["dns"] == "operational", "not started yet"

    started = await client.post(
        f"{API}/incidents/{mid}/updates", json={"status": "in_progress", "message": "Starting"}
    )
    assert started.json()["component_changes"] == [
        {"component": "dns", "status": "under_maintenance"}
    ]
    assert (await client.get(f"{API}/status")).json()["dns"] == "under_maintenance"
    wrong = await client.post(
        f"{API}/incidents/{mid}/updates", json={"status": "identified", "message": "?"}
    )
    error_of(wrong, 409, "invalid_transition")

    done = await client.post(f"{API}/incidents/{mid}/resolve", json={"message": "Done"})
    assert done.json()["status"] == "completed"
    listed = (await client.get(f"{API}/incidents", params={"kind": "maintenance"})).json()
    assert [(i["id"], i["status"]) for i in listed] == [(mid, "completed")]
    assert (await client.get(f"{API}/incidents", params={"kind": "incident"})).json() == []


async def test_a_maintenance_can_be_cancelled_before_it_starts(client: httpx.AsyncClient) -> None:
    created = await client.post(
        f"{API}/maintenance",
        json={
            "title": "Later",
            "components": ["email"],
            "starts_at": "2030-01-01T02:00:00Z",
            "ends_at": "2030-01-01T04:00:00Z",
        },
    )
    mid = created.json()["id"]
    cancelled = await client.post(
        f"{API}/incidents/{mid}/updates", json={"status": "cancelled", "message": "Not needed"}
    )
    assert cancelled.status_code == 201
    shown = (await client.get(f"{API}/incidents/{mid}")).json()
    assert shown["status"] == "cancelled" and shown["resolved_at"]


async def test_list_is_newest_first_and_limited(client: httpx.AsyncClient) -> None:
    for hours in (5, 3, 4):
        await _open(client, title=f"{hours}h ago", started_at=_ago(hours=hours))
    titles = [i["title"] for i in (await client.get(f"{API}/incidents")).json()]
    assert titles == ["3h ago", "4h ago", "5h ago"]
    limited = (await client.get(f"{API}/incidents", params={"limit": 2})).json()
    assert len(limited) == 2
    error_of(await client.get(f"{API}/incidents", params={"limit": 0}), 422, "validation_failed")
    error_of(await client.get(f"{API}/incidents", params={"kind": "x"}), 422, "validation_failed")
