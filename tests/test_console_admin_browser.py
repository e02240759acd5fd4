"""The admin's screens in a real browser (Playwright on Debian's Chromium) against
a real Uvicorn server: issue an API key (shown once, then used against the API),
revoke it after the confirmation page (the API refuses it), disable someone,
read the settings (no secret on the page), add a credit policy from the
incident's credits page and preview it there.

Screenshots go to ``test-artifacts/console/`` (copies in docs/console/).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from amends import flows
from amends.api.app import create_app
from amends.config import Settings
from amends.db import unit_of_work
from amends.incidents.models import ComponentStatus
from amends.users.models import Role
from tests import factories
from tests.browser_support import chromium, free_port, require_chromium, serving
from tests.console_browser_support import no_sideways_scroll, quick_passwords, shot, signed_in
from tests.console_support import add_users, email_of

SMTP_SECRET = "relay-password-Kq83"
POLICY = """\
key = "two-weeks"
kind = "flat"
description = "Two weeks of service for each affected site"
months = 0.5
"""

require_chromium()


@pytest.fixture
def site(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    quick_passwords(monkeypatch)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=sqlite_url, auto_migrate=False, public_url=url, dispatch="off",
        smtp_host="smtp.provider.example", smtp_username="notices",
        smtp_password=SMTP_SECRET,  # type: ignore[arg-type]
    )  # fmt: skip
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        for price in (1200, 3000):
            factories.site(session, factories.customer(session), ["web-hosting"], price=price)
        incident, _ = flows.open_incident(
            session=session, title="Name servers down",
            components={"dns": ComponentStatus.major_outage}, notify=False,
        )  # fmt: skip
        flows.resolve(session=session, incident_id=incident.id, message="Fixed", notify=False)
    add_users(app)
    with serving(app, port):
        yield app, url


def test_an_admin_issues_and_revokes_a_key_manages_people_reads_settings_adds_a_policy(
    site: tuple[Any, str],
) -> None:
    _app, url = site
    with chromium() as browser:
        page = signed_in(browser, url, Role.admin)

        # an API key: issued with a scope, shown once, used against the API
        page.get_by_role("link", name="API keys").click()
        form = page.get_by_role("form", name="issue a key")
        form.get_by_label("Scope").select_option("write")
        form.get_by_label("Label").fill("alertmanager")
        form.get_by_role("button", name="Issue the key").click()
        page.wait_for_load_state()
        key = page.locator("code.apikey").inner_text()
        prefix = key.split("_")[1]
        assert page.locator(f'tr[data-prefix="{prefix}"]').inner_text().count("write") == 1
        no_sideways_scroll(page)
        shot(page, "11-apikey-issued")
        api = httpx.Client(base_url=f"{url}/api/v1", headers={"X-API-Key": key})
        assert api.get("/incidents").status_code == 200
        assert api.get("/apikeys").status_code == 403  # write, not admin
        page.goto(f"{url}/console/apikeys")
        assert key not in page.content()  # never again
        assert page.locator(f'tr[data-prefix="{prefix}"] td').nth(4).inner_text() != "—"

        # revoked after the confirmation page: the API refuses it
        page.locator(f'tr[data-prefix="{prefix}"]').get_by_role("link", name="Revoke…").click()
        assert page.get_by_role("heading", level=1).inner_text() == f"Revoke the key {prefix}?"
        assert api.get("/incidents").status_code == 200  # showing the question revoked nothing
        page.get_by_role("button", name="Revoke the key").click()
        page.wait_for_url(f"{url}/console/apikeys")
        assert page.locator(f'tr[data-prefix="{prefix}"]').get_attribute("class") == "revoked"
        assert api.get("/incidents").status_code == 401
        api.close()

        # a person: another role, then disabled
        page.get_by_role("link", name="Users", exact=True).click()
        page.get_by_role("link", name=email_of(Role.viewer)).click()
        role = page.get_by_role("form", name="change the role")
        role.get_by_label("Role").select_option("communicator")
        role.get_by_role("button", name="Change the role").click()
        page.wait_for_load_state()
        assert page.locator("dd.role").inner_text() == "communicator"
        page.get_by_role("button", name="Disable the account").click()
        page.wait_for_load_state()
        assert page.locator("dd.state").inner_text().startswith("disabled since")
        no_sideways_scroll(page)
        shot(page, "12-users-admin")

        # the settings: every value, where it came from, no secret
        page.get_by_role("link", name="Settings").click()
        assert page.get_by_role("heading", level=1).inner_text() == "Settings"
        assert SMTP_SECRET not in page.content()
        assert page.locator("#setting-smtp_password .value").inner_text() == "••••••"
        assert page.locator("#setting-smtp_host .source").inner_text() == "set at start"
        no_sideways_scroll(page)
        shot(page, "13-settings", full_page=False)  # the first screen of a long table

        # a credit policy added from the incident's credits page, then previewed there
        page.goto(f"{url}/console/incidents/1/credits")
        page.get_by_role("link", name="Add a policy…").click()
        form = page.get_by_role("form", name="add a policy")
        form.get_by_label("TOML document").fill(POLICY.replace("0.5", "50"))
        form.get_by_role("button", name="Add the policy").click()
        page.wait_for_load_state()
        assert "line 4" in page.locator(".problems").inner_text()  # months: at most 24
        form = page.get_by_role("form", name="add a policy")
        form.get_by_label("TOML document").fill(POLICY)
        form.get_by_role("button", name="Add the policy").click()
        page.wait_for_load_state()
        assert page.locator(".added-name").inner_text() == "two-weeks@1"
        page.get_by_role("link", name="preview it for #1").click()
        assert page.get_by_label("Policy").input_value() == "two-weeks@1"
        assert page.locator(".credit-count").inner_text() == "2"
        assert "€21.00" in page.locator(".credit-total").inner_text()  # half of €12 + €30
        no_sideways_scroll(page)
        shot(page, "14-policy-added")
        # the refused policy's answer (422) is the only one a browser reports
        assert [e for e in page.errors if "status of 422" not in e] == []
