"""Subscribe → confirm → receive the next notice → unsubscribe, in a real
browser (Playwright on Debian's Chromium, JavaScript off) against a real
Uvicorn server, with the mail caught by an aiosmtpd sink on 127.0.0.1.

Screenshots go to ``test-artifacts/statuspage/subscribe-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from amends import flows
from amends.api.app import create_app
from amends.catalog.models import Subscriber
from amends.db import unit_of_work
from amends.incidents.models import ComponentStatus
from tests.browser_support import chromium, free_port, serving, web_first_expect
from tests.factories import hosting_catalog
from tests.subscription_support import Sink, link, mail_settings, run_dispatch, smtp_sink

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "statuspage"
WATCHER = "lucia@example.org"

expect = web_first_expect()


@pytest.fixture
def site(sqlite_url: str) -> Iterator[tuple[Any, str, Sink]]:
    """The app under Uvicorn on a free port; its links point at that port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with smtp_sink() as (sink, smtp_port):
        app = create_app(mail_settings(sqlite_url, smtp_port, public_url=url))
        with unit_of_work(app.state.sessions) as session:
            hosting_catalog(session)
        with serving(app, port):
            yield app, url, sink


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def confirmed(app: Any) -> bool | None:
    with app.state.sessions() as session:
        found = session.scalar(select(Subscriber.confirmed).where(Subscriber.address == WATCHER))
        return found


def test_subscribe_confirm_receive_unsubscribe_in_a_browser(
    site: tuple[Any, str, Sink], browser: Any
) -> None:
    app, url, sink = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{url}/es/")
    page.get_by_text("Suscribirse a las novedades").click()  # <details>: no script needed
    page.get_by_label("Correo electrónico, teléfono").fill(WATCHER)
    page.locator("section.subscribe").get_by_label("DNS").check()
    page.screenshot(path=ARTIFACTS / "subscribe-form-es-phone.png", full_page=True)
    page.locator("section.subscribe").get_by_role("button", name="Suscribirse").click()
    # The cached page cannot carry a CSRF value: one more press on the dynamic form.
    page.wait_for_url(f"{url}/subscribe")
    expect(page.locator("[data-status=again]")).to_have_count(1)
    assert page.get_by_label("DNS").is_checked()
    page.get_by_role("button", name="Suscribirse").click()
    expect(page.locator("[data-status=sent]")).to_have_count(1)
    page.screenshot(path=ARTIFACTS / "subscribe-sent-es-phone.png", full_page=True)
    assert confirmed(app) is False

    (mail,) = sink.wait_for(WATCHER)
    assert mail["Subject"] == "Confirme sus avisos de estado"
    page.goto(url + link(mail, "/subscribe/confirm/"))
    assert confirmed(app) is False  # opening the link confirms nothing
    page.screenshot(path=ARTIFACTS / "subscribe-confirm-es-phone.png", full_page=True)
    page.get_by_role("button", name="Confirmar").click()
    expect(page.locator("[data-status=confirmed]")).to_have_count(1)
    assert confirmed(app) is True
    page.screenshot(path=ARTIFACTS / "subscribe-confirmed-es-phone.png", full_page=True)

    with unit_of_work(app.state.sessions) as session:
        flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage}
        )
    run_dispatch(app.state.engine, app.state.settings)
    notice = sink.wait_for(WATCHER, 2)[1]
    page.goto(url + link(notice, "/u/"))
    assert confirmed(app) is True  # the unsubscribe link also only shows
    page.get_by_role("button").click()
    expect(page.locator("[data-status=done]")).to_have_count(1)
    assert confirmed(app) is None
    page.screenshot(path=ARTIFACTS / "subscribe-unsubscribed-es-phone.png", full_page=True)
    context.close()
