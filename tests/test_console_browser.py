"""The console in a real browser (Playwright on Debian's Chromium) against a real
Uvicorn server, with mail caught by an aiosmtpd sink on 127.0.0.1: a
communicator (on a tablet) opens an incident from the catalog watching the
impact appear, posts an update; an approver (on a laptop) resolves it; each
notice lands in the ledger and in the customers' mailboxes; the admin reads
the audit log; an overdue incident turns the header red.

Screenshots of each screen go to ``test-artifacts/console/``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amends import flows
from amends.api.app import create_app
from amends.db import unit_of_work, utcnow
from amends.incidents.models import ComponentStatus
from amends.users.models import Role
from tests import factories
from tests.browser_support import chromium, free_port, serving, web_first_expect
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

CUSTOMERS = ("ana@cliente.example", "bob@customer.example")

expect = web_first_expect()


@pytest.fixture
def site(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, Sink]]:
    quick_passwords(monkeypatch)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with smtp_sink() as (sink, smtp_port):
        app = create_app(mail_settings(sqlite_url, smtp_port, public_url=url))
        with unit_of_work(app.state.sessions) as session:
            factories.hosting_catalog(session)
            for address, locale in zip(CUSTOMERS, ("es", "en"), strict=True):
                owner = factories.customer(session, email=address, locale=locale)
                factories.site(session, owner, ["web-hosting"])
        add_users(app)
        with serving(app, port):
            yield app, url, sink


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def _delivered(app: Any, sink: Sink, count: int) -> None:
    tally = run_dispatch(app.state.engine, app.state.settings)
    assert tally is not None
    for address in CUSTOMERS:
        sink.wait_for(address, count)


def test_a_communicator_and_an_approver_run_an_outage(
    site: tuple[Any, str, Sink], browser: Any
) -> None:
    app, url, sink = site
    page = signed_in(browser, url, Role.communicator, TABLET)
    assert page.get_by_role("heading", level=1).inner_text() == "Incidents"
    shot(page, "01-incidents-empty")
    page.get_by_role("link", name="Open an incident").first.click()
    page.get_by_label("Title").fill("Name servers not answering")
    page.get_by_label("First message to customers").fill("Sites and mail are down; we are on it.")
    page.get_by_label("DNS dns").check()
    impact = page.locator("#impact")
    impact.locator(".customers", has_text="2").wait_for()
    assert impact.locator(".sites").inner_text() == "2"
    assert "es" in impact.inner_text() and "en" in impact.inner_text()
    no_sideways_scroll(page)
    shot(page, "02-open-incident-impact-preview")
    page.get_by_role("button", name="Open the incident").click()
    page.wait_for_url(f"{url}/console/incidents/*")
    assert "next update due in 30 minutes" in page.locator("header").inner_text()
    assert page.locator(".ledger-total").inner_text() == "2"
    _delivered(app, sink, 1)
    page.locator("#ledger .state-sent", has_text="2").wait_for(timeout=10_000)  # htmx poll
    shot(page, "03-incident-first-notice-sent")

    form = page.get_by_role("form", name="post an update")
    form.get_by_label("Status").select_option("identified")
    form.get_by_label("Message").fill("A faulty router update; rolling it back.")
    form.get_by_label("DNS").select_option("partial_outage")
    form.get_by_role("button", name="Post the update").click()
    page.wait_for_load_state()
    assert page.locator(".meta .status").inner_text() == "identified"
    assert page.locator(".cstatus").inner_text() == "partial_outage"
    assert page.get_by_role("form", name="resolve").count() == 0  # approvers resolve
    no_sideways_scroll(page)
    shot(page, "04-incident-update-posted")
    _delivered(app, sink, 2)
    form = page.get_by_role("form", name="post an update")
    form.get_by_label("Status").select_option("monitoring")
    form.get_by_label("Message").fill("The rollback is done; we are watching the name servers.")
    form.get_by_label("DNS").select_option("operational")
    form.get_by_role("button", name="Post the update").click()
    page.wait_for_load_state()
    assert page.locator(".meta .status").inner_text() == "monitoring"
    _delivered(app, sink, 3)
    incident_url = page.url
    assert page.errors == []
    page.context.close()

    page = signed_in(browser, url, Role.approver, LAPTOP)
    page.goto(incident_url)
    resolve = page.get_by_role("form", name="resolve")
    resolve.get_by_label("Message").fill("Name servers answer again; all sites are back.")
    resolve.get_by_role("button", name="Resolve").click()
    page.wait_for_load_state()
    assert page.locator(".meta .status").inner_text() == "resolved"
    assert "apology" in page.locator("header").inner_text()  # the cadence now owes the apology
    _delivered(app, sink, 4)
    page.reload()
    assert page.locator("#ledger .state-sent").inner_text() == "8"
    shot(page, "05-incident-resolved")
    for address in CUSTOMERS:
        subjects = [str(m["Subject"]) for m in sink.to(address)]
        assert len(subjects) == 4, subjects  # first notice, two updates, resolution

    # compensation: GoDaddy's own policy, one month per affected site
    page.get_by_role("link", name="Credits").click()
    assert page.locator(".credit-count").inner_text() == "2"
    shot(page, "08-credits-preview")
    page.get_by_role("button", name="Issue these credits").click()
    page.wait_for_load_state()
    assert page.locator(".credited").inner_text() == "2"
    shot(page, "09-credits-issued")

    # the apology: preview, the auditor, approve and send
    page.goto(incident_url)
    page.get_by_role("link", name="The apology").click()
    assert page.locator("pre.message").inner_text()
    assert page.locator("#findings").count() == 1
    page.get_by_label("Channel").select_option("sms")
    page.get_by_role("button", name="Show").click()
    assert "SMS segment" in page.locator(".meta").first.inner_text()
    draft = page.get_by_role("textbox", name="Text")
    draft.fill("We are sorry for any inconvenience this may have caused.")
    page.locator("#check-findings .finding").first.wait_for()  # the live check (htmx)
    shot(page, "10-apology-preview")
    override = page.get_by_label("Override: why")
    if override.count():
        override.fill("Reviewed by legal and the CEO before sending")
    page.get_by_role("button", name="Approve and send").click()
    page.wait_for_url(incident_url)
    _delivered(app, sink, 5)
    for address, sorry in zip(CUSTOMERS, ("Le pedimos disculpas", "We are sorry"), strict=True):
        apology = sink.to(address)[-1]  # the fifth message: the apology, in their language
        assert str(apology["Subject"]).startswith(sorry)
        assert "site" in text_of(apology) and len(sink.to(address)) == 5
    assert page.errors == []
    page.context.close()

    page = signed_in(browser, url, Role.admin, LAPTOP)
    page.get_by_role("link", name="Audit log").click()
    rows = page.locator("table.audit tbody tr")
    opened = rows.filter(has_text="incident.open").filter(has_text=email_of(Role.communicator))
    expect(opened).to_have_count(1)
    resolved = rows.filter(has_text="incident.resolve").filter(has_text=email_of(Role.approver))
    expect(resolved).to_have_count(1)
    page.get_by_label("Action").select_option("incident.update")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/console/audit?*action=incident.update*")
    expect(rows).to_have_count(2)  # two updates
    shot(page, "06-audit-log")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert "incident.update" in Path(download.value.path()).read_text()

    late = utcnow().replace(microsecond=0)
    with unit_of_work(app.state.sessions) as session:
        flows.open_incident(
            session=session,
            title="Mail queueing",
            components={"email": ComponentStatus.degraded_performance},
            started_at=late - dt.timedelta(minutes=45),
            notify=False,
        )
    page.goto(f"{url}/console/")
    assert "overdue" in (page.locator("header").get_attribute("class") or "")
    shot(page, "07-overdue-header")
    page.context.close()
