"""Who may do what in the console: every route × every role × anonymous, from one
table (checked against the app's routes both ways), plus CSRF refusal, session
expiry and idle timeout, sign-out, sign-in throttling and the cookie's flags.
Both databases."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select, update

from amends import flows
from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.console.access import ACCESS
from amends.console.web import ROUTERS
from amends.db import unit_of_work, utcnow
from amends.incidents.models import ComponentStatus
from amends.messages.drafts import service as drafts_service
from amends.users import service as user_service
from amends.users.models import LoginSession, Role
from tests import factories
from tests.api_support import in_process, issue_key
from tests.console_support import add_users, email_of, form_token, sign_in, signed_in

pytestmark = pytest.mark.anyio

#: A draft's texts as the editor posts them.
TEXTS = {f"{lang}.{part}": "Hello {{ name }}: {{ sites }}." for lang in ("es", "en")
         for part in ("subject", "email", "sms", "voice")}  # fmt: skip

#: (method, route, data posted, status for a caller who may) — {incident_id},
#: {draft_id}, {user_id} (someone else) and {prefix} (a fresh API key) are filled in.
ROUTES: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/console/login", {}, 200),
    # no sign-in form was fetched, so its double-submit cookie is missing: refused as CSRF
    ("POST", "/console/login", {"email": "x@y.io", "password": "p"}, 403),
    ("POST", "/console/logout", {}, 303),
    ("GET", "/console/", {}, 200),
    ("GET", "/console/clock", {}, 200),
    ("GET", "/console/incidents/new", {}, 200),
    ("GET", "/console/incidents/impact", {"component": "dns"}, 200),
    ("POST", "/console/incidents", {"title": "Mail slow", "component": "email"}, 303),
    ("GET", "/console/incidents/{incident_id}", {}, 200),
    ("GET", "/console/incidents/{incident_id}/ledger/stream", {}, 200),
    ("POST", "/console/incidents/{incident_id}/retry", {}, 303),
    ("POST", "/console/incidents/{incident_id}/pause", {}, 303),
    ("POST", "/console/incidents/{incident_id}/resume", {"notice": ""}, 303),
    (
        "POST",
        "/console/incidents/{incident_id}/updates",
        {"status": "identified", "message": "Found it", "notify": "on"},
        303,
    ),
    ("POST", "/console/incidents/{incident_id}/resolve", {"message": "Fixed"}, 303),
    ("GET", "/console/incidents/{incident_id}/apology", {}, 200),
    ("POST", "/console/incidents/{incident_id}/apology/request", {}, 303),
    # the incident is still open: refused by the flow, after access was granted
    ("POST", "/console/incidents/{incident_id}/apology", {}, 409),
    ("POST", "/console/check", {"text": "Sorry.", "lang": "en"}, 200),
    ("GET", "/console/incidents/{incident_id}/drafts", {}, 200),
    ("POST", "/console/incidents/{incident_id}/drafts", {"kind": "correction"}, 303),
    ("GET", "/console/incidents/{incident_id}/drafts/{draft_id}", {}, 200),
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}", TEXTS, 303),
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}/check", TEXTS, 200),
    ("GET", "/console/incidents/{incident_id}/drafts/{draft_id}/preview", {"channel": "sms"}, 200),
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}/request", {}, 303),
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}/send", {}, 303),
    ("POST", "/console/incidents/{incident_id}/drafts/{draft_id}/discard", {}, 303),
    ("GET", "/console/maintenance/new", {}, 200),
    (
        "POST",
        "/console/maintenance",
        {
            "title": "Name server upgrade",
            "component": "dns",
            "starts_at": "2030-01-01T02:00",
            "ends_at": "2030-01-01T04:00",
            "offset": "+01:00",
        },
        303,
    ),
    ("GET", "/console/incidents/{incident_id}/credits", {}, 200),
    ("POST", "/console/incidents/{incident_id}/credits", {"policy": "godaddy-2012"}, 303),
    ("GET", "/console/audit", {}, 200),
    ("GET", "/console/audit.csv", {}, 200),
    ("GET", "/console/users", {}, 200),
    ("POST", "/console/users", {"email": "new@console.example", "role": "viewer"}, 200),
    ("GET", "/console/users/{user_id}", {}, 200),
    ("POST", "/console/users/{user_id}/role", {"role": "communicator"}, 303),
    ("POST", "/console/users/{user_id}/disable", {}, 303),
    ("POST", "/console/users/{user_id}/enable", {}, 303),
    ("POST", "/console/users/{user_id}/password", {}, 200),
    ("POST", "/console/users/{user_id}/end-sessions", {}, 303),
    ("GET", "/console/apikeys", {}, 200),
    ("POST", "/console/apikeys", {"scope": "read", "label": "access test"}, 200),
    ("GET", "/console/apikeys/{prefix}/revoke", {}, 200),
    ("POST", "/console/apikeys/{prefix}/revoke", {}, 303),
    ("GET", "/console/settings", {}, 200),
    ("GET", "/console/policies", {}, 200),
    ("POST", "/console/policies", {"document": 'key = "access-test"\nkind = "flat"\n'}, 303),
]
CALLERS: list[Role | None] = [None, *Role]


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2 at its lowest cost: these tests sign in dozens of times (test_users
    checks the real parameters)."""
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    yield


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"console_login_rate_per_ip": 1000}))
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        owner = factories.customer(session)
        factories.site(session, owner, ["dns", "web-hosting", "email"])
    add_users(app)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def _new_incident(app: FastAPI) -> int:
    with unit_of_work(app.state.sessions) as session:
        incident, _ = flows.open_incident(
            session=session,
            title="DNS down",
            components={"dns": ComponentStatus.major_outage},
            notify=False,  # nothing left to send: the ledger's event stream ends at once
        )
        return incident.id


def _target_user(app: FastAPI) -> int:
    """Someone for the admin routes to act on (not the signed-in callers)."""
    with unit_of_work(app.state.sessions) as session:
        return user_service.create_user(
            session=session, email=f"target-{uuid.uuid4().hex[:8]}@console.example",
            role=Role.viewer, password="a long enough passphrase",
        ).id  # fmt: skip


def test_every_console_route_is_in_the_table_and_the_test() -> None:
    served = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert served == set(ACCESS)
    assert {(m, p) for m, p, _, _ in ROUTES} == set(ACCESS)


def _new_draft(app: FastAPI, incident_id: int) -> int:
    with unit_of_work(app.state.sessions) as session:
        return drafts_service.create(
            session=session, incident_id=incident_id, kind="correction", who="someone@else.example",
            company="Hosting", public_url="https://status.example",
        ).id  # fmt: skip


@pytest.mark.parametrize(
    ("method", "route", "data", "ok"), ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES]
)
async def test_route_access(
    app: FastAPI, method: str, route: str, data: dict[str, Any], ok: int
) -> None:
    needed = ACCESS[(method, route)]
    for caller in CALLERS:
        incident_id = _new_incident(app)
        path = route.format(
            incident_id=incident_id,
            draft_id=_new_draft(app, incident_id),
            user_id=_target_user(app),
            prefix=issue_key(app, Scope.read)[len("amends_") :][:12],
        )
        async with in_process(app) as client:
            csrf = await signed_in(client, caller) if caller else ""
            if method == "GET":
                answer = await client.get(path, params=data)
            else:
                answer = await client.post(path, data={**data, "csrf": csrf})
        where = f"{caller} {method} {path}"
        if needed is None:
            assert answer.status_code == ok, where
        elif caller is None:
            assert answer.status_code == 302, where
            assert answer.headers["location"].startswith("/console/login?next="), where
        elif not caller.allows(needed):
            assert answer.status_code == 403, where
            assert "needs the" in answer.text
        else:
            assert answer.status_code == ok, f"{where}: {answer.text[:500]}"
        assert answer.headers.get("cache-control") == "no-store", where


async def test_an_htmx_request_without_a_session_is_told_to_navigate(app: FastAPI) -> None:
    async with in_process(app) as client:
        answer = await client.get("/console/clock", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"].startswith("/console/login")


@pytest.fixture
async def approver(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with in_process(app) as client:
        yield client, await signed_in(client, Role.approver)


async def test_a_post_without_the_sessions_token_is_refused_and_changes_nothing(
    app: FastAPI, approver: tuple[httpx.AsyncClient, str]
) -> None:
    client, csrf = approver
    incident_id = _new_incident(app)
    path = f"/console/incidents/{incident_id}/resolve"
    for token in ("", "forged", csrf[:-1]):
        refused = await client.post(path, data={"message": "Fixed", "csrf": token})
        assert refused.status_code == 403
        assert "security token" in refused.text
    page = await client.get(f"/console/incidents/{incident_id}")
    assert '<strong class="status">investigating</strong>' in page.text
    # another session's token is no better
    async with in_process(app) as other:
        theirs = await signed_in(other, Role.admin)
    assert (await client.post(path, data={"message": "x", "csrf": theirs})).status_code == 403
    # the header htmx sends is accepted like the form field
    done = await client.post(path, data={"message": "Fixed"}, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 303


async def test_sign_in_needs_the_forms_own_cookie(app: FastAPI) -> None:
    async with in_process(app) as client:
        page = await client.get("/console/login")
        token = form_token(page.text)
        client.cookies.clear()
        answer = await client.post(
            "/console/login",
            data={"email": email_of(Role.admin), "password": "a long enough passphrase",
                  "csrf": token},
        )  # fmt: skip
        assert answer.status_code == 403
        assert "amends_console" not in {c for c in client.cookies if c == "amends_console"}


async def test_the_session_cookie_is_http_only_lax_and_scoped(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"public_url": "https://status.example"}))
    add_users(app)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://amends.test") as client,
    ):
        answer = await sign_in(client, email_of(Role.viewer))
    assert answer.status_code == 303, answer.text
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith("amends_console=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite=lax", "path=/console"} <= flags


@pytest.mark.parametrize("how", ["expired", "idle", "signed out"])
async def test_a_dead_session_sends_the_browser_back_to_sign_in(
    app: FastAPI, approver: tuple[httpx.AsyncClient, str], how: str
) -> None:
    client, csrf = approver
    assert (await client.get("/console/")).status_code == 200
    cookie = client.cookies["amends_console"]
    if how == "signed out":
        assert (await client.post("/console/logout", data={"csrf": csrf})).status_code == 303
        client.cookies.set("amends_console", cookie, domain="amends.test", path="/console")
    else:
        past = utcnow() - dt.timedelta(minutes=31)
        column = LoginSession.expires_at if how == "expired" else LoginSession.last_seen_at
        with unit_of_work(app.state.sessions) as session:
            session.execute(update(LoginSession).values({column: past}))
    answer = await client.get("/console/incidents/new")
    assert answer.status_code == 302
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Fincidents%2Fnew"


async def test_sign_in_is_throttled_per_ip_and_per_account(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"console_login_rate_per_ip": 3}))
    add_users(app)
    async with in_process(app) as client:
        for _ in range(3):
            assert (await sign_in(client, "nobody@console.example")).status_code == 401
        throttled = await sign_in(client, email_of(Role.admin))  # right password, too many tries
        assert throttled.status_code == 429
        assert "do not match" in throttled.text
    app = create_app(settings.model_copy(update={"console_login_rate_per_ip": 1000}))
    async with in_process(app) as client:
        for _ in range(user_service.MAX_FAILURES):
            assert (await sign_in(client, email_of(Role.viewer), "wrong!")).status_code == 401
        locked = await sign_in(client, email_of(Role.viewer))
        assert locked.status_code == 401
        assert (await sign_in(client, email_of(Role.admin))).status_code == 303
        log = await client.get("/console/audit.csv")
    rows = [line.split(",") for line in log.text.splitlines()[1:]]
    viewer = [action for _, actor, action, *_ in reversed(rows) if actor == email_of(Role.viewer)]
    # the fifth failure locks the account; the right password then meets the lock
    assert viewer == ["signin.failed"] * 4 + ["signin.locked"] * 2
    assert "signin.throttled" in {action for _, _, action, *_ in rows}


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/elsewhere"])
async def test_sign_in_never_redirects_off_the_console(app: FastAPI, target: str) -> None:
    async with in_process(app) as client:
        page = await client.get("/console/login")
        answer = await client.post(
            "/console/login",
            data={"email": email_of(Role.viewer), "password": "a long enough passphrase",
                  "csrf": form_token(page.text), "next": target},
        )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"


async def test_polls_and_streams_do_not_keep_a_session_alive(
    app: FastAPI, approver: tuple[httpx.AsyncClient, str]
) -> None:
    client, _csrf = approver
    before = utcnow() - dt.timedelta(minutes=20)
    with unit_of_work(app.state.sessions) as session:
        session.execute(update(LoginSession).values(last_seen_at=before))
    assert (await client.get("/console/clock")).status_code == 200
    with unit_of_work(app.state.sessions) as session:
        (seen,) = session.scalars(select(LoginSession.last_seen_at)).all()
    assert abs((seen - before).total_seconds()) < 1  # the poll did not count as activity
    assert (await client.get("/console/")).status_code == 200
    with unit_of_work(app.state.sessions) as session:
        (seen,) = session.scalars(select(LoginSession.last_seen_at)).all()
    assert seen > before + dt.timedelta(minutes=19)  # a page the person opened did
