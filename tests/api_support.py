"""What the API tests share: the real app in-process, keys, and the error shape.

Plain functions rather than fixtures, so each test module declares its own
fixtures in a few lines and nothing is imported by name into a test signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from amends.api.app import API_PREFIX
from amends.apikeys import service as apikey_service
from amends.apikeys.models import Scope
from amends.db import unit_of_work

API = API_PREFIX


@asynccontextmanager
async def in_process(
    app: FastAPI, *, key: str | None = None, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in-process, inside the app's lifespan."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    headers = {"X-API-Key": key} if key else {}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://amends.test", headers=headers) as c,
    ):
        yield c


def issue_key(app: FastAPI, scope: Scope, name: str = "test") -> str:
    """A committed key of this scope, as `amends apikey create` would issue it."""
    with unit_of_work(app.state.sessions) as session:
        return apikey_service.create(session=session, scope=scope, name=name)[1]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error shape, status and stable code; return the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    assert error["message"], error
    assert "field" in error, error
    assert "Traceback" not in response.text
    return error


def issue_key_for(settings: object, scope: Scope, name: str = "test") -> str:
    """A committed key in the database of ``settings`` (for tests against a real server)."""
    from amends.db import make_engine, session_factory

    engine = make_engine(settings.database_url)  # type: ignore[attr-defined]
    try:
        with unit_of_work(session_factory(engine)) as session:
            return apikey_service.create(session=session, scope=scope, name=name)[1]
    finally:
        engine.dispose()
