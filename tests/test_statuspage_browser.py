"""The status page in a real browser (Playwright on Debian's Chromium) against a
real Uvicorn server: outage and recovery, both languages, phone and desktop,
keyboard access to every uptime bar, and no JavaScript needed.

Screenshots go to ``test-artifacts/statuspage/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from amends.api.app import create_app
from amends.config import Settings
from amends.db import unit_of_work
from tests.browser_support import chromium, free_port, require_chromium, serving
from tests.statuspage_support import OUTAGE_TITLE, build_world, resolve_outage

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "statuspage"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
HEADINGS = {
    "en": ("Major system outage", "All systems operational"),
    "es": ("Interrupción grave del sistema", "Todos los sistemas operativos"),
}

require_chromium()


@dataclass(frozen=True)
class Server:
    """The app as the browser reaches it."""

    app: Any
    url: str


@pytest.fixture
def world(sqlite_url: str) -> Iterator[tuple[Server, dict[str, int]]]:
    app = create_app(Settings(database_url=sqlite_url, statuspage_cache_seconds=0))
    port = free_port()
    with serving(app, port):
        with unit_of_work(app.state.sessions) as session:
            ids = build_world(session, dt.datetime.now(dt.UTC))
        yield Server(app, f"http://127.0.0.1:{port}"), ids


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def _check_page(page: Any, lang: str, heading: str, viewport: str) -> None:
    assert page.locator("html").get_attribute("lang") == lang
    assert page.get_by_role("heading", level=1).inner_text() == heading
    for landmark in ("banner", "main", "contentinfo", "navigation"):
        assert page.get_by_role(landmark).count() >= 1, landmark
    if viewport == "phone":
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal scroll of {overflow}px on a phone"


def test_outage_then_recovery_in_both_languages_on_phone_and_desktop(
    world: tuple[Server, dict[str, int]], browser: Any
) -> None:
    server, ids = world
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for moment, index in (("outage", 0), ("recovered", 1)):
        if moment == "recovered":
            with unit_of_work(server.app.state.sessions) as session:
                resolve_outage(session, ids["outage"], dt.datetime.now(dt.UTC))
        for viewport, size in VIEWPORTS.items():
            context = browser.new_context(viewport=size, timezone_id="Europe/Madrid")
            page = context.new_page()
            for lang in ("en", "es"):
                page.goto(f"{server.url}/{lang}/")
                _check_page(page, lang, HEADINGS[lang][index], viewport)
                active = page.locator("section[aria-labelledby=active-h]")
                if moment == "outage":
                    assert OUTAGE_TITLE in active.inner_text()
                else:
                    assert active.count() == 0
                page.screenshot(path=ARTIFACTS / f"{moment}-{lang}-{viewport}.png", full_page=True)
            # the incident's own page, with its timeline
            page.goto(f"{server.url}/es/incidents/{ids['outage']}.html")
            assert page.get_by_role("heading", level=1).inner_text() == OUTAGE_TITLE
            assert page.locator(".timeline li").count() == (2 if moment == "outage" else 3)
            page.screenshot(path=ARTIFACTS / f"{moment}-incident-es-{viewport}.png", full_page=True)
            context.close()
    # the language switch is a plain link
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/en/")
    page.get_by_role("link", name="Español").click()
    assert page.url.endswith("/es/") and page.locator("html").get_attribute("lang") == "es"
    context.close()


def test_keyboard_reaches_every_uptime_bars_details(
    world: tuple[Server, dict[str, int]], browser: Any
) -> None:
    server, _ids = world
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.goto(f"{server.url}/en/")
    total = page.locator("li.bar").count()
    assert total == 5 * 90
    reached: set[int] = set()
    for _ in range(total + 100):
        page.keyboard.press("Tab")
        state = page.evaluate(
            """() => {
              const el = document.activeElement;
              const bar = el && el.closest('li.bar');
              if (!bar) return null;
              const tip = bar.querySelector('.tip').getBoundingClientRect();
              const bars = Array.from(document.querySelectorAll('li.bar'));
              return {index: bars.indexOf(bar), width: tip.width, height: tip.height,
                      text: bar.querySelector('.tip').innerText};
            }"""
        )
        if state is None:
            if len(reached) == total:
                break
            continue
        assert state["width"] > 40 and state["height"] > 15, state
        assert "%" in state["text"], state
        reached.add(state["index"])
    assert len(reached) == total
    # a day with an incident links to it from its tooltip
    today_dns = page.locator("ol.bars").first.locator("li.bar").last
    today_dns.hover()
    assert page.locator("li.bar:hover .tip a").inner_text() == OUTAGE_TITLE
    page.screenshot(path=ARTIFACTS / "bar-hover.png")
    context.close()


def test_the_page_works_without_javascript_and_enhances_with_it(
    world: tuple[Server, dict[str, int]], browser: Any
) -> None:
    server, ids = world
    plain = browser.new_context(java_script_enabled=False, timezone_id="America/Mexico_City")
    page = plain.new_page()
    page.goto(f"{server.url}/")
    assert page.get_by_role("heading", name=OUTAGE_TITLE).count() == 1
    first_time = page.locator("time[data-local]").first.inner_text()
    assert first_time.endswith("UTC")
    page.get_by_role("link", name=OUTAGE_TITLE).first.click()
    assert page.url.endswith(f"/en/incidents/{ids['outage']}.html")
    page.goto(f"{server.url}/en/")
    page.locator("li.bar").first.focus()
    assert page.locator("li.bar").first.locator(".tip").bounding_box()["width"] > 40
    page.screenshot(path=ARTIFACTS / "no-javascript.png", full_page=True)
    plain.close()

    enhanced = browser.new_context(timezone_id="America/Mexico_City")
    page = enhanced.new_page()
    page.goto(f"{server.url}/en/")
    page.wait_for_selector("html[data-local-time]", state="attached")
    shown = page.locator("time[data-local]").first.inner_text()
    assert not shown.endswith("UTC") and shown != first_time
    enhanced.close()
