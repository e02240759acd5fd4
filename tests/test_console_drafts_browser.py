"""Drafts and maintenance in a real browser (Playwright on Debian's Chromium)
against a real Uvicorn server, mail caught by an aiosmtpd sink on 127.0.0.1:
a communicator (tablet) drafts a correction, watches the auditor's findings
change as she types, previews what a customer receives and asks for approval;
an approver (laptop) approves and sends it, and each customer's correction
arrives in their language; then maintenance is scheduled with its impact.

Screenshots go to ``test-artifacts/console/`` (copies in docs/console/).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from amends import flows
from amends.api.app import create_app
from amends.db import unit_of_work
from amends.incidents.models import ComponentStatus
from amends.users.models import Role
from tests import factories
from tests.browser_support import chromium, free_port, require_chromium, serving
from tests.console_browser_support import (
    LAPTOP,
    TABLET,
    no_sideways_scroll,
    quick_passwords,
    shot,
    signed_in,
)
from tests.console_support import add_users, email_of
from tests.subscription_support import Sink, mail_settings, run_dispatch, smtp_sink, text_of

CUSTOMERS = (("ana@cliente.example", "Ana Ruiz", "es"), ("bob@customer.example", "Bob Lee", "en"))
BLOCKING = "We are sorry for any inconvenience this may have caused."
FIXED = (
    "Dear {{ name }},\n\nOur earlier message said that only e-mail was down. That was wrong: "
    "the DNS failure also took down {{ sites }}. We are working on it.\n\nHosting"
)

require_chromium()


@pytest.fixture
def site(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, Sink]]:
    quick_passwords(monkeypatch)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with smtp_sink() as (sink, smtp_port):
        app = create_app(mail_settings(sqlite_url, smtp_port, public_url=url))
        with unit_of_work(app.state.sessions) as session:
            factories.hosting_catalog(session)
            for address, name, locale in CUSTOMERS:
                owner = factories.customer(session, email=address, name=name, locale=locale)
                factories.site(session, owner, ["web-hosting"])
            flows.open_incident(
                session=session, title="Name servers not answering",
                components={"dns": ComponentStatus.major_outage}, notify=False,
            )  # fmt: skip
        add_users(app)
        with serving(app, port):
            yield app, url, sink


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def test_a_correction_is_drafted_approved_and_delivered(
    site: tuple[Any, str, Sink], browser: Any
) -> None:
    app, url, sink = site
    page = signed_in(browser, url, Role.communicator, TABLET)
    page.goto(f"{url}/console/incidents/1")
    page.get_by_role("link", name="Drafts").click()
    page.get_by_label("Kind").select_option("correction")
    page.get_by_role("button", name="Start a draft").click()
    page.wait_for_url(f"{url}/console/incidents/1/drafts/1")
    assert (
        page.get_by_label("Subject (en)").input_value() == "Correction: Name servers not answering"
    )
    assert page.get_by_label("Subject (es)").input_value().startswith("Corrección:")

    body = page.get_by_label("E-mail (en)")
    body.fill(BLOCKING)  # the auditor answers as she types (htmx)
    findings = page.locator("#draft-findings")
    findings.locator(".finding-block", has_text="N2").wait_for()
    assert BLOCKING in findings.inner_text() and "Fix:" in findings.inner_text()
    no_sideways_scroll(page)
    shot(page, "15-draft-edit")
    body.fill(FIXED)
    findings.locator(".finding-block").first.wait_for(state="detached")
    page.get_by_role("button", name="Save a new version").click()
    page.wait_for_url(f"{url}/console/incidents/1/drafts/1")
    assert "version 2" in page.locator(".meta").first.inner_text()

    preview = page.get_by_role("region", name="preview")
    preview.get_by_label("Customer").select_option(label="Bob Lee (en)")
    preview.get_by_role("button", name="Preview").click()
    page.wait_for_url("**/preview?*")
    mail = page.frame_locator("iframe.mail")
    mail.locator("body", has_text="the DNS failure also took down").wait_for()
    assert "Dear Bob Lee" in mail.locator("body").inner_text()
    assert "Dear Bob Lee" in page.locator("pre.message").inner_text()
    no_sideways_scroll(page)
    shot(page, "16-draft-preview")
    page.get_by_label("Channel").select_option("sms")
    page.get_by_role("button", name="Show").click()
    page.locator(".segments").wait_for()
    assert "SMS segment" in page.locator(".preview-meta").inner_text()
    page.get_by_role("link", name="Back to the draft").click()
    page.get_by_role("button", name="Ask for this draft to be sent").click()
    page.wait_for_url(f"{url}/console/incidents/1/drafts/1")
    assert page.locator(".draft-state").inner_text() == "requested"
    assert page.errors == []
    page.context.close()

    page = signed_in(browser, url, Role.approver, LAPTOP)
    page.goto(f"{url}/console/incidents/1/drafts/1")
    assert page.locator(".asked").inner_text() == email_of(Role.communicator)
    page.get_by_role("button", name="Approve and send version 2").click()
    page.wait_for_url(f"{url}/console/incidents/1/drafts/1")
    assert page.locator(".draft-state").inner_text() == "sent"
    run_dispatch(app.state.engine, app.state.settings)
    for address, name, locale in CUSTOMERS:
        (message,) = sink.wait_for(address, 1)
        if locale == "en":
            assert str(message["Subject"]) == "Correction: Name servers not answering"
            assert text_of(message).replace("\r\n", "\n").startswith(f"Dear {name},\n\nOur earlier")
            assert "took down site" in text_of(message)
        else:
            assert str(message["Subject"]) == "Corrección: Name servers not answering"
            assert name in text_of(message)
    assert page.errors == []

    # maintenance: components, a window with its offset, who it would touch
    page.get_by_role("link", name="Schedule maintenance").click()
    page.get_by_label("Title").fill("Name server upgrade")
    page.get_by_label("Starts (local time)").fill("2030-03-01T02:00")
    page.get_by_label("Ends (local time)").fill("2030-03-01T05:30")
    page.get_by_label("UTC offset").select_option("+02:00")
    page.get_by_label("DNS dns").check()
    page.locator("#impact .customers", has_text="2").wait_for()
    page.get_by_role("button", name="Schedule the maintenance").click()
    page.wait_for_url(f"{url}/console/incidents/2")
    assert "scheduled" in page.locator(".meta .status").inner_text()
    assert "2030-03-01 00:00 UTC – 2030-03-01 03:30 UTC" in page.locator(".window").inner_text()
    no_sideways_scroll(page)
    shot(page, "17-maintenance-scheduled")
    assert page.errors == []
