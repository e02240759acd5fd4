"""Console users: argon2 hashes (never the password), per-account lockout, sessions
that end (absolute expiry, idle timeout, sign-out), the audit log and its CSV,
and ``amends user create``. Both databases."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from amends.cli import app as cli_app
from amends.db import make_engine, session_factory
from amends.errors import Conflict, ValidationFailed
from amends.users import auditlog, sessions
from amends.users import service as user_service
from amends.users.models import AuditEntry, LoginSession, Role, User

PASSWORD = "correct horse battery staple"
T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def test_the_password_is_stored_only_as_an_argon2id_hash(session: Session) -> None:
    user = user_service.create_user(
        session=session, email=" Ana@Example.COM ", role=Role.approver, password=PASSWORD
    )
    session.commit()
    assert user.email == "ana@example.com"
    stored = session.execute(text("SELECT * FROM console_users")).mappings().one()
    assert all(PASSWORD not in str(value) for value in stored.values())
    assert stored["password_hash"].startswith("$argon2id$")
    assert user_service.authenticate(session=session, email="ana@example.com", password=PASSWORD).ok
    assert not user_service.authenticate(
        session=session, email="ana@example.com", password=PASSWORD + "!"
    ).ok


def test_short_passwords_duplicates_and_bad_addresses_are_refused(session: Session) -> None:
    with pytest.raises(ValidationFailed) as short:
        user_service.create_user(session=session, email="a@b.io", role=Role.viewer, password="x")
    assert short.value.field == "password"
    with pytest.raises(ValidationFailed) as bad:
        user_service.create_user(session=session, email="nope", role=Role.viewer, password=PASSWORD)
    assert bad.value.field == "email"
    user_service.create_user(session=session, email="a@b.io", role=Role.viewer, password=PASSWORD)
    with pytest.raises(Conflict):
        user_service.create_user(
            session=session, email="A@B.io", role=Role.admin, password=PASSWORD
        )


def test_five_failures_lock_the_account_even_for_the_right_password(session: Session) -> None:
    user_service.create_user(session=session, email="b@b.io", role=Role.viewer, password=PASSWORD)
    for n in range(user_service.MAX_FAILURES):
        outcome = user_service.authenticate(
            session=session, email="b@b.io", password="wrong", now=T0 + dt.timedelta(seconds=n)
        )
        assert not outcome.ok
    locked = user_service.authenticate(
        session=session, email="b@b.io", password=PASSWORD, now=T0 + dt.timedelta(minutes=1)
    )
    assert not locked.ok and locked.locked
    later = T0 + user_service.LOCKOUT + dt.timedelta(minutes=1)
    assert user_service.authenticate(
        session=session, email="b@b.io", password=PASSWORD, now=later
    ).ok
    unknown = user_service.authenticate(session=session, email="who@b.io", password=PASSWORD)
    assert not unknown.ok and unknown.user is None


def test_sessions_end_at_expiry_when_idle_and_on_sign_out(session: Session) -> None:
    user = user_service.create_user(
        session=session, email="c@b.io", role=Role.viewer, password=PASSWORD
    )
    row, token = sessions.start(session=session, user=user, now=T0, lifetime=dt.timedelta(hours=1))
    assert row.token_hash != token and len(row.csrf_token) >= 32
    stored = session.scalars(select(LoginSession.token_hash)).all()
    assert token not in stored  # only its hash
    idle = dt.timedelta(minutes=30)
    for minutes in (10, 35, 59):  # each request keeps it from going idle
        now = T0 + dt.timedelta(minutes=minutes)
        assert sessions.resume(session=session, token=token, now=now, idle=idle) is not None
    assert sessions.resume(session=session, token=token, now=T0 + dt.timedelta(minutes=61)) is None
    assert session.scalars(select(LoginSession)).all() == []  # the dead row is gone

    _row, idle_token = sessions.start(session=session, user=user, now=T0)
    gone = T0 + dt.timedelta(minutes=31)
    assert sessions.resume(session=session, token=idle_token, now=gone, idle=idle) is None

    _row, token = sessions.start(session=session, user=user, now=T0)
    sessions.end(session=session, token=token)
    assert sessions.resume(session=session, token=token, now=T0) is None
    assert sessions.resume(session=session, token="", now=T0) is None


def test_the_audit_log_filters_and_exports_csv_without_formulas(session: Session) -> None:
    for n, (actor, action) in enumerate(
        [("ana@x.io", "incident.open"), ("bo@x.io", "incident.update"), ("ana@x.io", "signin")]
    ):
        auditlog.record(
            session=session, actor=actor, action=action, target=f"incident {n}",
            detail="=HYPERLINK(1)" if n == 0 else "", now=T0 + dt.timedelta(days=n),
        )  # fmt: skip
    ana = auditlog.search(session=session, where=auditlog.Filter(actor="ana@x.io"))
    assert [e.action for e in ana] == ["signin", "incident.open"]  # newest first
    day = auditlog.Filter(since=T0 + dt.timedelta(days=1), until=T0 + dt.timedelta(days=2))
    assert [e.actor for e in auditlog.search(session=session, where=day)] == ["bo@x.io"]
    assert auditlog.actions(session=session) == ["incident.open", "incident.update", "signin"]
    out = io.StringIO()
    assert auditlog.write_csv(session=session, where=auditlog.Filter(), out=out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["action"] for r in rows] == ["signin", "incident.update", "incident.open"]
    assert rows[2]["detail"] == "'=HYPERLINK(1)"  # a spreadsheet must not run it


def test_amends_user_create_prints_a_generated_password_once(database_url: str) -> None:
    runner = CliRunner()
    env = {"AMENDS_DATABASE_URL": database_url}
    create = ["user", "create"]
    made = runner.invoke(cli_app, [*create, "Boss@Example.com", "--role", "admin"], env=env)
    assert made.exit_code == 0, made.output
    password = made.stdout.strip().splitlines()[-1]
    assert len(password) >= 20
    again = runner.invoke(cli_app, [*create, "boss@example.com", "--role", "viewer"], env=env)
    assert again.exit_code == 1 and "exists already" in again.output
    listed = runner.invoke(cli_app, ["user", "list", "--json"], env=env)
    assert '"role": "admin"' in listed.stdout and password not in listed.stdout
    engine = make_engine(database_url)
    with session_factory(engine)() as session:
        assert user_service.authenticate(
            session=session, email="boss@example.com", password=password
        ).ok
        user = session.scalars(select(User)).one()
        assert password not in user.password_hash
        logged = session.scalars(select(AuditEntry)).one()
        assert (logged.actor, logged.action, logged.target) == ("cli", "user.create", user.email)
    engine.dispose()
