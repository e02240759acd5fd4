"""Early and often: what is due, what is late, and the communication record."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from amends.errors import ValidationFailed
from amends.incidents import cadence
from amends.incidents import service as incident_service
from amends.incidents.cadence import CadencePolicy, Notice
from amends.incidents.models import ComponentStatus, IncidentStatus
from tests import factories

T0 = dt.datetime(2012, 9, 10, 17, 25, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)


def due(sent, now, resolved=None, policy=CadencePolicy()):  # type: ignore[no-untyped-def]
    return [
        (d.notice.value, d.due_at - T0, d.overdue)
        for d in cadence.what_is_due(
            opened_at=T0, resolved_at=resolved, sent=sent, now=now, policy=policy
        )
    ]


def test_first_notice_within_fifteen_minutes() -> None:
    assert due([], T0 + 10 * M) == [("first_notice", 15 * M, False)]
    assert due([], T0 + 16 * M) == [("first_notice", 15 * M, True)]
    assert due([], T0 + 4 * M, policy=CadencePolicy(first_notice_within=3 * M)) == [
        ("first_notice", 3 * M, True)
    ]


def test_updates_every_thirty_minutes_until_resolved() -> None:
    sent = [(Notice.first_notice, T0 + 5 * M), (Notice.update, T0 + 40 * M)]
    assert due(sent[:1], T0 + 20 * M) == [("update", 35 * M, False)]
    assert due(sent, T0 + 71 * M) == [("update", 70 * M, True)]


def test_after_resolution_the_apology_is_due_within_48_hours() -> None:
    sent = [(Notice.first_notice, T0 + 5 * M), (Notice.resolution, T0 + 6 * 60 * M)]
    resolved = T0 + 6 * 60 * M
    assert due(sent, resolved + 60 * M, resolved) == [("apology", 54 * 60 * M, False)]
    assert due(sent, resolved + 49 * 60 * M, resolved) == [("apology", 54 * 60 * M, True)]
    assert (
        due([*sent, (Notice.apology, resolved + 40 * 60 * M)], resolved + 49 * 60 * M, resolved)
        == []
    )
    # never told at all: both the first notice and the apology are owed
    assert [d[0] for d in due([], resolved + M, resolved)] == ["first_notice", "apology"]


def test_the_communication_record() -> None:
    resolved = T0 + 6 * 60 * M
    sent = [
        (Notice.update, T0 + 50 * M),
        (Notice.first_notice, T0 + 12 * M),
        (Notice.update, T0 + 3 * 60 * M),
        (Notice.apology, resolved + 44 * 60 * M),
    ]
    kept = cadence.record(opened_at=T0, resolved_at=resolved, sent=sent, now=resolved)
    assert kept.time_to_first_notice == 12 * M
    assert kept.longest_update_gap == 3 * 60 * M  # last update until resolution
    assert kept.time_to_apology == 44 * 60 * M
    silent = cadence.record(opened_at=T0, resolved_at=None, sent=[], now=T0 + M)
    assert silent == cadence.CadenceRecord(None, None, None)


def test_policy_must_be_positive() -> None:
    with pytest.raises(ValidationFailed) as bad:
        CadencePolicy(update_every=dt.timedelta(0))
    assert bad.value.field == "update_every"


def test_sent_from_the_timeline(session: Session) -> None:
    factories.hosting_catalog(session)
    incident = incident_service.open_incident(
        session=session,
        title="DNS down",
        components={"dns": ComponentStatus.major_outage},
        started_at=T0,
        now=T0 + M,
    )
    incident_service.post_update(
        session=session,
        incident_id=incident.id,
        status=IncidentStatus.identified,
        message="internal note",
        at=T0 + 20 * M,
        customer_facing=False,
        now=T0 + 21 * M,
    )
    incident_service.post_update(
        session=session,
        incident_id=incident.id,
        status=IncidentStatus.identified,
        message="Router tables",
        at=T0 + 30 * M,
        now=T0 + 31 * M,
    )
    incident_service.resolve(
        session=session,
        incident_id=incident.id,
        message="Fixed",
        resolved_at=T0 + 60 * M,
        now=T0 + 61 * M,
    )
    session.refresh(incident)
    sent = cadence.sent_from_timeline(incident)
    assert [(n.value, at - T0) for n, at in sent] == [
        ("first_notice", 0 * M),
        ("update", 30 * M),
        ("resolution", 60 * M),
    ]


def test_cli_cadence_reports_what_is_owed(database_url: str) -> None:
    import json

    from typer.testing import CliRunner

    from amends.cli import app as cli

    runner = CliRunner()
    env = {"AMENDS_DATABASE_URL": database_url}
    assert runner.invoke(cli, ["component", "add", "dns"], env=env).exit_code == 0
    started = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    # Told now (the ledger's first notice is issued now): the next update is 30 min away.
    opened = runner.invoke(
        cli, ["incident", "open", "DNS down", "-c", "dns", "--started-at", started], env=env
    )
    assert opened.exit_code == 0, opened.output
    rows = json.loads(runner.invoke(cli, ["cadence", "--json"], env=env).output)
    assert [(r["notice"], r["overdue"]) for r in rows] == [("update", False)]
    assert runner.invoke(cli, ["cadence", "--overdue"], env=env).exit_code == 0
    # Never told: the first notice was due 15 minutes after the start.
    silent = runner.invoke(
        cli,
        ["incident", "open", "Mail down", "-c", "dns", "--started-at", started, "--no-notify"],
        env=env,
    )
    assert silent.exit_code == 0, silent.output
    late = runner.invoke(cli, ["cadence", "--overdue"], env=env)
    assert late.exit_code == 1 and "OVERDUE" in late.output
    rows = json.loads(runner.invoke(cli, ["cadence", "--json", "--overdue"], env=env).output)
    assert [(r["incident_id"], r["notice"]) for r in rows] == [(2, "first_notice")]
    assert rows[0]["text"].startswith("first notice OVERDUE by 1 h 4")
    # Its own policy: a first notice within three hours is not late yet.
    relaxed = runner.invoke(
        cli, ["incident", "cadence", "2", "--first-notice-within", "180"], env=env
    )
    assert relaxed.exit_code == 0, relaxed.output
    assert runner.invoke(cli, ["cadence", "--overdue"], env=env).exit_code == 0
