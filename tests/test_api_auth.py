"""Every API route needs a key of the right scope: table-driven over all of them.

The table is checked against the app's own routes, so a new route without an
entry here fails the suite instead of shipping unprotected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from amends.api.app import API_PREFIX, create_app
from amends.apikeys import service as apikey_service
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.db import unit_of_work

#: (method, route template, concrete path, scope needed)
ROUTES: list[tuple[str, str, str, Scope]] = [
    ("GET", "/components", "/components", Scope.read),
    ("GET", "/status", "/status", Scope.read),
    ("GET", "/components/{key}", "/components/dns", Scope.read),
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
    ("POST", "/maintenance", "/maintenance", Scope.write),
    ("GET", "/incidents/{incident_id}/impact", "/incidents/1/impact", Scope.read),
    ("GET", "/incidents/{incident_id}/impact/export", "/incidents/1/impact/export", Scope.read),
    ("GET", "/apikeys", "/apikeys", Scope.admin),
    ("POST", "/apikeys", "/apikeys", Scope.admin),
    ("DELETE", "/apikeys/{prefix}", "/apikeys/0123456789ab", Scope.admin),
]

#: A caller and what they present; "below" is a valid key one scope too low.
CASES = ["no key", "malformed key", "unknown key", "revoked key", "scope too low", "right scope"]

_BELOW = {Scope.write: Scope.read, Scope.admin: Scope.write}


pytestmark = pytest.mark.anyio


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, with its lifespan (so the engine is disposed after)."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://amends.test") as client,
    ):
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


def _headers(case: str, needed: Scope, keys: dict[str, str]) -> dict[str, str] | None:
    key = {
        "no key": None,
        "malformed key": "not-a-key",
        "unknown key": "amends_0123456789ab_" + "x" * 43,
        "revoked key": keys["revoked"],
        "scope too low": keys[_BELOW[needed].value] if needed in _BELOW else None,
        "right scope": keys[needed.value],
    }[case]
    if key is None:
        return None
    return {"Authorization": f"Bearer {key}"}


def test_the_table_covers_every_api_route(app: FastAPI) -> None:
    """Read from the OpenAPI document: every operation the API publishes."""
    served = {
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(API_PREFIX)
        for method in operations
    }
    assert served == {(method, template) for method, template, _, _ in ROUTES}


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
    needed: Scope,
) -> None:
    """Each route against each caller (one app per route; the callers are subtests)."""
    for case in CASES:
        if case == "scope too low" and needed not in _BELOW:
            continue  # nothing is below read
        with subtests.test(case):
            headers = _headers(case, needed, keys)
            body = {} if method in ("POST", "PUT") else None
            response = await client.request(method, API_PREFIX + path, headers=headers, json=body)
            if case == "right scope":
                # Past the gate: whatever happens next (2xx, 404, 422) is not about auth.
                assert response.status_code not in (401, 403), response.text
                continue
            error = response.json()["error"]
            if case == "scope too low":
                assert response.status_code == 403, response.text
                assert error["code"] == "forbidden"
                continue
            assert response.status_code == 401, response.text
            assert error["code"] == "unauthorized"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("scheme", ["bearer", "x-api-key"])
async def test_both_header_schemes(
    client: httpx.AsyncClient, keys: dict[str, str], scheme: str
) -> None:
    key = keys["read"]
    headers = {"Authorization": f"Bearer {key}"} if scheme == "bearer" else {"X-API-Key": key}
    response = await client.get(f"{API_PREFIX}/components", headers=headers)
    assert response.status_code == 200


async def test_a_read_key_cannot_write_but_a_write_key_can_read(
    client: httpx.AsyncClient, keys: dict[str, str]
) -> None:
    read = {"X-API-Key": keys["read"]}
    write = {"X-API-Key": keys["write"]}
    url = f"{API_PREFIX}/components/dns"
    assert (await client.put(url, json={"name": "DNS"}, headers=read)).status_code == 403
    assert (await client.put(url, json={"name": "DNS"}, headers=write)).status_code == 200
    assert (await client.get(url, headers=write)).status_code == 200


async def test_public_endpoints_need_no_key(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    spec = await client.get(f"{API_PREFIX}/openapi.json")
    assert spec.status_code == 200
    schemes = spec.json()["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert (await client.get(f"{API_PREFIX}/docs")).status_code == 200


async def test_api_keys_over_the_api(client: httpx.AsyncClient, keys: dict[str, str]) -> None:
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    created = await client.post(
        f"{API_PREFIX}/apikeys", json={"scope": "read", "name": "statuspage"}, headers=admin
    )
    assert created.status_code == 201, created.text
    new_key, prefix = created.json()["key"], created.json()["prefix"]
    as_new = {"X-API-Key": new_key}
    assert (await client.get(f"{API_PREFIX}/incidents", headers=as_new)).status_code == 200

    listing = await client.get(f"{API_PREFIX}/apikeys", headers=admin)
    assert prefix in {k["prefix"] for k in listing.json()}
    assert all("key" not in k for k in listing.json())
    assert new_key.split("_", 2)[2] not in listing.text

    revoked = await client.delete(f"{API_PREFIX}/apikeys/{prefix}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await client.get(f"{API_PREFIX}/incidents", headers=as_new)).status_code == 401
