"""The settings page shows the effective configuration and where each value came
from, and no secret: not a password, token or signing secret, not the password
in a URL (the database's included), not an Apprise URL's credentials — also
when they come from the environment. Through the real app, both databases."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from pydantic import SecretStr

from amends.api.app import create_app
from amends.config import Settings
from amends.effective_settings import MASK, describe
from amends.users import service as user_service
from amends.users.models import Role
from tests.api_support import in_process
from tests.console_support import add_users, signed_in

SECRETS = {
    "smtp_password": "smtp-pw-Q1w2e3r4",
    "twilio_auth_token": "tw-token-Z9y8x7",
    "webhook_secret": "whsec_c2VjcmV0LXNpZ25pbmc",
    "sms_apprise_url": "vonage://apikey-777:apprise-secret-888@15551230000/{to}",
    "statuspage_logo_url": "https://logo-user:logo-pass-555@cdn.example/l.png?token=tok-666&w=2",
}
#: Every fragment that would give a secret away.
NEVER = [
    "smtp-pw-Q1w2e3r4",
    "tw-token-Z9y8x7",
    "c2VjcmV0LXNpZ25pbmc",
    "apikey-777",
    "apprise-secret-888",
    "logo-pass-555",
    "tok-666",
    "db-pass-444",
]


@pytest.fixture
def app(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FastAPI]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / "amends.toml").write_text('statuspage_name = "Status from the file"\n')
    monkeypatch.setenv("AMENDS_NOTICE_SENDER", "Sender from the environment")
    monkeypatch.setenv("AMENDS_SMTP_PASSWORD", SECRETS["smtp_password"])
    url = settings.database_url
    if url.startswith("postgresql"):  # trust authentication ignores the password
        url = url.replace("://postgres@", "://postgres:db-pass-444@", 1)
        assert "db-pass-444" in url
    given = {k: v for k, v in SECRETS.items() if k != "smtp_password"}
    app = create_app(
        Settings(
            database_url=url, auto_migrate=False, smtp_username="mailer",
            twilio_account_sid="AC0123", **given,  # type: ignore[arg-type]
        )
    )  # fmt: skip
    add_users(app)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def _row(page: str, name: str) -> tuple[str, str]:
    found = re.search(
        rf'<tr id="setting-{name}"[^>]*>.*?<td class="value"><code>(.*?)</code></td>\s*'
        rf'<td class="source[^"]*">(.*?)</td>',
        page,
        re.S,
    )
    assert found, f"no row for {name}"
    return html.unescape(found.group(1)), found.group(2)


@pytest.mark.anyio
async def test_the_settings_page_shows_values_and_sources_and_no_secret(app: FastAPI) -> None:
    async with in_process(app) as client:
        await signed_in(client, Role.admin)
        answer = await client.get("/console/settings")
    assert answer.status_code == 200
    page = answer.text
    for fragment in NEVER:
        assert fragment not in page and fragment not in html.unescape(page), fragment
    assert _row(page, "smtp_password") == (MASK, "environment")
    assert _row(page, "twilio_auth_token") == (MASK, "set at start")
    assert _row(page, "webhook_secret")[0] == MASK
    assert _row(page, "sms_apprise_url")[0] == f"vonage://{MASK}"
    logo = _row(page, "statuspage_logo_url")[0]
    assert logo.startswith(f"https://logo-user:{MASK}@cdn.example/l.png?") and "w=2" in logo
    assert _row(page, "notice_sender") == ("Sender from the environment", "environment")
    assert _row(page, "statuspage_name") == ("Status from the file", "amends.toml")
    assert _row(page, "smtp_username") == ("mailer", "set at start")
    assert _row(page, "twilio_account_sid")[0] == "AC0123"  # an account id, not a secret
    assert _row(page, "smtp_port") == ("25", "default")
    database = _row(page, "database_url")
    assert database[1] == "set at start"
    if "postgresql" in database[0]:
        assert f"://postgres:{MASK}@127.0.0.1" in database[0]
    assert "AMENDS_CONSOLE_TWO_PERSON_RULE" in page
    assert 'class="masked"' in page


@pytest.mark.anyio
async def test_only_admins_see_the_settings(app: FastAPI) -> None:
    async with in_process(app) as client:
        await signed_in(client, Role.approver)
        assert (await client.get("/console/settings")).status_code == 403


def test_empty_secrets_say_so_and_every_setting_is_listed() -> None:
    shown = {row.name: row for row in describe(Settings(database_url="sqlite:///x.db"))}
    assert set(shown) == set(Settings.model_fields)
    assert shown["webhook_secret"].value == "" and shown["webhook_secret"].masked
    assert shown["smtp_password"].value == "—"  # None: not set at all
    assert shown["database_url"].value == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("database_url", "postgresql+psycopg://amends:pw@db:5432/amends",
         f"postgresql+psycopg://amends:{MASK}@db:5432/amends"),
        ("public_url", "https://token-only@status.example/", f"https://{MASK}@status.example/"),
        ("public_url", "https://status.example/?api_key=k1&lang=es",
         f"https://status.example/?api_key={MASK}&lang=es"),
        ("twilio_auth_token", SecretStr("t0k"), MASK),
        ("sms_apprise_url", "msg91://authkey-9/{to}", f"msg91://{MASK}"),
    ],
)  # fmt: skip
def test_secrets_in_urls_are_masked(field: str, value: object, shown: str) -> None:
    settings = Settings.model_construct(**{field: value})
    (row,) = [r for r in describe(settings) if r.name == field]
    assert row.value == shown and row.masked
