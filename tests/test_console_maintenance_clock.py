"""The console header's clock on a scheduled maintenance: its window, or that the
work is under way — never an update cadence, never red (a maintenance owes no
updates on a clock). Over HTTP on both databases, and the wording at fixed times."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from amends import flows
from amends.api.app import create_app
from amends.config import Settings
from amends.console.pages import MaintenanceClock, clock_for
from amends.db import unit_of_work, utcnow
from amends.incidents import service as incident_service
from amends.incidents.models import (
    ComponentStatus,
    Impact,
    Incident,
    IncidentKind,
    IncidentStatus,
)
from amends.users import service as user_service
from amends.users.models import Role
from tests import factories
from tests.api_support import in_process
from tests.console_support import add_users, signed_in

pytestmark = pytest.mark.anyio
T = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        user_service, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    yield


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings.model_copy(update={"console_login_rate_per_ip": 1000}))
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
    add_users(app)
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def _maintenance(app: FastAPI, starts: dt.datetime, hours: int, *, announced: dt.datetime) -> int:
    with unit_of_work(app.state.sessions) as session:
        incident = incident_service.schedule_maintenance(
            session=session, title="Name server upgrade", components=["dns"], starts_at=starts,
            ends_at=starts + dt.timedelta(hours=hours), now=announced,
        )  # fmt: skip
        return incident.id


async def test_a_scheduled_maintenance_shows_its_window_and_never_turns_red(app: FastAPI) -> None:
    now = utcnow()
    # announced two hours ago: an incident's clock would say "update overdue by 90 minutes"
    later = (now + dt.timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)
    planned = _maintenance(app, later, 2, announced=now - dt.timedelta(hours=2))
    async with in_process(app) as client:
        await signed_in(client, Role.viewer)
        page = await client.get(f"/console/incidents/{planned}")
        assert page.status_code == 200
        assert f"maintenance {later:%Y-%m-%d} 02:00–04:00 UTC" in page.text
        assert 'class="top overdue"' not in page.text and "due in" not in page.text
        header = await client.get("/console/clock", params={"incident": planned})
        assert header.text.lstrip().startswith('<header id="top" class="top"')
        assert "02:00–04:00 UTC" in header.text and "overdue" not in header.text
        listing = await client.get("/console/")
        assert 'class="top overdue"' not in listing.text and "overdue" not in listing.text
        assert "02:00–04:00 UTC" in listing.text  # its row in the open list

        # under way since two hours ago, past its one-hour window: still not red
        started = _maintenance(
            app, now - dt.timedelta(hours=2), 1, announced=now - dt.timedelta(hours=3)
        )
        with unit_of_work(app.state.sessions) as session:
            incident_service.post_update(
                session=session, incident_id=started, status=IncidentStatus.in_progress,
                message="Started", at=now - dt.timedelta(hours=2),
            )  # fmt: skip
        running = await client.get(f"/console/incidents/{started}")
        assert "maintenance in progress, past its window" in running.text
        assert 'class="top overdue"' not in running.text
        assert 'class="top overdue"' not in (await client.get("/console/")).text

        # an overdue incident still turns the list's header red, and the header names it
        with unit_of_work(app.state.sessions) as session:
            at = now - dt.timedelta(minutes=42)
            late, _ = flows.open_incident(
                session=session, title="DNS down", notify=False, started_at=at, now=at,
                components={"web-hosting": ComponentStatus.major_outage},
            )  # fmt: skip
            late_id = late.id
        listing = await client.get("/console/")
        assert 'class="top overdue"' in listing.text
        assert f'href="/console/incidents/{late_id}">#{late_id}</a>' in listing.text


def _planned(status: IncidentStatus, resolved: bool = False) -> Incident:
    starts = T + dt.timedelta(hours=1)
    return Incident(
        kind=IncidentKind.maintenance, title="x", status=status, impact=Impact.maintenance,
        started_at=starts,
        scheduled_for=starts, scheduled_until=starts + dt.timedelta(hours=2),
        resolved_at=T if resolved else None,
    )  # fmt: skip


H = dt.timedelta(hours=1)
Status = IncidentStatus


@pytest.mark.parametrize(
    ("status", "now", "says"),
    [
        (Status.scheduled, T, "maintenance 02:00–04:00 UTC"),
        (Status.scheduled, T - 24 * H, "maintenance 2026-12-07 02:00–04:00 UTC"),
        (Status.scheduled, T + 2 * H, "maintenance 02:00–04:00 UTC, not yet in progress"),
        (Status.in_progress, T + 2 * H, "maintenance in progress until 04:00 UTC"),
        (Status.verifying, T + 4 * H, "maintenance in progress, past its window (ended 04:00 UTC)"),
    ],
)
def test_the_clock_says_the_window(status: IncidentStatus, now: dt.datetime, says: str) -> None:
    clock = clock_for(_planned(status), now)
    assert isinstance(clock, MaintenanceClock)
    assert (clock.text, clock.overdue, clock.due) == (says, False, None)


def test_a_window_over_midnight_and_a_closed_one() -> None:
    overnight = _planned(IncidentStatus.scheduled)
    overnight.scheduled_for = overnight.started_at = T + dt.timedelta(hours=22)
    overnight.scheduled_until = T + dt.timedelta(hours=26)
    assert clock_for(overnight, T).text == "maintenance 2026-12-07 23:00 – 2026-12-08 03:00 UTC"
    done = clock_for(_planned(IncidentStatus.completed, resolved=True), T)
    assert (done.text, done.overdue) == ("maintenance completed", False)
