"""A customer rates our handling from the e-mails that really arrived: the
resolution notice, then the apology — in a real browser (Playwright on
Debian's Chromium, JavaScript off) against a real Uvicorn server, with the
mail sent through the ledger and the SMTP channel to an aiosmtpd sink.

Screenshots go to ``test-artifacts/ratings/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from amends import flows
from amends.api.app import create_app
from amends.db import unit_of_work
from amends.facts import service as facts_service
from amends.facts.kinds import CauseOwner, Exposure
from amends.incidents.models import ComponentStatus
from amends.ratings.models import Rating
from amends.report import service as report
from tests.browser_support import chromium, free_port, serving, web_first_expect
from tests.factories import customer, hosting_catalog, site
from tests.subscription_support import Sink, link, mail_settings, run_dispatch, smtp_sink

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "ratings"
ANA = "ana@example.es"

expect = web_first_expect()


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[Any, str, Sink]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with smtp_sink() as (sink, smtp_port):
        app = create_app(mail_settings(sqlite_url, smtp_port, public_url=url))
        with unit_of_work(app.state.sessions) as session:
            hosting_catalog(session)
            ana = customer(session, name="Ana Núñez", email=ANA, locale="es")
            site(session, ana, ["dns"])
        with serving(app, port):
            yield app, url, sink


def ratings(app: Any) -> list[tuple[Any, ...]]:
    with app.state.sessions() as session:
        rows = session.execute(select(Rating.notice_kind, Rating.score, Rating.comment))
        return [tuple(r) for r in rows]


def test_a_customer_rates_from_the_resolution_then_changes_it_from_the_apology(
    served: tuple[Any, str, Sink],
) -> None:
    app, url, sink = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with unit_of_work(app.state.sessions) as session:
        incident, _ = flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage}
        )
        flows.resolve(session=session, incident_id=incident.id, message="DNS responde de nuevo.")
    run_dispatch(app.state.engine, app.state.settings)
    resolved = sink.wait_for(ANA, 2)[1]
    assert "¿Cómo hemos gestionado esta incidencia?" in resolved.get_body(("plain",)).get_content()

    with chromium() as browser:
        context = browser.new_context(
            java_script_enabled=False, viewport={"width": 390, "height": 844}
        )
        page = context.new_page()
        page.goto(url + link(resolved, "/rate/").rsplit("/", 1)[0] + "/4")
        assert page.get_by_label("4 · bien").is_checked()
        assert ratings(app) == []  # opening the link recorded nothing
        page.screenshot(path=ARTIFACTS / "rate-resolution-es-phone.png", full_page=True)
        page.get_by_role("button", name="Enviar mi respuesta").click()
        expect(page.locator("[data-status=saved]")).to_have_count(1)
        assert ratings(app) == [("resolution", 4, None)]

        with unit_of_work(app.state.sessions) as session:
            facts_service.record_facts(
                session=session, incident_id=incident.id, cause_owner=CauseOwner.internal,
                root_cause="a change we made to our DNS servers was wrong",
                actions_taken=["we restored DNS"],
            )  # fmt: skip
            facts_service.assess_exposure(
                session=session, incident_id=incident.id, exposure=Exposure.none,
                signed_off_by="CISO",
            )  # fmt: skip
            flows.apologise(
                session=session, incident_id=incident.id, company="Hosting",
                public_url=url, override_by="test", override_reason="wording not under test",
            )  # fmt: skip
        run_dispatch(app.state.engine, app.state.settings)
        apology = sink.wait_for(ANA, 3)[2]
        html = apology.get_body(("html",)).get_content()
        assert html.count("/rate/") == 5
        page.goto(url + link(apology, "/rate/").rsplit("/", 1)[0] + "/5")
        assert page.locator("[data-status=current]").count() == 1  # "so far: 4 · bien"
        assert page.get_by_label("5 · muy bien").is_checked()
        page.get_by_label("¿Quiere contarnos algo más? (opcional)").fill(
            "La disculpa fue clara y el crédito llegó solo."
        )
        page.screenshot(path=ARTIFACTS / "rate-apology-es-phone.png", full_page=True)
        page.get_by_role("button", name="Enviar mi respuesta").click()
        expect(page.locator("[data-status=saved]")).to_have_count(1)
        page.screenshot(path=ARTIFACTS / "rate-saved-es-phone.png", full_page=True)
        context.close()
    assert ratings(app) == [("apology", 5, "La disculpa fue clara y el crédito llegó solo.")]
    with unit_of_work(app.state.read_sessions) as session:
        data = report.after_action(session=session, incident_id=incident.id).to_dict()
    assert data["ratings"]["by_language"]["es"]["count"] == 1
    assert data["reach"]["by_channel"]["email"]["delivered"] == 3
    assert data["cadence"]["time_to_apology"]["seconds"] is not None
