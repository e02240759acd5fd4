"""The web application: one factory that wires settings, database and routers.

``create_app(settings)`` is the only way to build it, for ``amends serve`` and
for tests alike (which drive it with an in-process client). Nothing connects
at import time; the engine is built here and disposed when the app shuts down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from amends import __version__ as amends_version
from amends.api import (
    apikeys,
    apologies,
    audit,
    availability,
    calls,
    components,
    credit_webhooks,
    credits,
    customers,
    deliveries,
    drafts,
    errors,
    facts,
    impact,
    incidents,
    intake,
    rate,
    receipts,
    redeem,
    report,
    statuspage,
    subscribe,
    subscribers,
    unsubscribe,
)
from amends.cadence import holding
from amends.config import Settings
from amends.console import web as console
from amends.db import init_engine, read_only, session_factory
from amends.delivery.dispatch import Dispatcher, InlineWorker
from amends.intake import rules as intake_rules

API_PREFIX = "/api/v1"

_DESCRIPTION = """\
Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`
(`amends apikey create --scope read|write|admin`). Each operation's security
requirement names the scope it needs; reading components and their status
needs none.

Times are ISO 8601 with an offset. Every error is
`{"error": {"code", "message", "field"}}` with a stable `code`.
"""

ROUTERS: tuple[APIRouter, ...] = (
    components.router,
    customers.router,
    subscribers.router,
    incidents.router,
    intake.router,
    apologies.router,
    drafts.router,
    facts.router,
    audit.router,
    impact.router,
    deliveries.router,
    receipts.router,
    availability.router,
    credit_webhooks.router,
    credits.router,
    apikeys.router,
    calls.router,
    report.router,
)


def create_app(settings: Settings, *, start_dispatch: bool = False) -> FastAPI:
    """Build the app for these settings (migrating the database if they allow).

    ``start_dispatch``: run the inline delivery worker while the app runs
    (``amends serve`` does; tests that only drive the API do not)."""
    rules = intake_rules.load(settings.intake_rules_file)  # a bad file stops the start
    engine = init_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if settings.dispatch == "inline" and start_dispatch:
            # The embedded default: send owed notices from this process.
            worker = InlineWorker(
                Dispatcher(engine=engine, settings=settings),
                chore=partial(holding.post_overdue, sessions=session_factory(engine)),
            ).start()
            app.state.dispatch_worker = worker
        yield
        if worker is not None:
            worker.stop()
        engine.dispose()

    app = FastAPI(
        title="amends",
        version=amends_version,
        summary="Outage communication: who was hit, tell them, apologise, pay them back.",
        description=_DESCRIPTION,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.intake_rules = rules
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.read_sessions = session_factory(read_only(engine))
    app.state.read_engine = read_only(engine)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, responses=_ERROR_RESPONSES)
    redeem.install(app, settings)
    rate.install(app, settings)
    app.include_router(unsubscribe.router)
    subscribe.install(app, settings)
    console.install(app, settings)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/metrics", deliveries.metrics_endpoint, methods=["GET"], tags=["health"])
    # Last: the public status page's catch-all route must not shadow the API.
    statuspage.install(app, settings)
    return app


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory`` (and ``amends serve --reload``): settings from the environment."""
    return create_app(Settings(), start_dispatch=True)


def healthz(request: Request) -> JSONResponse:
    """Liveness for load balancers: no key, no personal data, one ``SELECT 1``.

    It uses a raw DB-API connection, not a Session, so on SQLite it never
    takes the writer lock (our sessions begin with ``BEGIN IMMEDIATE``) and
    answers even while a long import holds it.
    """
    engine: Engine = request.app.state.engine
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            connection.close()
    except Exception:
        errors.logger.exception("health check: database unreachable")
        return JSONResponse(
            status_code=503,
            content=errors.error_body("unavailable", "database unreachable", field=None),
        )
    return JSONResponse({"status": "ok", "database": engine.dialect.name})


_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "model": errors.ErrorOut}
    for status, text in (
        (404, "Not found (`not_found`)."),
        (409, "Conflicts with the current state (`conflict`, `invalid_transition`)."),
        (422, "Invalid input; `field` names where (`validation_failed`, `invalid_time`)."),
        (500, "Our bug (`internal`); the `id` finds it in the server log."),
    )
}
