"""The apology from the console: preview per customer and channel with the
auditor's findings, the live check, a blocked apology sent only with a recorded
override, and the two-person rule. Both databases."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select

from amends import flows
from amends.api.app import create_app
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery.models import Delivery, Notice
from amends.facts import service as facts_service
from amends.facts.kinds import CauseOwner, Exposure
from amends.facts.models import AuditOverride
from amends.incidents.models import ComponentStatus
from amends.users import service as user_service
from amends.users.models import AuditEntry, Role
from tests import factories
from tests.api_support import in_process
from tests.console_support import add_users, email_of, signed_in

pytestmark = pytest.mark.anyio
PATH = "/console/incidents/1/apology"


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    yield


def _app(settings: Settings, cause: str, **overrides: object) -> FastAPI:
    app = create_app(settings.model_copy(update=overrides))
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        factories.site(session, factories.customer(session, name="Ana Ruiz", locale="es"), ["dns"])
        factories.site(session, factories.customer(session, name="Bob Lee", locale="en"), ["email"])
        incident, _ = flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage},
            notify=False,
        )  # fmt: skip
        flows.resolve(session=session, incident_id=incident.id, message="Fixed", notify=False)
        facts_service.record_facts(
            session=session, incident_id=incident.id, cause_owner=CauseOwner.internal,
            root_cause=cause, actions_taken=["we restored DNS"],
        )  # fmt: skip
        facts_service.assess_exposure(
            session=session, incident_id=incident.id, exposure=Exposure.none, signed_off_by="CISO"
        )
    add_users(app)
    return app


BLOCKING = "an attacker from outside took our DNS down"  # blames others for our own failure


@pytest.fixture
async def blocked(settings: Settings) -> AsyncIterator[FastAPI]:
    app = _app(settings, BLOCKING)
    yield app
    _dispose(app)


def _dispose(app: FastAPI) -> None:
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def _rows(app: FastAPI, model: type) -> list[object]:
    with unit_of_work(app.state.sessions) as session:
        rows = list(session.scalars(select(model)).all())
        session.expunge_all()
        return rows


async def test_preview_per_customer_and_channel_with_findings(blocked: FastAPI) -> None:
    async with in_process(blocked) as client:
        await signed_in(client, Role.communicator)
        mail = await client.get(PATH)
        assert mail.status_code == 200
        text = html.unescape(mail.text)
        assert "Ana Ruiz (es)" in text and "Bob Lee (en)" in text
        assert 'class="subject"' in text and "Ana Ruiz" in text.split('class="message"')[1]
        with unit_of_work(blocked.state.sessions) as session:
            from amends.catalog.models import Customer

            bob = session.scalar(select(Customer.id).where(Customer.name == "Bob Lee"))
        english = await client.get(PATH, params={"customer": bob, "channel": "email"})
        assert "blocked" in english.text and "N4" in english.text  # the sentence and a fix
        assert "Fix:" in english.text
        sms = await client.get(PATH, params={"customer": bob, "channel": "sms"})
        assert "SMS segment" in sms.text
        voice = await client.get(PATH, params={"customer": bob, "channel": "voice"})
        assert voice.status_code == 200 and "voice · en" in voice.text
        live = await client.post(
            "/console/check",
            data={"text": "We are sorry for any inconvenience this may have caused.", "lang": "en"},
            headers={"X-CSRF-Token": (await _token(client))},
        )
        assert live.status_code == 200 and 'class="finding' in live.text
    assert _rows(blocked, Notice) == []  # previewing writes nothing


async def _token(client: httpx.AsyncClient) -> str:
    from tests.console_support import form_token

    return form_token((await client.get("/console/")).text)


async def test_a_blocked_apology_goes_only_with_a_recorded_override(blocked: FastAPI) -> None:
    async with in_process(blocked) as client:
        csrf = await signed_in(client, Role.communicator)
        assert (await client.post(PATH, data={"csrf": csrf})).status_code == 403  # not an approver
    async with in_process(blocked) as client:
        csrf = await signed_in(client, Role.approver)
        page = await client.get(PATH)
        assert "Override: why" in page.text
        refused = await client.post(PATH, data={"csrf": csrf})
        assert refused.status_code == 409 and "auditor blocks" in refused.text
        assert (_rows(blocked, Notice), _rows(blocked, AuditOverride)) == ([], [])
        sent = await client.post(PATH, data={"csrf": csrf, "reason": "Legal approved the wording"})
        assert sent.status_code == 303, sent.text
    (notice,) = _rows(blocked, Notice)
    assert str(notice.kind) == "apology"  # type: ignore[attr-defined]
    assert len(_rows(blocked, Delivery)) == 2
    overrides = _rows(blocked, AuditOverride)
    assert {o.who for o in overrides} == {email_of(Role.approver)}  # type: ignore[attr-defined]
    (entry,) = [e for e in _rows(blocked, AuditEntry) if e.action == "apology.send"]  # type: ignore[attr-defined]
    assert "override (en)" in entry.detail and "Legal approved" in entry.detail  # type: ignore[attr-defined]


async def test_the_two_person_rule(settings: Settings) -> None:
    app = _app(settings, "a faulty router update we made", console_two_person_rule=True)
    try:
        await _two_people(app)
    finally:
        _dispose(app)


async def _two_people(app: FastAPI) -> None:
    async with in_process(app) as approver:
        token = await signed_in(approver, Role.approver)
        alone = await approver.post(PATH, data={"csrf": token})
        assert alone.status_code == 409 and "must ask" in alone.text
        assert (await approver.post(f"{PATH}/request", data={"csrf": token})).status_code == 303
        self_approved = await approver.post(PATH, data={"csrf": token})
        assert self_approved.status_code == 409 and "cannot also approve" in self_approved.text
    assert _rows(app, Notice) == []
    async with in_process(app) as admin:
        token = await signed_in(admin, Role.admin)
        page = await admin.get(PATH)
        assert email_of(Role.approver) in page.text
        sent = await admin.post(PATH, data={"csrf": token})
        assert sent.status_code == 303, sent.text
    assert len(_rows(app, Delivery)) == 2
    (entry,) = [e for e in _rows(app, AuditEntry) if e.action == "apology.send"]  # type: ignore[attr-defined]
    assert entry.actor == email_of(Role.admin)  # type: ignore[attr-defined]
    assert f"asked by {email_of(Role.approver)}" in entry.detail  # type: ignore[attr-defined]
