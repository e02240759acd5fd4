"""Pausing a running send in a real browser (Playwright on Debian's Chromium)
against a real Uvicorn server whose inline worker sends to an SMTP sink.

An approver opens an incident owing 600 e-mails; the sink takes 15 ms a
message, so the send runs for several seconds. While it runs they press
"Pause sending": the ledger says "Paused" with who and when, and its count
of sent messages stops (the chunk already with the relay finishes). They
press "Resume sending" and watch it finish: every customer gets one e-mail.

The screenshot goes to ``test-artifacts/console/18-sending-paused.png``
(copied to docs/console/).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from amends.api.app import create_app
from amends.db import unit_of_work
from amends.users.models import AuditEntry, Role
from tests import factories
from tests.browser_support import chromium, free_port, serving, web_first_expect
from tests.console_browser_support import quick_passwords, shot, signed_in
from tests.console_support import add_users, email_of
from tests.subscription_support import Sink, mail_settings

LAPTOP = {"width": 1366, "height": 900}  # tall enough for the ledger and both notices
CUSTOMERS = 600

expect = web_first_expect()


class SlowSink(Sink):
    """A relay that takes its time: 15 ms a message."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.015)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def site(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, Sink]]:
    quick_passwords(monkeypatch)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    sink = SlowSink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        settings = mail_settings(sqlite_url, smtp_port, public_url=url)
        app = create_app(settings, start_dispatch=True)
        with unit_of_work(app.state.sessions) as session:
            factories.hosting_catalog(session)
            for n in range(CUSTOMERS):
                owner = factories.customer(session, email=f"customer{n}@pause.example")
                factories.site(session, owner, ["web-hosting"])
        add_users(app)
        with serving(app, port):
            yield app, url, sink
    finally:
        controller.stop()


def _count(page: Any, state: str) -> int:
    found = page.locator(f"#ledger .state-{state}")
    return int(found.inner_text().replace(",", "")) if found.count() else 0


def _settled(page: Any, sink: Sink, deadline: float = 30.0) -> int:
    """The sent count once the chunks already with the relay have finished and
    been recorded: the ledger agrees with the relay, and neither moved in a
    second (a chunk is ~1.5 s at 15 ms a message, longer on a loaded machine)."""
    give_up = time.monotonic() + deadline
    last = (-1, -1)
    while time.monotonic() < give_up:
        page.reload()
        now = (_count(page, "sent"), len(sink.messages))
        if now == last and now[0] == now[1]:
            return now[0]
        last = now
        time.sleep(1.0)
    raise AssertionError(f"still sending {deadline:.0f} s after the pause (ledger, relay: {last})")


def test_an_approver_pauses_a_running_send_and_resumes_it(site: tuple[Any, str, Sink]) -> None:
    app, url, sink = site
    with chromium() as browser:
        page = signed_in(browser, url, Role.approver, LAPTOP)

        page.goto(f"{url}/console/incidents/new")
        page.get_by_label("Title").fill("Name servers not answering")
        page.get_by_label("First message to customers").fill("Sites are down; we are on it.")
        page.get_by_label("DNS dns").check()
        page.get_by_role("button", name="Open the incident").click()
        page.wait_for_url(f"{url}/console/incidents/*")
        incident_url = page.url

        # the inline worker is sending; the live ledger shows it
        page.locator("#ledger .state-sent").wait_for(timeout=20_000)
        assert 0 < _count(page, "sent") < CUSTOMERS
        page.get_by_role("button", name="Pause sending").click()
        page.wait_for_url(incident_url)
        banner = page.locator(".paused-banner")
        banner.wait_for()
        assert "Paused" in banner.inner_text()
        label = page.locator(".notice.paused .paused-by")
        assert f"by {email_of(Role.approver)} at" in label.inner_text()

        # what was with the relay finishes, then nothing more goes out
        held = _settled(page, sink)
        time.sleep(2.0)
        page.reload()
        assert _count(page, "sent") == held == len(sink.messages)
        assert _count(page, "pending") == CUSTOMERS - held > 0
        shot(page, "18-sending-paused")

        page.get_by_role("button", name="Resume sending").click()
        page.wait_for_url(incident_url)
        expect(page.locator(".paused-banner")).to_have_count(0)
        page.locator("#ledger .state-sent", has_text=f"{CUSTOMERS:,}").wait_for(timeout=60_000)
        page.locator("#ledger .live").wait_for(state="hidden")  # the stream said done
        assert _count(page, "pending") == 0
        assert page.errors == []
    deadline = time.monotonic() + 10
    while len(sink.messages) < CUSTOMERS and time.monotonic() < deadline:
        time.sleep(0.05)
    received = Counter(str(m["To"]) for m in sink.messages)
    assert len(received) == CUSTOMERS and set(received.values()) == {1}
    with unit_of_work(app.state.sessions) as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [a for a in actions if a.startswith("deliveries.")] == [
        "deliveries.pause",
        "deliveries.resume",
    ]
