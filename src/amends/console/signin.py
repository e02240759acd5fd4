"""Signing in and out.

The sign-in form has no session yet, so its CSRF value is a double submit: a
random value in a cookie scoped to the form (SameSite=Strict) and in the
form. Attempts are throttled per IP here (in memory, ``limits``) and per
account in users.service (in the database). A wrong address, a wrong
password, a locked account and a throttled IP all get the same answer.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from amends.console.access import COOKIE, Guard, OperatorDep, client_ip, safe_next
from amends.console.deps import SessionDep
from amends.console.pages import HEADERS, render
from amends.users import auditlog, sessions
from amends.users import service as user_service

router = APIRouter(include_in_schema=False, dependencies=[Guard])
LOGIN_COOKIE = "amends_console_login"
FAILED = "That e-mail and password do not match an account that may sign in now."


def _secure(request: Request) -> bool:
    settings = request.app.state.settings
    return request.url.scheme == "https" or str(settings.public_url).startswith("https://")


def _form(request: Request, error: str = "", status_code: int = 200, email: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", None, status_code=status_code, error=error, csrf=token,
        email=email, next=safe_next(request.query_params.get("next")),
    )  # fmt: skip
    response.set_cookie(
        LOGIN_COOKIE, token, path="/console/login", httponly=True, samesite="strict",
        secure=_secure(request), max_age=3600,
    )  # fmt: skip
    return response


@router.get("/console/login")
def login_page(request: Request) -> Response:
    return _form(request)


@router.post("/console/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/console/",
) -> Response:
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not (csrf and cookie and hmac.compare_digest(csrf, cookie)):
        return _form(request, "The form expired; please sign in again.", 403, email)
    ip = client_ip(request)
    limiter, rate = request.app.state.console_login_limit
    if not limiter.hit(rate, "console-login", ip):
        auditlog.record(
            session=session, actor=email.strip().lower()[:320] or "-", action="signin.throttled",
            ip=ip,
        )  # fmt: skip
        return _form(request, FAILED, 429, email)
    outcome = user_service.authenticate(session=session, email=email, password=password)
    if not outcome.ok or outcome.user is None:
        auditlog.record(
            session=session, actor=email.strip().lower()[:320] or "-",
            action="signin.locked" if outcome.locked else "signin.failed", ip=ip,
        )  # fmt: skip
        return _form(request, FAILED, 401, email)
    settings = request.app.state.settings
    _row, token = sessions.start(
        session=session, user=outcome.user, ip=ip,
        lifetime=dt.timedelta(hours=settings.console_session_hours),
    )  # fmt: skip
    auditlog.record(session=session, actor=outcome.user.email, action="signin", ip=ip)
    response = RedirectResponse(safe_next(next), status_code=303, headers=HEADERS)
    response.set_cookie(
        COOKIE, token, path="/console", httponly=True, samesite="lax", secure=_secure(request),
        max_age=int(settings.console_session_hours * 3600),
    )  # fmt: skip
    response.delete_cookie(LOGIN_COOKIE, path="/console/login")
    return response


@router.post("/console/logout")
def logout(request: Request, session: SessionDep, me: OperatorDep) -> Response:
    sessions.end(session=session, token=request.cookies.get(COOKIE, ""))
    auditlog.record(session=session, actor=me.email, action="signout", ip=me.ip)
    response = RedirectResponse("/console/login", status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path="/console")
    return response
