"""A customer follows the link in a real browser (Debian's Chromium via Playwright)
and clicks confirm once: exactly one redemption. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from amends.config import Settings
from amends.credits.models import CreditState
from amends.db import make_engine, session_factory
from tests.test_redeem import Served, serve

CHROMIUM = os.environ.get("AMENDS_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("AMENDS_TEST_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def served_sqlite(sqlite_url: str) -> Iterator[Served]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
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
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
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
        finally:
            browser.close()
    assert s.count(CreditState.redeemed) == 2  # Ana's two sites, once
