"""A customer follows the link in a real browser (Debian's Chromium via Playwright)
and clicks confirm once: exactly one redemption. Screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from amends.api.app import create_app
from amends.config import Settings
from amends.credits.models import Credit, CreditState
from amends.db import make_engine, session_factory, unit_of_work
from amends.delivery import service as delivery_service
from amends.delivery.models import NoticeKind
from tests.browser_support import chromium, require_chromium, serving
from tests.credit_support import issue, world
from tests.subscription_support import link, mail_settings, run_dispatch, smtp_sink
from tests.test_redeem import CLICK, NOW, Served, _free_port, serve

ARTIFACTS = Path(
    os.environ.get("AMENDS_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)
require_chromium()


@pytest.fixture
def served_sqlite(sqlite_url: str) -> Iterator[Served]:
    engine = make_engine(sqlite_url)
    sessions: sessionmaker[Session] = session_factory(engine)
    try:
        yield from serve(Settings(database_url=sqlite_url, auto_migrate=False), sessions)
    finally:
        engine.dispose()


def test_a_customer_clicks_confirm_once_in_a_real_browser(served_sqlite: Served) -> None:
    s = served_sqlite
    out = ARTIFACTS / "redeem"
    out.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(locale="es-ES")
        page.goto(s.link(s.w.ana.id))
        assert page.locator("[data-status]").get_attribute("data-status") == "ready"
        assert s.count(CreditState.redeemed) == 0  # the browser's GET redeemed nothing
        page.screenshot(path=str(out / "1-confirm.png"), full_page=True)
        page.get_by_role("button", name="Aplicar mi crédito").click()
        page.wait_for_load_state()
        assert page.locator("[data-status]").get_attribute("data-status") == "redeemed"
        page.screenshot(path=str(out / "2-redeemed.png"), full_page=True)
        page.go_back()
        page.reload()
        assert page.locator("[data-status]").get_attribute("data-status") == "already"
        assert page.get_by_role("button").count() == 0
        page.screenshot(path=str(out / "3-already.png"), full_page=True)
    assert s.count(CreditState.redeemed) == 2  # Ana's two sites, once


def test_the_link_in_the_sent_apology_redeems_once_in_a_real_browser(sqlite_url: str) -> None:
    """Apology → real e-mail channel → aiosmtpd sink → the link out of the text part →
    Chromium against the app under Uvicorn → confirm → one redemption, and no more."""
    out = ARTIFACTS / "redeem"
    out.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    engine = make_engine(sqlite_url)
    sessions: sessionmaker[Session] = session_factory(engine)
    with smtp_sink() as (sink, smtp_port):
        settings = mail_settings(sqlite_url, smtp_port, public_url=base)
        with unit_of_work(sessions) as session:
            w = world(session)
            issue(session, w.incident, CLICK, now=NOW - dt.timedelta(hours=1))
            delivery_service.issue_notice(
                session=session, incident_id=w.incident.id, kind=NoticeKind.apology
            )
            ana_email = w.ana.email
        assert ana_email
        run_dispatch(engine, settings)
        mail = sink.wait_for(ana_email)[0]
        path = link(mail, "/r/")  # from the text part, as a reader would copy it
        assert f'href="{base}{path}"' in str(mail.get_body(("html",)).get_content())
        with serving(create_app(settings), port), chromium() as browser:
            page = browser.new_page(locale="es-ES")
            page.goto(base + path)
            assert page.locator("[data-status]").get_attribute("data-status") == "ready"
            page.screenshot(path=str(out / "mail-1-confirm.png"), full_page=True)
            page.get_by_role("button", name="Aplicar mi crédito").click()
            page.wait_for_load_state()
            status = page.locator("[data-status]").get_attribute("data-status")
            assert status == "redeemed"
            page.screenshot(path=str(out / "mail-2-redeemed.png"), full_page=True)
            redeemed = _redeemed(sessions)
            # The same form posted again (a double click, a replay): nothing moves.
            cookies = {c["name"]: c["value"] for c in page.context.cookies()}
            again = httpx.post(
                base + path,
                data={"csrf": cookies["amends_csrf"]},
                cookies={"amends_csrf": cookies["amends_csrf"]},
            )
            assert 'data-status="already"' in again.text
            page.reload()
            assert page.get_by_role("button").count() == 0
    assert redeemed == _redeemed(sessions) == 2  # Ana's two sites, once
    engine.dispose()


def _redeemed(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        query = select(func.count()).select_from(Credit).where(Credit.state == "redeemed")
        return s.scalar(query) or 0
