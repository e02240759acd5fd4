"""API keys: issued once, stored hashed, refused when revoked; and the CLI around them."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from amends.apikeys import service as apikey_service
from amends.apikeys.models import ApiKey, Scope
from amends.config import Settings
from amends.errors import NotFound

KEY_PATTERN = re.compile(r"amends_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_create_returns_the_key_once_and_stores_only_a_hash(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        key, plaintext = apikey_service.create(session=session, scope=Scope.write, name="ci")
        key_id = key.id
    assert KEY_PATTERN.fullmatch(plaintext)
    secret = plaintext.split("_", 2)[2]
    with sessions() as session:
        row = session.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": key_id}).one()
    stored = " ".join(str(value) for value in row)
    assert secret not in stored
    assert plaintext not in stored
    assert row.prefix == plaintext.split("_")[1]
    assert len(row.secret_hash) == 64


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "nope",
        "amends_",
        "amends_0123456789ab",
        "amends_0123456789ab_",
        "amends_short_secret",
        "other_0123456789ab_" + "x" * 43,
    ],
)
def test_malformed_keys_are_refused(sessions: sessionmaker[Session], presented: str) -> None:
    with sessions.begin() as session:
        apikey_service.create(session=session, scope=Scope.admin, name="")
        assert apikey_service.authenticate(session=session, presented=presented) is None


def test_authenticate(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        key, plaintext = apikey_service.create(session=session, scope=Scope.read, name="")
        prefix = key.prefix
    with sessions.begin() as session:
        found = apikey_service.authenticate(session=session, presented=plaintext)
        assert found is not None and found.prefix == prefix
        wrong = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
        assert apikey_service.authenticate(session=session, presented=wrong) is None
        unknown_prefix = f"amends_{'0' * 12}_{plaintext.split('_', 2)[2]}"
        assert apikey_service.authenticate(session=session, presented=unknown_prefix) is None


def test_revoked_keys_are_refused_and_stay_listed(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        key, plaintext = apikey_service.create(session=session, scope=Scope.admin, name="old")
        prefix = key.prefix
    at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    with sessions.begin() as session:
        revoked = apikey_service.revoke(session=session, prefix=prefix, now=at)
        assert revoked.revoked_at == at
        again = apikey_service.revoke(session=session, prefix=prefix, now=at + dt.timedelta(days=1))
        assert again.revoked_at == at, "revoking twice keeps the first time"
    with sessions() as session:
        assert apikey_service.authenticate(session=session, presented=plaintext) is None
        assert [k.prefix for k in apikey_service.list_keys(session=session)] == [prefix]
        assert apikey_service.list_keys(session=session, include_revoked=False) == []


def test_revoke_unknown_prefix(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(NotFound) as caught:
        apikey_service.revoke(session=session, prefix="0123456789ab")
    assert caught.value.field == "prefix"


def test_last_used_is_written_at_most_once_a_minute(sessions: sessionmaker[Session]) -> None:
    t0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    with sessions.begin() as session:
        key, plaintext = apikey_service.create(session=session, scope=Scope.read, name="")
        key_id = key.id
    for seconds, expected in [(0, 0), (30, 0), (59, 0), (60, 60), (61, 60), (200, 200)]:
        with sessions.begin() as session:
            apikey_service.authenticate(
                session=session, presented=plaintext, now=t0 + dt.timedelta(seconds=seconds)
            )
        with sessions() as session:
            used = session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
        assert used == t0 + dt.timedelta(seconds=expected), seconds


# -- CLI ----------------------------------------------------------------------


def _amends(settings: Settings, *args: str) -> tuple[str, str]:
    from amends.cli import app

    result = CliRunner().invoke(app, ["--database-url", settings.database_url, *args])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout, result.stderr


def test_cli_create_shows_the_key_once_and_list_never(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    stdout, stderr = _amends(settings, "apikey", "create", "--scope", "write", "--name", "ci")
    plaintext = stdout.strip()
    assert KEY_PATTERN.fullmatch(plaintext), stdout
    assert "not be shown again" in stderr
    prefix = plaintext.split("_")[1]
    secret = plaintext.split("_", 2)[2]

    for args in (["apikey", "list"], ["apikey", "list", "--json"]):
        out, err = _amends(settings, *args)
        assert secret not in out + err
        assert prefix in out
    listed = json.loads(_amends(settings, "apikey", "list", "--json")[0])
    assert [(k["prefix"], k["scope"], k["name"]) for k in listed] == [(prefix, "write", "ci")]
    assert "key" not in listed[0]

    with sessions() as session:
        assert apikey_service.authenticate(session=session, presented=plaintext) is not None

    _amends(settings, "apikey", "revoke", prefix)
    with sessions() as session:
        assert apikey_service.authenticate(session=session, presented=plaintext) is None
    assert json.loads(_amends(settings, "apikey", "list", "--json")[0])[0]["revoked_at"]


def test_cli_create_json(settings: Settings) -> None:
    stdout, _ = _amends(settings, "apikey", "create", "--scope", "admin", "--json")
    data = json.loads(stdout)
    assert KEY_PATTERN.fullmatch(data["key"])
    assert data["scope"] == "admin"
    assert data["prefix"] == data["key"].split("_")[1]
