"""One error shape everywhere, a unit of work per request, and no tracebacks out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from amends.api.app import API_PREFIX, create_app
from amends.api.auth import Writer
from amends.api.deps import SessionDep
from amends.apikeys import service as apikey_service
from amends.apikeys.models import Scope
from amends.catalog import service as catalog_service
from amends.config import Settings
from amends.db import unit_of_work
from amends.errors import Conflict

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    # Test-only routes, added to this app instance only: never part of the product.
    @app.get(f"{API_PREFIX}/_test/boom", dependencies=[Writer])
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @app.post(f"{API_PREFIX}/_test/half-done", dependencies=[Writer])
    def half_done(session: SessionDep) -> None:
        catalog_service.save_component(session=session, key="half", name="Half")
        raise Conflict("changed my mind", field="key")

    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: see the 500 the client sees, not the re-raise
    # Starlette does so that the server logs it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport,
            base_url="http://amends.test",
            headers={"X-API-Key": _key(app, Scope.write)},
        ) as client,
    ):
        yield client


def _key(app: FastAPI, scope: Scope) -> str:
    with unit_of_work(app.state.sessions) as session:
        return apikey_service.create(session=session, scope=scope, name="test")[1]


async def test_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API_PREFIX}/components/nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "no component 'nope'", "field": "component"}
    }


async def test_unknown_route_has_the_same_shape(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API_PREFIX}/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    wrong_method = await client.patch(f"{API_PREFIX}/components")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/incidents", {"title": "DNS down"}, "components"),
        ("/incidents", {"title": "DNS", "components": {"dns": "on fire"}}, "components.dns"),
        ("/customers", {"external_id": "c1", "name": "Ann", "email": "not-an-email"}, "email"),
        ("/subscribers", {"kind": "carrier-pigeon", "address": "x"}, "kind"),
    ],
)
async def test_request_validation_names_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, object], field: str
) -> None:
    response = await client.post(API_PREFIX + path, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["field"] == field
    assert error["message"]
    assert error["errors"][0]["field"] == field


async def test_query_validation_names_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API_PREFIX}/customers", params={"limit": 0})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "limit"


async def test_domain_validation_keeps_its_code_and_field(client: httpx.AsyncClient) -> None:
    response = await client.put(f"{API_PREFIX}/components/bad key!", json={})
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "validation_failed",
        "message": "component key must be 1-64 letters, digits, '-' or '_'",
        "field": "key",
    }


async def test_conflict(client: httpx.AsyncClient) -> None:
    body = {"kind": "email", "address": "ops@example.com"}
    assert (await client.post(f"{API_PREFIX}/subscribers", json=body)).status_code == 201
    again = await client.post(f"{API_PREFIX}/subscribers", json=body)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


async def test_a_500_carries_an_id_and_no_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="amends.api"):
        response = await client.get(f"{API_PREFIX}/_test/boom")
    assert response.status_code == 500
    body = response.json()
    error_id = body["error"].pop("id")
    assert body == {"error": {"code": "internal", "message": "internal error"}}
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged, "the id must be findable in the log"
    assert logged[0].exc_info is not None, "the log carries the traceback"


async def test_a_failed_request_saves_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API_PREFIX}/_test/half-done")
    assert response.status_code == 409
    assert (await client.get(f"{API_PREFIX}/components/half")).status_code == 404


async def test_a_successful_request_is_committed(app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.put(f"{API_PREFIX}/components/dns", json={"name": "DNS"})
    assert response.status_code == 200
    with unit_of_work(app.state.sessions) as session:
        assert catalog_service.get_component(session=session, key="dns").name == "DNS"


async def test_health_reports_an_unreachable_database(tmp_path: object) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", auto_migrate=False
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://amends.test") as client,
    ):
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
