"""Every API route needs a key of the right scope (or is public on purpose): table-driven.

The table is checked against the app's own OpenAPI document, both ways: a new
route without an entry here fails the suite instead of shipping unprotected,
and the scope each operation publishes must be the one enforced.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from amends.api.app import create_app
from amends.apikeys import service as apikey_service
from amends.apikeys.models import ApiKey, Scope
from amends.config import Settings
from amends.db import unit_of_work
from amends.models import metadata
from tests import factories
from tests.api_support import API, bearer, error_of, in_process, issue_key

#: (method, route template, concrete path, scope needed; None: public)
ROUTES: list[tuple[str, str, str, Scope | None]] = [
    ("GET", "/components", "/components", None),
    ("GET", "/status", "/status", None),
    ("GET", "/components/{key}", "/components/dns", None),
    ("PUT", "/components/{key}", "/components/dns", Scope.write),
    ("DELETE", "/components/{key}", "/components/dns", Scope.write),
    ("GET", "/customers", "/customers", Scope.read),
    ("POST", "/customers", "/customers", Scope.write),
    ("GET", "/customers/{external_id}", "/customers/c1", Scope.read),
    (
        "PUT",
        "/customers/{external_id}/opt-out/{channel}",
        "/customers/c1/opt-out/email",
        Scope.write,
    ),
    ("GET", "/subscribers", "/subscribers", Scope.read),
    ("POST", "/subscribers", "/subscribers", Scope.write),
    ("DELETE", "/subscribers/{subscriber_id}", "/subscribers/1", Scope.write),
    ("GET", "/incidents", "/incidents", Scope.read),
    ("POST", "/incidents", "/incidents", Scope.write),
    ("GET", "/incidents/{incident_id}", "/incidents/1", Scope.read),
    ("POST", "/incidents/{incident_id}/updates", "/incidents/1/updates", Scope.write),
    ("POST", "/incidents/{incident_id}/resolve", "/incidents/1/resolve", Scope.write),
    ("PATCH", "/incidents/{incident_id}/cadence", "/incidents/1/cadence", Scope.write),
    ("POST", "/maintenance", "/maintenance", Scope.write),
    ("POST", "/intake/alertmanager", "/intake/alertmanager", Scope.write),
    ("POST", "/intake/events", "/intake/events", Scope.write),
    ("GET", "/intake/rules", "/intake/rules", Scope.read),
    ("GET", "/intake/drafts", "/intake/drafts", Scope.read),
    ("GET", "/intake/drafts/{draft_id}", "/intake/drafts/1", Scope.read),
    ("POST", "/intake/drafts/{draft_id}/publish", "/intake/drafts/1/publish", Scope.write),
    ("POST", "/intake/drafts/{draft_id}/discard", "/intake/drafts/1/discard", Scope.write),
    ("GET", "/incidents/{incident_id}/facts", "/incidents/1/facts", Scope.read),
    ("PATCH", "/incidents/{incident_id}/facts", "/incidents/1/facts", Scope.write),
    ("PUT", "/incidents/{incident_id}/exposure", "/incidents/1/exposure", Scope.write),
    ("POST", "/audit", "/audit", Scope.read),
    ("GET", "/incidents/{incident_id}/impact", "/incidents/1/impact", Scope.read),
    ("GET", "/incidents/{incident_id}/impact/export", "/incidents/1/impact/export", Scope.read),
    ("GET", "/incidents/{incident_id}/deliveries", "/incidents/1/deliveries", Scope.read),
    (
        "POST",
        "/incidents/{incident_id}/deliveries/pause",
        "/incidents/1/deliveries/pause",
        Scope.write,
    ),
    (
        "POST",
        "/incidents/{incident_id}/deliveries/resume",
        "/incidents/1/deliveries/resume",
        Scope.write,
    ),
    ("POST", "/bounces", "/bounces", Scope.write),
    ("POST", "/incidents/{incident_id}/apology", "/incidents/1/apology", Scope.write),
    ("GET", "/incidents/{incident_id}/drafts", "/incidents/1/drafts", Scope.read),
    ("POST", "/incidents/{incident_id}/drafts", "/incidents/1/drafts", Scope.write),
    ("GET", "/incidents/{incident_id}/drafts/{draft_id}", "/incidents/1/drafts/1", Scope.read),
    (
        "POST",
        "/incidents/{incident_id}/drafts/{draft_id}/versions",
        "/incidents/1/drafts/1/versions",
        Scope.write,
    ),
    (
        "POST",
        "/incidents/{incident_id}/drafts/{draft_id}/request",
        "/incidents/1/drafts/1/request",
        Scope.write,
    ),
    (
        "GET",
        "/incidents/{incident_id}/drafts/{draft_id}/preview",
        "/incidents/1/drafts/1/preview",
        Scope.read,
    ),
    (
        "POST",
        "/incidents/{incident_id}/drafts/{draft_id}/send",
        "/incidents/1/drafts/1/send",
        Scope.write,
    ),
    (
        "POST",
        "/incidents/{incident_id}/drafts/{draft_id}/discard",
        "/incidents/1/drafts/1/discard",
        Scope.write,
    ),
    ("GET", "/apikeys", "/apikeys", Scope.admin),
    ("POST", "/apikeys", "/apikeys", Scope.admin),
    ("DELETE", "/apikeys/{prefix}", "/apikeys/0123456789ab", Scope.admin),
    ("GET", "/account-managers", "/account-managers", Scope.read),
    ("POST", "/account-managers", "/account-managers", Scope.write),
    ("GET", "/incidents/{incident_id}/calls", "/incidents/1/calls", Scope.read),
    ("POST", "/incidents/{incident_id}/calls", "/incidents/1/calls", Scope.write),
    ("POST", "/calls/{assignment_id}/outcome", "/calls/1/outcome", Scope.write),
    ("GET", "/components/{key}/availability", "/components/dns/availability", None),
    ("GET", "/credit-policies", "/credit-policies", Scope.read),
    ("POST", "/credit-policies", "/credit-policies", Scope.write),
    (
        "GET",
        "/incidents/{incident_id}/credits/preview",
        "/incidents/1/credits/preview?policy=godaddy-2012",
        Scope.read,
    ),
    ("POST", "/incidents/{incident_id}/credits", "/incidents/1/credits", Scope.write),
    ("GET", "/incidents/{incident_id}/credits/report", "/incidents/1/credits/report", Scope.read),
    ("GET", "/credits", "/credits", Scope.read),
    ("POST", "/credits/applied", "/credits/applied", Scope.write),
    ("GET", "/credits/export.csv", "/credits/export.csv", Scope.read),
    ("GET", "/credits/webhooks", "/credits/webhooks", Scope.admin),
    ("POST", "/credits/webhooks", "/credits/webhooks", Scope.admin),
    (
        "POST",
        "/credits/webhooks/{endpoint_id}/enable",
        "/credits/webhooks/1/enable",
        Scope.admin,
    ),
    ("DELETE", "/credits/webhooks/{endpoint_id}", "/credits/webhooks/1", Scope.admin),
    ("GET", "/incidents/{incident_id}/report", "/incidents/1/report", Scope.read),
]

#: A caller and what they present; "scope too low" is a valid key one scope below.
CASES = ["no key", "malformed key", "unknown key", "revoked key", "scope too low", "right scope"]

_BELOW = {Scope.write: Scope.read, Scope.admin: Scope.write}


pytestmark = pytest.mark.anyio


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app) as client:
        yield client


@pytest.fixture
def keys(app: FastAPI) -> dict[str, str]:
    """One key per scope, and a revoked admin key."""
    with unit_of_work(app.state.sessions) as session:
        issued = {
            scope.value: apikey_service.create(session=session, scope=scope, name=scope.value)[1]
            for scope in Scope
        }
        revoked, issued["revoked"] = apikey_service.create(
            session=session, scope=Scope.admin, name="gone"
        )
        apikey_service.revoke(session=session, prefix=revoked.prefix)
    return issued


def _key(case: str, needed: Scope | None, keys: dict[str, str]) -> str | None:
    return {
        "no key": None,
        "malformed key": "not-a-key",
        "unknown key": "amends_0123456789ab_" + "x" * 43,
        "revoked key": keys["revoked"],
        "scope too low": keys[_BELOW[needed].value] if needed in _BELOW else None,
        "right scope": keys[needed.value] if needed else None,
    }[case]


def _operations(app: FastAPI) -> dict[tuple[str, str], dict[str, object]]:
    return {
        (method.upper(), path.removeprefix(API)): operation
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(API)
        for method, operation in operations.items()
    }


def test_the_table_covers_every_api_route(app: FastAPI) -> None:
    """Read from the OpenAPI document: every operation the API publishes."""
    assert set(_operations(app)) == {(method, template) for method, template, _, _ in ROUTES}


def test_openapi_publishes_the_scope_each_route_enforces(app: FastAPI) -> None:
    operations = _operations(app)
    for method, template, _, needed in ROUTES:
        operation = operations[(method, template)]
        if needed is None:
            assert "security" not in operation, template
            assert "401" not in operation["responses"], template  # type: ignore[operator]
            continue
        assert operation["security"] == [
            {"HTTPBearer": [needed.value]},
            {"APIKeyHeader": [needed.value]},
        ], (method, template)
        assert {"401", "403"} <= set(operation["responses"]), template  # type: ignore[arg-type]


def test_docs_list_every_route_with_its_scope() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    row = r"^\| (GET|PUT|PATCH|POST|DELETE) \| `([^`]+)` \| (\w+) \|"
    rows = re.findall(row, docs, re.MULTILINE)
    documented = {(method, path.removeprefix(API), scope) for method, path, scope in rows}
    assert documented == {
        (method, template, needed.value if needed else "none")
        for method, template, _, needed in ROUTES
    }


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [(method, path, needed) for method, _, path, needed in ROUTES],
    ids=[f"{method} {template}" for method, template, _, _ in ROUTES],
)
async def test_route_auth(
    client: httpx.AsyncClient,
    keys: dict[str, str],
    subtests: pytest.Subtests,
    method: str,
    path: str,
    needed: Scope | None,
) -> None:
    """Each route against each caller (one app per route; the callers are subtests)."""
    for case in CASES:
        if case == "scope too low" and needed not in _BELOW:
            continue  # nothing is below read, or public
        with subtests.test(case):
            key = _key(case, needed, keys)
            headers = bearer(key) if key else None
            body = {} if method in ("POST", "PUT") else None
            response = await client.request(method, API + path, headers=headers, json=body)
            if case == "right scope" or needed is None:
                # Past the gate: whatever happens next (2xx, 404, 422) is not about auth.
                assert response.status_code not in (401, 403), response.text
                continue
            if case == "scope too low":
                error_of(response, 403, "forbidden")
                continue
            error_of(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("scheme", ["bearer", "x-api-key"])
async def test_both_header_schemes(
    client: httpx.AsyncClient, keys: dict[str, str], scheme: str
) -> None:
    key = keys["read"]
    headers = bearer(key) if scheme == "bearer" else {"X-API-Key": key}
    response = await client.get(f"{API}/customers", headers=headers)
    assert response.status_code == 200


async def test_another_authorization_scheme_is_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/customers", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    error_of(response, 401, "unauthorized")


async def test_a_read_key_cannot_write_but_a_write_key_can_read(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    read = {"X-API-Key": keys["read"]}
    write = {"X-API-Key": keys["write"]}
    url = f"{API}/components/dns"
    error = error_of(await client.put(url, json={"name": "DNS"}, headers=read), 403, "forbidden")
    assert "'write'" in error["message"]
    assert (await client.put(url, json={"name": "DNS"}, headers=write)).status_code == 200
    assert (await client.get(f"{API}/customers", headers=write)).status_code == 200


async def test_public_endpoints_need_no_key(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    spec = await client.get(f"{API}/openapi.json")
    assert spec.status_code == 200
    schemes = spec.json()["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert (await client.get(f"{API}/docs")).status_code == 200
    assert (await client.get(f"{API}/components")).status_code == 200
    assert (await client.get(f"{API}/status")).status_code == 200


async def test_api_keys_over_the_api(
    app: FastAPI, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    admin = bearer(keys["admin"])
    created = await client.post(
        f"{API}/apikeys", json={"scope": "read", "name": "statuspage"}, headers=admin
    )
    assert created.status_code == 201, created.text
    new_key, prefix = created.json()["key"], created.json()["prefix"]
    secret = new_key.split("_", 2)[2]
    as_new = {"X-API-Key": new_key}
    assert (await client.get(f"{API}/incidents", headers=as_new)).status_code == 200
    error_of(await client.post(f"{API}/incidents", json={}, headers=as_new), 403, "forbidden")

    # Only a hash is stored: the secret is nowhere in the row.
    with app.state.sessions() as session:
        row = session.execute(text("SELECT * FROM api_keys WHERE prefix = :p"), {"p": prefix}).one()
    assert secret not in " ".join(str(v) for v in row)
    assert row.secret_hash != secret and len(row.secret_hash) == 64

    listing = await client.get(f"{API}/apikeys", headers=admin)
    assert prefix in {k["prefix"] for k in listing.json()}
    assert all("key" not in k for k in listing.json())
    assert secret not in listing.text

    revoked = await client.delete(f"{API}/apikeys/{prefix}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    error_of(await client.get(f"{API}/incidents", headers=as_new), 401, "unauthorized")
    error_of(await client.delete(f"{API}/apikeys/ffffffffffff", headers=admin), 404, "not_found")


async def test_key_creation_is_validated(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["admin"])
    for body, field in [
        ({"scope": "root"}, "scope"),
        ({"scope": "read", "name": "x" * 201}, "name"),
        ({"scope": "read", "secret": "mine"}, "secret"),
    ]:
        response = await client.post(f"{API}/apikeys", json=body, headers=admin)
        assert error_of(response, 422, "validation_failed")["field"] == field


def _snapshot(session: Session) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table except the keys (whose ``last_used_at`` a GET may touch)."""
    return {
        table.name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
        for table in metadata.sorted_tables
        if table.name != ApiKey.__tablename__
    }


async def test_no_get_changes_anything(
    app: FastAPI, client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    """Links never act on GET: mail scanners and chat previews fetch them."""
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        owner = factories.customer(session, external_id="c1")
        factories.site(session, owner, ["dns", "web-hosting"])
    admin = bearer(issue_key(app, Scope.admin))
    opened = await client.post(
        f"{API}/incidents",
        json={"title": "DNS", "components": {"dns": "major_outage"}},
        headers=admin,
    )
    assert opened.status_code == 201
    await client.post(
        f"{API}/subscribers", json={"kind": "email", "address": "a@example.com"}, headers=admin
    )
    drafted = await client.post(
        f"{API}/intake/events", json={"id": "probe", "components": ["dns"]}, headers=admin
    )
    assert drafted.status_code == 200, drafted.text
    notice = await client.post(f"{API}/incidents/1/drafts", json={"kind": "update"}, headers=admin)
    assert notice.status_code == 201, notice.text
    with app.state.sessions() as session:
        before = _snapshot(session)
    for method, _, path, _ in ROUTES:
        if method == "GET":
            response = await client.get(API + path, headers=admin)
            assert response.status_code == 200, (path, response.text)
    with app.state.sessions() as session:
        assert _snapshot(session) == before
