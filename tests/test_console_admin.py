"""The admin's screens through the real app, on both databases: an API key issued
from the console is shown once, works against the API with its scope and is
refused once revoked; a role change, disabling and enabling, a password reset
and ending sessions take effect at once; the last enabled admin can be neither
demoted nor disabled, also when two admins demote each other at the same
moment; every new form refuses a POST without the session's CSRF token; and
``amends user disable/enable``."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import Engine, select, text, update
from typer.testing import CliRunner

from amends.api.app import create_app
from amends.apikeys.models import ApiKey
from amends.cli import app as cli_app
from amends.config import Settings
from amends.db import is_postgres, unit_of_work, utcnow
from amends.users import admin
from amends.users import service as user_service
from amends.users.admin import LastAdmin
from amends.users.models import AuditEntry, LoginSession, Role, User
from tests import factories
from tests.api_support import API, in_process
from tests.console_support import PASSWORD, add_users, email_of, form_token, sign_in, signed_in

pytestmark = pytest.mark.anyio
KEY = re.compile(r"amends_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}")
SECOND_ADMIN = "second-admin@console.example"


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    app = create_app(settings.model_copy(update={"console_login_rate_per_ip": 1000}))
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
    add_users(app)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def _user(app: FastAPI, email: str) -> User:
    with unit_of_work(app.state.sessions) as session:
        user = user_service.get_user(session=session, email=email)
        session.expunge(user)
        return user


def _audit(app: FastAPI, action: str) -> list[AuditEntry]:
    with unit_of_work(app.state.sessions) as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        session.expunge_all()
        return rows


def _live_sessions(app: FastAPI, email: str) -> int:
    with unit_of_work(app.state.sessions) as session:
        user = user_service.get_user(session=session, email=email)
        rows = session.scalars(select(LoginSession).where(LoginSession.user_id == user.id))
        return len(rows.all())


async def test_a_key_is_shown_once_works_with_its_scope_and_is_refused_once_revoked(
    app: FastAPI,
) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.admin)
        answer = await client.post(
            "/console/apikeys", data={"csrf": csrf, "scope": "read", "label": "grafana"}
        )
        assert answer.status_code == 200, answer.text
        shown = KEY.findall(answer.text)
        assert len(shown) == 1, answer.text
        key = shown[0]
        prefix = key.split("_")[1]
        listing = await client.get("/console/apikeys")
        assert prefix in listing.text and "grafana" in listing.text
        assert key not in listing.text and key.split("_", 2)[2] not in listing.text

        async with in_process(app, key=key) as api:
            assert (await api.get(f"{API}/incidents")).status_code == 200
            write = await api.post(f"{API}/incidents", json={"title": "x", "components": {}})
            assert write.status_code == 403  # a read key reads only
            assert write.json()["error"]["code"] == "forbidden"
        with unit_of_work(app.state.sessions) as session:
            stored = session.scalars(select(ApiKey)).one()
            assert stored.last_used_at is not None  # tracked, and shown on the list
            raw = session.execute(text("SELECT * FROM api_keys")).mappings().one()
            assert all(key.split("_", 2)[2] not in str(value) for value in raw.values())

        confirm = await client.get(f"/console/apikeys/{prefix}/revoke")
        assert confirm.status_code == 200 and "Revoke the key" in confirm.text
        path = f"/console/apikeys/{prefix}/revoke"
        assert (await client.post(path, data={"csrf": "forged"})).status_code == 403
        async with in_process(app, key=key) as api:  # neither the GET nor the forgery revoked it
            assert (await api.get(f"{API}/incidents")).status_code == 200
        done = await client.post(path, data={"csrf": csrf})
        assert done.status_code == 303 and done.headers["location"] == "/console/apikeys"
        listing = await client.get("/console/apikeys")
        row = re.search(rf'<tr class="(\w+)" data-prefix="{prefix}">', listing.text)
        assert row and row.group(1) == "revoked"
    async with in_process(app, key=key) as api:
        refused = await api.get(f"{API}/incidents")
        assert refused.status_code == 401
    (issued,) = _audit(app, "apikey.create")
    (revoked,) = _audit(app, "apikey.revoke")
    assert (issued.actor, issued.target) == (email_of(Role.admin), prefix)
    assert "scope=read" in issued.detail and key not in issued.detail
    assert revoked.target == prefix


async def test_a_write_key_issued_in_the_console_may_write(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.admin)
        answer = await client.post("/console/apikeys", data={"csrf": csrf, "scope": "write"})
        (key,) = KEY.findall(answer.text)
        bad = await client.post("/console/apikeys", data={"csrf": csrf, "scope": "root"})
        assert bad.status_code == 422 and not KEY.findall(bad.text)
    async with in_process(app, key=key) as api:
        put = await api.put(f"{API}/components/cdn", json={"name": "CDN"})
        assert put.status_code in (200, 201), put.text
        assert (await api.get(f"{API}/apikeys")).status_code == 403  # admin scope manages keys


async def test_a_role_change_takes_effect_at_once(app: FastAPI) -> None:
    viewer = _user(app, email_of(Role.viewer))
    async with in_process(app) as them, in_process(app) as client:
        await signed_in(them, Role.viewer)
        assert (await them.get("/console/incidents/new")).status_code == 403
        csrf = await signed_in(client, Role.admin)
        page = await client.get(f"/console/users/{viewer.id}")
        assert page.status_code == 200 and "1 session" in page.text
        changed = await client.post(
            f"/console/users/{viewer.id}/role", data={"csrf": csrf, "role": "communicator"}
        )
        assert changed.status_code == 303
        ended = await them.get("/console/")
        assert ended.status_code == 302  # their session ended with the old role
        assert (await sign_in(them, email_of(Role.viewer))).status_code == 303
        assert (await them.get("/console/incidents/new")).status_code == 200
    assert _user(app, email_of(Role.viewer)).role is Role.communicator
    (entry,) = _audit(app, "user.role")
    assert (entry.target, entry.detail) == (email_of(Role.viewer), "role=communicator")


async def test_a_disabled_user_is_signed_out_and_cannot_sign_in_until_enabled(
    app: FastAPI,
) -> None:
    approver = _user(app, email_of(Role.approver))
    async with in_process(app) as them, in_process(app) as client:
        await signed_in(them, Role.approver)
        csrf = await signed_in(client, Role.admin)
        off = await client.post(f"/console/users/{approver.id}/disable", data={"csrf": csrf})
        assert off.status_code == 303
        assert (await them.get("/console/")).status_code == 302
        assert (await sign_in(them, email_of(Role.approver))).status_code == 401
        page = await client.get(f"/console/users/{approver.id}")
        assert "disabled since" in page.text and "Enable the account" in page.text
        users = await client.get("/console/users")
        assert re.search(
            r'<tr class="disabled"><td><a href="/console/users/\d+">approver@', users.text
        )
        on = await client.post(f"/console/users/{approver.id}/enable", data={"csrf": csrf})
        assert on.status_code == 303
        assert (await sign_in(them, email_of(Role.approver))).status_code == 303
    assert [e.action for e in _audit(app, "user.disable") + _audit(app, "user.enable")] == [
        "user.disable",
        "user.enable",
    ]


async def test_a_reset_password_is_shown_once_and_the_old_one_stops_working(
    app: FastAPI,
) -> None:
    viewer = _user(app, email_of(Role.viewer))
    async with in_process(app) as them, in_process(app) as client:
        await signed_in(them, Role.viewer)
        csrf = await signed_in(client, Role.admin)
        answer = await client.post(f"/console/users/{viewer.id}/password", data={"csrf": csrf})
        assert answer.status_code == 200
        found = re.search(r'<code class="password">([^<]+)</code>', answer.text)
        assert found
        password = found.group(1)
        assert password not in (await client.get(f"/console/users/{viewer.id}")).text
        assert (await them.get("/console/")).status_code == 302  # sessions ended
        assert (await sign_in(them, email_of(Role.viewer), PASSWORD)).status_code == 401
        assert (await sign_in(them, email_of(Role.viewer), password)).status_code == 303
    with unit_of_work(app.state.sessions) as session:
        stored = session.execute(text("SELECT password_hash FROM console_users")).scalars().all()
        assert all(password not in value for value in stored)
    (entry,) = _audit(app, "user.password_reset")
    assert password not in entry.detail


async def test_ending_someones_sessions_signs_them_out_everywhere(app: FastAPI) -> None:
    viewer = _user(app, email_of(Role.viewer))
    async with in_process(app) as laptop, in_process(app) as tablet, in_process(app) as client:
        await signed_in(laptop, Role.viewer)
        await signed_in(tablet, Role.viewer)
        assert _live_sessions(app, email_of(Role.viewer)) == 2
        csrf = await signed_in(client, Role.admin)
        ended = await client.post(f"/console/users/{viewer.id}/end-sessions", data={"csrf": csrf})
        assert ended.status_code == 303
        assert (await laptop.get("/console/")).status_code == 302
        assert (await tablet.get("/console/")).status_code == 302
        assert (await client.get("/console/")).status_code == 200  # the admin's own is untouched
    assert _live_sessions(app, email_of(Role.viewer)) == 0
    (entry,) = _audit(app, "user.sessions_end")
    assert entry.detail == "2 sessions"


async def test_the_last_enabled_admin_can_be_neither_demoted_nor_disabled(app: FastAPI) -> None:
    me = _user(app, email_of(Role.admin))
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.admin)
        for path, data in (
            (f"/console/users/{me.id}/role", {"role": "approver"}),
            (f"/console/users/{me.id}/disable", {}),
        ):
            refused = await client.post(path, data={**data, "csrf": csrf})
            assert refused.status_code == 409, refused.text
            assert "last enabled admin" in refused.text
        assert (await client.get("/console/users")).status_code == 200  # still admin, still in
        with unit_of_work(app.state.sessions) as session:
            user_service.create_user(
                session=session, email=SECOND_ADMIN, role=Role.admin, password=PASSWORD
            )
        second = _user(app, SECOND_ADMIN)
        off = await client.post(f"/console/users/{second.id}/disable", data={"csrf": csrf})
        assert off.status_code == 303
        # a disabled admin does not count: the signed-in one is still the last enabled admin
        refused = await client.post(
            f"/console/users/{me.id}/role", data={"role": "viewer", "csrf": csrf}
        )
        assert refused.status_code == 409
        assert (
            await client.post(f"/console/users/{second.id}/enable", data={"csrf": csrf})
        ).status_code == 303
        demoted = await client.post(
            f"/console/users/{me.id}/role", data={"role": "viewer", "csrf": csrf}
        )
        assert demoted.status_code == 303  # now someone else is admin
    assert _user(app, email_of(Role.admin)).role is Role.viewer
    assert _audit(app, "user.role")[0].detail == "role=viewer"


def _hold_the_admins(engine: Engine) -> Any:
    """Another transaction that holds what the guard must wait for, until committed."""
    holder = engine.connect()
    holder.begin()
    if is_postgres(engine):
        holder.execute(text("SELECT id FROM console_users WHERE role = 'admin' FOR UPDATE"))
    else:
        holder.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
    return holder


def _waiting(engine: Engine) -> int:
    if not is_postgres(engine):
        return -1
    with engine.connect() as probe:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(probe.execute(text(query)).scalar_one())


@pytest.mark.parametrize("after_a_pause", [False, True], ids=["busy", "after-a-pause"])
async def test_two_admins_demoting_each_other_at_once_leave_one_admin(
    app: FastAPI, after_a_pause: bool
) -> None:
    """After a pause each request first refreshes its own session's row, and ending
    the other's sessions then needs that row: on PostgreSQL the two wait for each
    other until it fails one of them (refused as busy, nothing of it kept)."""
    with unit_of_work(app.state.sessions) as session:
        user_service.create_user(
            session=session, email=SECOND_ADMIN, role=Role.admin, password=PASSWORD
        )
    first, second = _user(app, email_of(Role.admin)), _user(app, SECOND_ADMIN)
    answers: dict[str, httpx.Response] = {}
    async with in_process(app) as a, in_process(app) as b:
        csrf_a = await signed_in(a, Role.admin)
        assert (await sign_in(b, SECOND_ADMIN)).status_code == 303
        csrf_b = form_token((await b.get("/console/")).text)

        async def demote(name: str, client: httpx.AsyncClient, csrf: str, target: int) -> None:
            answers[name] = await client.post(
                f"/console/users/{target}/role", data={"role": "approver", "csrf": csrf}
            )

        if after_a_pause:
            with unit_of_work(app.state.sessions) as session:
                session.execute(
                    update(LoginSession).values(last_seen_at=utcnow() - dt.timedelta(minutes=2))
                )
        holder = _hold_the_admins(app.state.engine)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(demote, "a demotes b", a, csrf_a, second.id)
                group.start_soon(demote, "b demotes a", b, csrf_b, first.id)
                deadline = time.monotonic() + 10
                # both requests wait on the same locks (PostgreSQL shows it; SQLite: a moment)
                while _waiting(app.state.engine) not in (-1, 2) and time.monotonic() < deadline:
                    await anyio.sleep(0.05)
                await anyio.sleep(0.5)
                assert not answers, "a demotion did not wait for the admins' locks"
                holder.commit()
        finally:
            holder.close()
    statuses = sorted(r.status_code for r in answers.values())
    said = {k: (r.status_code, r.text[:300]) for k, r in answers.items()}
    if is_postgres(app.state.engine):
        # both were past the sign-in check when they met the locks: one was refused
        assert statuses == [303, 409], said
        refused = next(r for r in answers.values() if r.status_code == 409)
        why = "at the same moment" if after_a_pause else "last enabled admin"
        assert why in refused.text, said
    else:
        # SQLite runs writing requests one at a time from their first statement: the
        # first demotion also ended the other admin's session, so the second request
        # found no session at all (to sign in) — refused all the same
        assert statuses == [302, 303], said
    with unit_of_work(app.state.sessions) as session:
        admins = session.scalars(
            select(User.email).where(User.role == Role.admin, User.disabled_at.is_(None))
        ).all()
    assert len(admins) == 1
    assert len(_audit(app, "user.role")) == 1


def test_two_demotions_at_once_without_sessions_one_is_refused_by_the_guard(
    app: FastAPI,
) -> None:
    """The guard itself, on both databases: the first demotion holds its transaction
    open; the second must wait for it, then count the admins it left (none but its
    target) and refuse."""
    with unit_of_work(app.state.sessions) as session:
        user_service.create_user(
            session=session, email=SECOND_ADMIN, role=Role.admin, password=PASSWORD
        )
    first, second = _user(app, email_of(Role.admin)), _user(app, SECOND_ADMIN)
    holding, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def demote(name: str, user_id: int, hold: bool) -> None:
        try:
            with unit_of_work(app.state.sessions) as session:
                admin.change_role(session=session, user_id=user_id, role=Role.viewer)
                if hold:
                    holding.set()
                    release.wait(10)
            outcome[name] = "done"
        except LastAdmin as exc:
            outcome[name] = exc

    one = threading.Thread(target=demote, args=("first", first.id, True))
    one.start()
    assert holding.wait(10)
    two = threading.Thread(target=demote, args=("second", second.id, False))
    two.start()
    two.join(0.5)
    assert two.is_alive(), "the second demotion did not wait for the first"
    release.set()
    one.join(10)
    two.join(10)
    assert outcome["first"] == "done"
    assert isinstance(outcome["second"], LastAdmin), outcome
    assert _user(app, SECOND_ADMIN).role is Role.admin
    assert _user(app, email_of(Role.admin)).role is Role.viewer


async def test_every_admin_form_refuses_a_post_without_the_token(app: FastAPI) -> None:
    viewer = _user(app, email_of(Role.viewer))
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.admin)
        key = KEY.findall(
            (await client.post("/console/apikeys", data={"csrf": csrf, "scope": "read"})).text
        )[0]
        prefix = key.split("_")[1]
        posts: list[tuple[str, dict[str, str]]] = [
            ("/console/apikeys", {"scope": "admin"}),
            (f"/console/apikeys/{prefix}/revoke", {}),
            (f"/console/users/{viewer.id}/role", {"role": "admin"}),
            (f"/console/users/{viewer.id}/disable", {}),
            (f"/console/users/{viewer.id}/password", {}),
            (f"/console/users/{viewer.id}/end-sessions", {}),
            ("/console/policies", {"document": 'key = "sneaky"\nkind = "flat"\n'}),
        ]
        for path, data in posts:
            for token in ("", "forged", csrf[:-1]):
                refused = await client.post(path, data={**data, "csrf": token})
                assert refused.status_code == 403, path
                assert "security token" in refused.text
                assert not KEY.findall(refused.text)
    with unit_of_work(app.state.sessions) as session:
        assert len(session.scalars(select(ApiKey)).all()) == 1
        assert session.scalars(select(ApiKey.revoked_at)).one() is None
        user = session.get(User, viewer.id)
        assert user is not None and (user.role, user.disabled_at) == (Role.viewer, None)
        assert user.password_hash == viewer.password_hash
    assert _audit(app, "apikey.revoke") == [] and _audit(app, "user.role") == []


def test_amends_user_disable_and_enable(database_url: str) -> None:
    runner = CliRunner()
    env = {"AMENDS_DATABASE_URL": database_url}
    for email, role in (("boss@example.com", "admin"), ("ana@example.com", "viewer")):
        made = runner.invoke(cli_app, ["user", "create", email, "--role", role], env=env)
        assert made.exit_code == 0, made.output
    refused = runner.invoke(cli_app, ["user", "disable", "boss@example.com"], env=env)
    assert refused.exit_code == 1 and "last enabled admin" in refused.output
    demote = runner.invoke(
        cli_app, ["user", "role", "boss@example.com", "--role", "viewer"], env=env
    )
    assert demote.exit_code == 1 and "last enabled admin" in demote.output
    off = runner.invoke(cli_app, ["user", "disable", "Ana@Example.com"], env=env)
    assert off.exit_code == 0, off.output
    listed = runner.invoke(cli_app, ["user", "list", "--json"], env=env)
    rows = {r["email"]: r for r in json.loads(listed.stdout)}
    assert rows["ana@example.com"]["disabled"] is True
    assert rows["boss@example.com"]["disabled"] is False
    on = runner.invoke(cli_app, ["user", "enable", "ana@example.com"], env=env)
    assert on.exit_code == 0, on.output
    listed = runner.invoke(cli_app, ["user", "list", "--json"], env=env)
    assert all(not r["disabled"] for r in json.loads(listed.stdout))
    unknown = runner.invoke(cli_app, ["user", "enable", "who@example.com"], env=env)
    assert unknown.exit_code == 1 and "no user" in unknown.output
