"""One error shape everywhere, a unit of work per request, and no tracebacks out."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from amends import errors as domain_errors
from amends.api import auth
from amends.api.app import API_PREFIX, create_app
from amends.api.auth import Writer
from amends.api.deps import SessionDep
from amends.api.errors import CODES
from amends.apikeys import service as apikey_service
from amends.apikeys.models import Scope
from amends.catalog import service as catalog_service
from amends.config import Settings
from amends.db import unit_of_work
from amends.errors import Conflict
from tests.api_support import error_of, in_process

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

    @app.post(f"{API_PREFIX}/_test/duplicate", dependencies=[Writer])
    def duplicate(session: SessionDep) -> None:
        """What a race between two creators looks like: the database says no."""
        for _ in range(2):
            session.execute(
                text(
                    "INSERT INTO components (key, name, description, position, created_at) "
                    "VALUES ('dup', 'Dup', '', 0, CURRENT_TIMESTAMP)"
                )
            )

    @app.get(f"{API_PREFIX}/_test/no-table", dependencies=[Writer])
    def no_table(session: SessionDep) -> None:
        session.execute(text("SELECT * FROM no_such_table_password_hunter2"))

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
    assert body == {"error": {"code": "internal", "message": "internal error", "field": None}}
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


async def test_a_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{API_PREFIX}/incidents",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert error_of(response, 422, "validation_failed")["field"] == "body"


async def test_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    """A typo must not silently become "started now"."""
    body = {"title": "DNS", "components": {}, "startd_at": "2012-09-10T10:25:00-07:00"}
    response = await client.post(f"{API_PREFIX}/incidents", json=body)
    assert error_of(response, 422, "validation_failed")["field"] == "startd_at"


async def test_a_constraint_violation_is_a_conflict_without_sql(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="amends.api"):
        response = await client.post(f"{API_PREFIX}/_test/duplicate")
    error = error_of(response, 409, "conflict")
    assert error["id"] and "INSERT" not in response.text and "dup" not in response.text
    assert any(error["id"] in r.getMessage() for r in caplog.records)
    assert (await client.get(f"{API_PREFIX}/components/dup")).status_code == 404


async def test_broken_sql_is_a_500_on_both_databases(client: httpx.AsyncClient) -> None:
    """SQLite reports a missing table as an OperationalError; it is still our bug, not an outage."""
    response = await client.get(f"{API_PREFIX}/_test/no-table")
    error_of(response, 500, "internal")
    assert "hunter2" not in response.text and "SELECT" not in response.text


async def test_an_unreachable_database_is_unavailable() -> None:
    url = "postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none"
    app = create_app(Settings(database_url=url, auto_migrate=False))
    async with in_process(app, key="amends_0123456789ab_" + "x" * 43) as client:
        response = await client.get(f"{API_PREFIX}/customers")
    error_of(response, 503, "unavailable")
    assert response.headers["Retry-After"]
    assert "hunter2" not in response.text and "127.0.0.1" not in response.text


def test_every_code_is_documented() -> None:
    """The codes are the contract: each one the API can answer with is in docs/api.md."""
    raised = {
        cls.code
        for cls in (
            domain_errors.AmendsError,
            domain_errors.NotFound,
            domain_errors.Conflict,
            domain_errors.InvalidTransition,
            domain_errors.InvalidTime,
            domain_errors.ValidationFailed,
            auth.Unauthorized,
            auth.Forbidden,
        )
    }
    assert raised <= set(CODES)
    docs = (Path(__file__).parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    section = docs.split("### Error codes", 1)[1].split("\n#", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert documented == set(CODES)
