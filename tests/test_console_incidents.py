"""The console's incident screens over HTTP: the impact preview while picking
components, opening (first notice in the ledger), updates with component
changes, resolving, refusals that leave nothing behind, the cadence clock, and
the audit log screen with its CSV. Both databases."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import html
import io
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import func, select, update

from amends import flows
from amends.api.app import create_app
from amends.config import Settings
from amends.console import sending
from amends.db import unit_of_work, utcnow
from amends.delivery.models import Delivery, DeliveryState, Notice
from amends.impact import summary as impact_summary
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus, Incident, IncidentStatus
from amends.users import service as user_service
from amends.users.models import AuditEntry, Role
from tests import factories
from tests.api_support import in_process
from tests.console_support import add_users, email_of, signed_in

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    yield


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """Customers in two languages and tiers; DNS takes web hosting and e-mail with it."""
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        for n, (locale, tier, channels) in enumerate(
            [("es", "standard", ["email"]), ("en", "premium", ["email", "sms"]),
             ("en", "standard", ["email"])]
        ):  # fmt: skip
            owner = factories.customer(
                session, locale=locale, tier=tier, channels=channels,
                phone="+34600000001" if "sms" in channels else None,
            )  # fmt: skip
            factories.site(session, owner, ["web-hosting"] if n else ["email"])
            if n == 2:
                factories.site(session, owner, ["domains"])  # not hit by DNS
    add_users(app)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app) as client:
        yield client


def _count(app: FastAPI, model: type) -> int:
    with unit_of_work(app.state.sessions) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _numbers(html: str) -> tuple[int, int]:
    customers = re.search(r'class="customers">([\d,]+)<', html)
    sites = re.search(r'class="sites">([\d,]+)<', html)
    assert customers and sites, html
    return int(customers.group(1).replace(",", "")), int(sites.group(1).replace(",", ""))


async def test_the_preview_counts_who_opening_then_hits(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    csrf = await signed_in(client, Role.communicator)
    empty = await client.get("/console/incidents/impact")
    assert "Pick components" in empty.text
    preview = await client.get("/console/incidents/impact", params={"component": "dns"})
    assert _numbers(preview.text) == (3, 3)
    assert "premium" in preview.text and "sms" in preview.text
    only_mail = await client.get("/console/incidents/impact", params={"component": "email"})
    assert _numbers(only_mail.text) == (1, 1)

    opened = await client.post(
        "/console/incidents",
        data={"csrf": csrf, "title": "Name servers down", "message": "We are on it.",
              "status": "investigating", "component": "dns", "status_dns": "major_outage"},
    )  # fmt: skip
    assert opened.status_code == 303, opened.text
    incident_id = int(opened.headers["location"].rsplit("/", 1)[1])
    with unit_of_work(app.state.sessions) as session:
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        summary = impact_summary.summarize(session=session, incident=incident)
        assert (summary.customers, summary.sites) == (3, 3)
        notices = session.scalars(select(Notice)).all()
        assert [str(n.kind) for n in notices] == ["first"]
        deliveries = session.scalar(select(func.count()).select_from(Delivery))
        assert deliveries == 4  # three e-mails and one SMS
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "incident.open")
        ).one()
        assert entry.actor == email_of(Role.communicator)
        assert entry.target == f"incident {incident_id}" and "dns=major_outage" in entry.detail
    page = await client.get(f"/console/incidents/{incident_id}")
    assert _numbers(page.text) == (3, 3)
    assert 'class="ledger-total">4<' in page.text
    assert "next update due in 30 minutes" in page.text
    assert 'class="top overdue"' not in page.text


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"title": "No parts", "status": "investigating"}, "pick at least one component"),
        ({"title": "Ghost", "component": "ghost"}, "no component 'ghost'"),
        ({"title": "", "component": "dns"}, "title"),
        ({"title": "Odd", "component": "dns", "status_dns": "on_fire"}, "unknown status"),
        ({"title": "Odd", "component": "dns", "status": "resolved"}, ""),
    ],
)
async def test_a_refused_open_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, form: dict[str, str], says: str
) -> None:
    csrf = await signed_in(client, Role.communicator)
    answer = await client.post("/console/incidents", data={"csrf": csrf, **form})
    assert answer.status_code == 422, answer.text
    assert 'class="error"' in answer.text and says in html.unescape(answer.text)
    assert (_count(app, Incident), _count(app, Notice), _count(app, Delivery)) == (0, 0, 0)
    assert "incident.open" not in {e.action for e in _entries(app)}


def _entries(app: FastAPI) -> list[AuditEntry]:
    with unit_of_work(app.state.sessions) as session:
        rows = session.scalars(select(AuditEntry)).all()
        session.expunge_all()
        return list(rows)


def _open(app: FastAPI, minutes_ago: int = 0) -> int:
    at = utcnow() - dt.timedelta(minutes=minutes_ago)
    with unit_of_work(app.state.sessions) as session:
        incident, _ = flows.open_incident(
            session=session, title="DNS down", components={"dns": ComponentStatus.major_outage},
            started_at=at, now=at,
        )  # fmt: skip
        return incident.id


async def test_updates_change_components_and_owe_notices_then_an_approver_resolves(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    incident_id = _open(app)
    csrf = await signed_in(client, Role.communicator)
    path = f"/console/incidents/{incident_id}"
    posted = await client.post(
        f"{path}/updates",
        data={"csrf": csrf, "status": "identified", "message": "A bad router update.",
              "status_dns": "partial_outage", "notify": "on"},
    )  # fmt: skip
    assert posted.status_code == 303, posted.text
    quiet = await client.post(
        f"{path}/updates",
        data={"csrf": csrf, "status": "monitoring", "message": "Internal: watching."},
    )
    assert quiet.status_code == 303
    with unit_of_work(app.state.sessions) as session:
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        assert incident.status is IncidentStatus.monitoring
        assert [c.status for c in incident.components] == [ComponentStatus.partial_outage]
        assert [u.customer_facing for u in incident.updates] == [True, True, False]
        assert [str(n.kind) for n in session.scalars(select(Notice).order_by(Notice.id))] == [
            "first", "update",
        ]  # fmt: skip
    page = await client.get(path)
    assert "Resolve and owe" not in page.text  # a communicator does not resolve
    refused = await client.post(f"{path}/resolve", data={"csrf": csrf, "message": "Fixed"})
    assert refused.status_code == 403

    async with in_process(app) as approver:
        token = await signed_in(approver, Role.approver)
        done = await approver.post(f"{path}/resolve", data={"csrf": token, "message": "Fixed."})
        assert done.status_code == 303
        again = await approver.post(f"{path}/resolve", data={"csrf": token, "message": "Again"})
        assert again.status_code == 422 and 'class="error"' in again.text
        late = await approver.post(
            f"{path}/updates", data={"csrf": token, "status": "identified", "message": "x"}
        )
        assert late.status_code == 422
    with unit_of_work(app.state.sessions) as session:
        kinds = [str(n.kind) for n in session.scalars(select(Notice).order_by(Notice.id))]
        assert kinds == ["first", "update", "resolution"]
        assert (
            len(incident_service.get_incident(session=session, incident_id=incident_id).updates)
            == 4
        )
    actions = [(e.actor, e.action) for e in _entries(app) if e.action.startswith("incident.")]
    assert actions == [
        (email_of(Role.communicator), "incident.update"),
        (email_of(Role.communicator), "incident.update"),
        (email_of(Role.approver), "incident.resolve"),
    ]


async def test_an_overdue_update_turns_the_header_red(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    late = _open(app, minutes_ago=42)
    await signed_in(client, Role.viewer)
    page = await client.get(f"/console/incidents/{late}")
    assert 'class="top overdue"' in page.text
    assert "update overdue by 12 minutes" in page.text
    header = await client.get("/console/clock", params={"incident": late})
    assert header.text.lstrip().startswith('<header id="top" class="top overdue"')
    listing = await client.get("/console/")
    assert 'class="top overdue"' in listing.text and "overdue by" in listing.text
    fresh = _open(app)
    assert 'class="top overdue"' not in (await client.get(f"/console/incidents/{fresh}")).text


async def test_the_audit_screen_filters_and_exports(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    incident_id = _open(app)
    async with in_process(app) as other:
        token = await signed_in(other, Role.communicator)
        await other.post(
            f"/console/incidents/{incident_id}/updates",
            data={"csrf": token, "status": "identified", "message": "Found it", "notify": "on"},
        )
    await signed_in(client, Role.admin)
    page = await client.get("/console/audit", params={"action": "incident.update"})
    assert page.status_code == 200
    assert page.text.count("<td>incident.update</td>") == 1
    assert "<td>signin</td>" not in page.text
    mine = await client.get("/console/audit", params={"actor": email_of(Role.admin)})
    assert "<td>incident.update</td>" not in mine.text and "<td>signin</td>" in mine.text
    today = utcnow().date().isoformat()
    yesterday = (utcnow().date() - dt.timedelta(days=1)).isoformat()
    assert "incident.update" in (await client.get("/console/audit", params={"since": today})).text
    none = await client.get("/console/audit", params={"until": yesterday})
    assert "Nothing matches" in none.text
    bad = await client.get("/console/audit", params={"since": "last tuesday"})
    assert bad.status_code == 422 and "not a date" in bad.text
    exported = await client.get("/console/audit.csv", params={"action": "incident.update"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["actor"], r["target"]) for r in rows] == [
        (email_of(Role.communicator), f"incident {incident_id}")
    ]
    assert "audit.export" in {e.action for e in _entries(app)}


async def test_the_ledger_streams_as_rows_are_sent(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sending, "TICK", 0.05)
    csrf = await signed_in(client, Role.viewer)
    assert csrf
    with unit_of_work(app.state.sessions) as session:
        incident, _ = flows.open_incident(
            session=session, title="DNS down", components={"dns": ComponentStatus.major_outage}
        )
        incident_id = incident.id

    async def sender() -> None:  # what the dispatcher records once the relay accepted them
        await asyncio.sleep(0.3)
        with unit_of_work(app.state.sessions) as session:
            session.execute(update(Delivery).values(state=DeliveryState.sent))

    task = asyncio.create_task(sender())
    answer = await client.get(f"/console/incidents/{incident_id}/ledger/stream")
    await task
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [block for block in answer.text.split("\n\n") if block]
    names = [block.splitlines()[0] for block in events]
    assert names == ["event: ledger", "event: ledger", "event: done"]
    assert 'class="state-pending">4<' in events[0] and 'class="state-sent">4<' in events[1]
    assert all(line.startswith(("event:", "data:")) for b in events for line in b.splitlines())


async def test_an_approver_retries_the_failed_deliveries(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    incident_id = _open(app)
    with unit_of_work(app.state.sessions) as session:
        ids = sorted(session.scalars(select(Delivery.id)))
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids[:2]))
            .values(state=DeliveryState.failed, attempts=5, last_error="550 relay refused")
        )
    csrf = await signed_in(client, Role.approver)
    page = await client.get(f"/console/incidents/{incident_id}")
    assert "Retry the 2 failed" in page.text
    assert (
        await client.post(f"/console/incidents/{incident_id}/retry", data={"csrf": csrf})
    ).status_code == 303
    with unit_of_work(app.state.sessions) as session:
        rows = session.execute(select(Delivery.state, Delivery.attempts, Delivery.last_error)).all()
    assert sorted((str(s), a) for s, a, _ in rows) == [("pending", 0)] * len(rows)
    assert sum(1 for *_, e in rows if e == "550 relay refused") == 2  # the reason stays
    entry = next(e for e in _entries(app) if e.action == "deliveries.retry")
    assert entry.detail == "2 failed deliveries owed again"


def test_progress_is_the_pace_since_the_stream_began() -> None:
    from amends.delivery.ledger import DeliveryCounts

    first = DeliveryCounts(incident_id=1, total=100, by_state={"pending": 100})
    later = DeliveryCounts(incident_id=1, total=100, by_state={"pending": 60, "sent": 40})
    assert sending.progress(first, first, 1.0) is None
    assert sending.progress(first, later, 4.0) == {"rate": 10.0, "left": 6.0}
