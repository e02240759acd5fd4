"""Mounting the console under ``/console`` in the FastAPI app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from limits import parse, storage, strategies

from amends.config import Settings
from amends.console import (
    apikeys,
    apology,
    auditlog,
    compensation,
    configuration,
    drafts,
    incidents,
    maintenance,
    policies,
    sending,
    signin,
    users,
)
from amends.console.access import Refused, SignInNeeded, sign_in_url
from amends.console.pages import HEADERS, templates

STATIC = Path(__file__).parent / "static"
ROUTERS = (
    signin.router,
    incidents.router,
    apology.router,
    drafts.router,
    maintenance.router,
    compensation.router,
    sending.router,
    auditlog.router,
    users.router,
    apikeys.router,
    configuration.router,
    policies.router,
)


def install(app: FastAPI, settings: Settings) -> None:
    """Routes, static files (htmx, CSS) and the answers to refused requests."""
    limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
    app.state.console_login_limit = (limiter, parse(f"{settings.console_login_rate_per_ip}/minute"))
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(SignInNeeded, _to_sign_in)
    app.add_exception_handler(Refused, _refused)


def _to_sign_in(request: Request, exc: Exception) -> Response:
    target = sign_in_url(request)
    if request.headers.get("HX-Request"):
        # htmx would swap the sign-in page into a fragment: have it navigate instead.
        return Response(status_code=401, headers={"HX-Redirect": target, **HEADERS})
    return RedirectResponse(target, status_code=302, headers=HEADERS)


def _refused(request: Request, exc: Exception) -> Response:
    reason = exc.reason if isinstance(exc, Refused) else "refused"
    return templates.TemplateResponse(
        request,
        "refused.html",
        {"me": None, "reason": reason, "clock": None},
        status_code=403,
        headers=HEADERS,
    )
