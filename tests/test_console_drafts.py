"""Drafts in the console through the real app: start from a kind, edit (a
version per save, bad templates refused naming the field), live findings,
preview per customer/channel/language, roles, CSRF, the override a blocking
finding needs, the two-person rule, one send only; and scheduling maintenance.
Both databases."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select

from amends import flows
from amends.api.app import create_app
from amends.catalog.models import Customer
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery.models import Delivery, Notice
from amends.facts.models import AuditOverride
from amends.incidents.models import ComponentStatus, Incident, IncidentKind
from amends.messages.drafts.models import DraftVersion, MessageDraft
from amends.users import service as user_service
from amends.users.models import AuditEntry, Role
from tests import factories
from tests.api_support import in_process
from tests.console_support import add_users, email_of, signed_in

pytestmark = pytest.mark.anyio
BASE = "/console/incidents/1/drafts"
BLOCKING = "We are sorry for any inconvenience this may have caused."  # N2


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    yield


def _app(settings: Settings, **overrides: object) -> FastAPI:
    app = create_app(settings.model_copy(update={"console_login_rate_per_ip": 1000, **overrides}))
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        ana = factories.customer(
            session, name="Ana Ruiz", locale="es", phone="+34600000001", channels=["email", "sms"]
        )
        factories.site(session, ana, ["dns"])
        factories.site(session, factories.customer(session, name="Bob Lee", locale="en"), ["email"])
        flows.open_incident(
            session=session, title="DNS down", components={"dns": ComponentStatus.major_outage},
            notify=False,
        )  # fmt: skip
    add_users(app)
    return app


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = _app(settings)
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


def _fields(page: str) -> dict[str, str]:
    """The editor's texts as the browser would post them back."""
    out = {}
    for name, value in re.findall(r'<input name="(\w\w\.subject)" value="([^"]*)"', page):
        out[name] = html.unescape(value)
    for name, value in re.findall(
        r'<textarea name="(\w\w\.\w+)"[^>]*>(.*?)</textarea>', page, re.S
    ):
        out[name] = html.unescape(value)
    return out


async def _start(client: httpx.AsyncClient, csrf: str, kind: str = "correction") -> str:
    made = await client.post(BASE, data={"kind": kind, "csrf": csrf})
    assert made.status_code == 303, made.text
    return made.headers["location"]


async def test_a_communicator_drafts_edits_and_previews(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.communicator)
        where = await _start(client, csrf)
        page = await client.get(where)
        assert page.status_code == 200
        fields = _fields(page.text)
        assert fields["en.subject"] == "Correction: DNS down"
        assert fields["es.subject"] == "Corrección: DNS down" and "{{ name }}" in fields["es.email"]
        assert 'id="draft-findings"' in page.text and "Auditor (es)" in page.text
        assert "Approve and send" not in page.text  # approvers send

        # the live check: findings with the sentence and a fix, nothing written
        typed = {**fields, "en.email": BLOCKING, "csrf": csrf}
        live = await client.post(f"{where}/check", data=typed)
        assert live.status_code == 200
        assert "N2" in live.text and "blocked" in live.text and "Fix:" in live.text
        assert html.escape(BLOCKING, quote=False) in live.text
        bad = await client.post(f"{where}/check", data={**fields, "es.sms": "{{ name.x }}",
                                                        "csrf": csrf})  # fmt: skip
        assert "SMS text (es)" in bad.text and "not allowed" in bad.text

        # save: a refused template keeps the text on the page and writes no version
        refused = await client.post(
            where, data={**fields, "en.voice": "Hi {{ nom }}", "csrf": csrf}
        )
        assert refused.status_code == 422
        assert "unknown field {{ nom }}" in html.unescape(refused.text)
        assert "Hi {{ nom }}" in html.unescape(refused.text)
        fields["en.email"] = "Hello {{ name }}, the figure about {{ sites }} was wrong."
        fields["es.sms"] = "Corrección para {{ name }}: " + "á" * 80
        saved = await client.post(where, data={**fields, "csrf": csrf})
        assert saved.status_code == 303
        assert [v.number for v in _rows(app, DraftVersion)] == [1, 2]  # type: ignore[attr-defined]

        with unit_of_work(app.state.sessions) as session:
            ana, bob = session.scalars(select(Customer.id).order_by(Customer.id)).all()
        mail = await client.get(f"{where}/preview", params={"customer": bob, "channel": "email"})
        assert mail.status_code == 200
        assert 'sandbox=""' in mail.text and "srcdoc=" in mail.text
        assert "style-src-attr 'unsafe-inline'" in mail.headers["content-security-policy"]
        shown = html.unescape(mail.text)
        assert "Hello Bob Lee, the figure about site" in shown  # in the HTML and the text
        assert shown.count("Hello Bob Lee") == 2 and shown.count("/u/c.") == 2  # unsubscribe
        spanish = await client.get(f"{where}/preview", params={"customer": ana, "channel": "sms"})
        assert "Corrección para Ana Ruiz" in html.unescape(spanish.text)
        assert "2 SMS segments" in spanish.text and "UCS-2" in spanish.text
        english = await client.get(
            f"{where}/preview", params={"customer": ana, "channel": "voice", "lang": "en"}
        )
        assert "voice · en" in english.text and "Ana Ruiz" in english.text
    assert _rows(app, Notice) == []  # nothing drafted is sent until approved


async def test_csrf_and_roles(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.communicator)
        where = await _start(client, csrf)
        for token in ("", "forged"):
            refused = await client.post(f"{where}/request", data={"csrf": token})
            assert refused.status_code == 403 and "security token" in refused.text
        assert (await client.post(BASE, data={"kind": "update"})).status_code == 403
        assert (await client.post(f"{where}/send", data={"csrf": csrf})).status_code == 403
    async with in_process(app) as viewer:
        await signed_in(viewer, Role.viewer)
        assert (await viewer.get(where)).status_code == 403
    (draft,) = _rows(app, MessageDraft)
    assert str(draft.state) == "draft" and _rows(app, Notice) == []  # type: ignore[attr-defined]


async def test_blocking_findings_need_a_recorded_override_and_one_send_only(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.communicator)
        where = await _start(client, csrf)
        fields = _fields((await client.get(where)).text)
        await client.post(where, data={**fields, "en.email": BLOCKING, "csrf": csrf})
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.approver)
        page = await client.get(where)
        assert "Override: why" in page.text
        refused = await client.post(f"{where}/send", data={"csrf": csrf})
        assert refused.status_code == 409 and "auditor blocks this draft (N2)" in refused.text
        assert (_rows(app, Notice), _rows(app, AuditOverride)) == ([], [])
        sent = await client.post(
            f"{where}/send", data={"csrf": csrf, "reason": "Legal approved this exact wording"}
        )
        assert sent.status_code == 303, sent.text
        again = await client.post(
            f"{where}/send", data={"csrf": csrf, "reason": "Legal approved this exact wording"}
        )
        assert again.status_code == 409 and "already sent" in again.text
    (notice,) = _rows(app, Notice)
    assert str(notice.kind) == "draft"  # type: ignore[attr-defined]
    assert len(_rows(app, Delivery)) == 3  # Ana: e-mail and SMS; Bob: e-mail
    (override,) = _rows(app, AuditOverride)
    assert (override.who, override.locale) == (email_of(Role.approver), "en")  # type: ignore[attr-defined]
    (entry,) = [e for e in _rows(app, AuditEntry) if e.action == "draft.send"]  # type: ignore[attr-defined]
    assert "override (en): Legal approved" in entry.detail  # type: ignore[attr-defined]


async def test_the_two_person_rule(settings: Settings) -> None:
    app = _app(settings, console_two_person_rule=True)
    try:
        async with in_process(app) as approver:
            token = await signed_in(approver, Role.approver)
            where = await _start(approver, token)
            alone = await approver.post(f"{where}/send", data={"csrf": token})
            assert alone.status_code == 409 and "must ask" in alone.text
            assert (
                await approver.post(f"{where}/request", data={"csrf": token})
            ).status_code == 303
            mine = await approver.post(f"{where}/send", data={"csrf": token})
            assert mine.status_code == 409 and "cannot also approve" in mine.text
        async with in_process(app) as admin:
            token = await signed_in(admin, Role.admin)
            page = await admin.get(where)
            assert email_of(Role.approver) in page.text
            assert (await admin.post(f"{where}/send", data={"csrf": token})).status_code == 303
        (draft,) = _rows(app, MessageDraft)
        assert (draft.requested_by, draft.approved_by) == (  # type: ignore[attr-defined]
            email_of(Role.approver), email_of(Role.admin),
        )  # fmt: skip
        assert len(_rows(app, Delivery)) == 3
    finally:
        _dispose(app)


async def test_discarding(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.communicator)
        where = await _start(client, csrf)
        assert (await client.post(f"{where}/discard", data={"csrf": csrf})).status_code == 303
        listed = await client.get(BASE)
        assert '<td class="state">discarded</td>' in listed.text
        again = await client.post(f"{where}/request", data={"csrf": csrf})
        assert again.status_code == 409 and "discarded" in again.text


async def test_scheduling_maintenance(app: FastAPI) -> None:
    async with in_process(app) as client:
        csrf = await signed_in(client, Role.communicator)
        form = await client.get("/console/maintenance/new")
        assert form.status_code == 200 and 'name="offset"' in form.text
        preview = await client.get("/console/incidents/impact", params={"component": "dns"})
        assert '<strong class="customers">2</strong>' in preview.text
        data = {
            "title": "Name server upgrade", "component": "dns", "offset": "+02:00",
            "starts_at": "2030-03-01T02:00", "ends_at": "2030-03-01T01:00", "csrf": csrf,
        }  # fmt: skip
        backwards = await client.post("/console/maintenance", data=data)
        assert backwards.status_code == 422 and "end after it starts" in backwards.text
        done = await client.post(
            "/console/maintenance", data={**data, "ends_at": "2030-03-01T05:30"}
        )
        assert done.status_code == 303
        page = await client.get(done.headers["location"])
        assert "planned 2030-03-01 00:00 UTC – 2030-03-01 03:30 UTC" in page.text
    maintenance = [i for i in _rows(app, Incident) if i.kind is IncidentKind.maintenance]  # type: ignore[attr-defined]
    assert [m.title for m in maintenance] == ["Name server upgrade"]  # type: ignore[attr-defined]
    assert any(e.action == "maintenance.schedule" for e in _rows(app, AuditEntry))  # type: ignore[attr-defined]
