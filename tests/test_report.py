"""The after-action report against a hand-built incident, on both databases.

Every number below is counted by hand from the rows the test writes: the
ledger (deliveries in each state, on three channels, for six notices), the
ratings (es and en, one replaced), the credits (issued, two redeemed).
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.cli import app as cli
from amends.config import Settings
from amends.credits import redemption
from amends.db import unit_of_work
from amends.delivery.models import Delivery, DeliveryState, Notice, NoticeKind, RecipientKind
from amends.delivery.recipients import NO_ADDRESS, OPTED_OUT
from amends.incidents import service as incidents
from amends.incidents.models import ComponentStatus
from amends.ratings import links
from amends.ratings import service as ratings
from amends.report import service as report
from tests import factories
from tests.api_support import bearer, error_of, in_process, issue_key
from tests.credit_support import END, T0, issue, world
from tests.test_redeem import CLICK

M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
S = DeliveryState


def build(session: Session) -> dict[str, Any]:
    """The DNS outage of 10 September 2012 (17:25–23:25 UTC), told to Ana (es),
    Bob (en), Carla (es), Dave (en) and one subscriber."""
    w = world(session)
    carla = factories.customer(session, locale="es-MX", name="Carla")
    dave = factories.customer(session, locale="en", name="Dave")
    ana, bob = w.ana.id, w.bob.id
    sub = (RecipientKind.subscriber, 1)
    notices = {}
    u = NoticeKind.update
    kinds = [(NoticeKind.first, 0), (u, 1), (u, 2), (u, 3), (NoticeKind.resolution, 0),
             (NoticeKind.apology, 0)]  # fmt: skip
    for kind, key in kinds:
        notice = Notice(incident_id=w.incident.id, kind=kind, update_key=key, created_at=T0)
        session.add(notice)
        session.flush()
        notices[(kind, key)] = notice.id
    rows = [
        # notice, recipient, channel, state, last_error, sent at
        ((NoticeKind.first, 0), ana, "email", S.sent, None, T0 + 10 * M),
        ((NoticeKind.first, 0), bob, "email", S.sent, None, T0 + 12 * M),
        ((NoticeKind.first, 0), sub, "email", S.sent, None, T0 + 11 * M),
        ((NoticeKind.first, 0), bob, "sms", S.failed, "21211 invalid number", None),
        ((NoticeKind.first, 0), ana, "voice", S.suppressed, OPTED_OUT, None),
        ((NoticeKind.first, 0), bob, "voice", S.suppressed, NO_ADDRESS, None),
        ((NoticeKind.update, 1), ana, "email", S.sent, None, T0 + 50 * M),
        ((NoticeKind.update, 1), bob, "email", S.pending, None, None),
        ((NoticeKind.update, 2), ana, "email", S.sent, None, T0 + 4 * H),
        ((NoticeKind.update, 2), bob, "sms", S.sending, None, None),
        ((NoticeKind.update, 3), ana, "email", S.pending, None, None),  # never reached anyone
        ((NoticeKind.resolution, 0), ana, "email", S.sent, None, END + 5 * M),
        ((NoticeKind.resolution, 0), bob, "email", S.failed, "550 no such user", None),
        ((NoticeKind.apology, 0), ana, "email", S.sent, None, END + 20 * H),
        ((NoticeKind.apology, 0), bob, "email", S.sent, None, END + 21 * H),
        ((NoticeKind.apology, 0), carla.id, "email", S.pending, None, None),
    ]
    for notice, who, channel, state, error, sent_at in rows:
        kind, ident = who if isinstance(who, tuple) else (RecipientKind.customer, who)
        session.add(
            Delivery(
                notice_id=notices[notice], recipient_kind=kind, recipient_id=ident,
                channel=channel, address="x", locale="en", state=state, attempts=1,
                next_attempt_at=T0, last_error=error, created_at=T0, sent_at=sent_at,
            )
        )  # fmt: skip
    session.flush()

    def rate(customer: int, kind: str, score: int, comment: str | None, at: dt.datetime) -> None:
        link = links.RatingLink(w.incident.id, customer, kind)
        ratings.record(session=session, link=link, score=score, comment=comment, now=at)

    day = END + 22 * H
    rate(ana, "resolution", 1, None, day)
    rate(ana, "apology", 2, "Tardaron demasiado en avisar.", day + 1 * H)  # replaces her 1
    rate(carla.id, "apology", 4, "Buena explicación.", day + 2 * H)
    rate(bob, "apology", 5, None, day + 3 * H)
    rate(dave.id, "resolution", 3, "Clear, but slow.", day + 4 * H)

    issue(session, w.incident, CLICK, now=END + H)
    token = redemption.issue_links(
        session=session, incident_id=w.incident.id, customer_ids=[ana], now=END + H
    )[ana]
    assert redemption.redeem(session=session, token=token, now=END + 2 * H) == ("redeemed", 2)
    session.commit()
    return {"incident": w.incident.id, "ana": w.ana.external_id, "carla": carla.external_id,
            "dave": dave.external_id}  # fmt: skip


EXPECTED_REACH = {
    "email": {"delivered": 8, "failed": 1, "opted_out": 0, "no_address": 0, "pending": 3},
    "sms": {"delivered": 0, "failed": 1, "opted_out": 0, "no_address": 0, "pending": 1},
    "voice": {"delivered": 0, "failed": 0, "opted_out": 1, "no_address": 1, "pending": 0},
}


def check(data: dict[str, Any], ids: dict[str, Any]) -> None:
    assert data["incident"]["id"] == ids["incident"]
    assert data["cadence"] == {
        "time_to_first_notice": {"seconds": 600, "target_seconds": 900, "met": True},
        # 17:35 first, 18:15 update, 21:25 update, 23:25 resolved: the silence of 3 h 10 min
        "longest_update_gap": {"seconds": 11400, "target_seconds": 1800, "met": False},
        "time_to_apology": {"seconds": 72000, "target_seconds": 172800, "met": True},
    }
    assert data["reach"]["by_channel"] == EXPECTED_REACH
    assert data["reach"]["people_reached"] == 3  # Ana, Bob and the subscriber
    assert data["reach"]["by_notice"]["apology"] == {
        "email": {"delivered": 2, "failed": 0, "opted_out": 0, "no_address": 0, "pending": 1}
    }
    assert list(data["reach"]["by_notice"]) == ["first", "update", "resolution", "apology"]
    got = data["ratings"]
    assert got["count"] == 4 and got["average"] == 3.5 and got["comments"] == 3
    assert got["distribution"] == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1}
    assert got["by_language"] == {
        "en": {"count": 2, "average": 4.0,
               "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}},
        "es": {"count": 2, "average": 3.0,
               "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}},
    }  # fmt: skip
    es = [(c["customer_external_id"], c["score"], c["comment"]) for c in data["comments"]["es"]]
    assert es == [  # newest first
        (ids["carla"], 4, "Buena explicación."),
        (ids["ana"], 2, "Tardaron demasiado en avisar."),
    ]
    assert [c["comment"] for c in data["comments"]["en"]] == ["Clear, but slow."]
    assert data["comments"]["en"][0]["notice_kind"] == "resolution"
    # Ana 9.99 + 12.00 on two sites (redeemed), Bob 25.00 (still open), all EUR
    assert data["credits"] == {
        "issued": {"EUR": {"credits": 3, "amount_minor": 4699}},
        "redeemed": {"EUR": {"credits": 2, "amount_minor": 2199}},
        "open": {"EUR": {"credits": 1, "amount_minor": 2500}},
        "expired": {},
        "void": {},
    }


def test_the_report_counts_what_the_rows_say(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        ids = build(session)
    with unit_of_work(sessions) as session:
        data = report.after_action(session=session, incident_id=ids["incident"]).to_dict()
        sent = report.sent_from_ledger(session=session, incident_id=ids["incident"])
    check(data, ids)
    assert len(sent) == 5  # the third update reached nobody: it is not a sent notice
    json.dumps(data)  # plain JSON, nothing that needs a custom encoder


def test_an_open_incident_with_nothing_sent_yet(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        factories.hosting_catalog(session)
        incident = incidents.open_incident(
            session=session, title="Mail", started_at=T0, now=T0,
            components={"email": ComponentStatus.degraded_performance},
        )  # fmt: skip
        data = report.after_action(
            session=session, incident_id=incident.id, now=T0 + 20 * M
        ).to_dict()
    assert data["cadence"]["time_to_first_notice"] == {
        "seconds": None, "target_seconds": 900, "met": None,
    }  # fmt: skip
    assert data["reach"] == {"people_reached": 0, "by_channel": {}, "by_notice": {}}
    assert data["ratings"]["count"] == 0 and data["ratings"]["average"] is None
    assert data["comments"] == {} and data["credits"]["issued"] == {}


def test_the_api_gives_the_same_report_to_a_read_key(settings: Settings) -> None:
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        ids = build(session)
    key = issue_key(app, Scope.read)
    path = f"/api/v1/incidents/{ids['incident']}/report"

    async def go() -> list[Any]:
        async with in_process(app) as client:
            return [
                await client.get(path),
                await client.get(path, headers=bearer("amends_0123456789ab_" + "x" * 43)),
                await client.get(path, headers=bearer(key)),
                await client.get(path + "?comments=1", headers=bearer(key)),
                await client.get(path + "?comments=5000", headers=bearer(key)),
                await client.get("/api/v1/incidents/999999/report", headers=bearer(key)),
            ]

    try:
        anonymous, unknown, ok, one, too_many, missing = asyncio.run(go())
    finally:
        app.state.read_engine.dispose()
        app.state.engine.dispose()
    error_of(anonymous, 401, "unauthorized")
    error_of(unknown, 401, "unauthorized")
    assert ok.status_code == 200
    check(ok.json(), ids)
    assert [len(v) for v in one.json()["comments"].values()] == [1, 1]
    assert too_many.status_code == 422
    error_of(missing, 404, "not_found")


def test_the_command_prints_tables_json_and_the_comments_csv(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with unit_of_work(sessions) as session:
        ids = build(session)
    runner = CliRunner()
    env = {"AMENDS_DATABASE_URL": database_url, "COLUMNS": "200"}
    incident = str(ids["incident"])
    as_json = runner.invoke(cli, ["report", incident, "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    check(json.loads(as_json.output), ids)

    out = tmp_path / "out"
    out.mkdir()
    target = out / "comments.csv"
    human = runner.invoke(cli, ["report", incident, "--comments-csv", str(target)], env=env)
    assert human.exit_code == 0, human.output
    for seen in ("time to first notice", "10 min", "3 h 10 min", "missed", "20 h 00 min",
                 "reach: 3 people", "Tardaron demasiado en avisar.", "€21.99", "€46.99",
                 "3 comments written to"):  # fmt: skip
        assert seen in human.output, (seen, human.output)
    with target.open(encoding="utf-8", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == list(ratings.COMMENT_FIELDS)
    assert [(r[1], r[2], r[5]) for r in table[1:]] == [
        ("en", "3", "Clear, but slow."),
        ("es", "4", "Buena explicación."),
        ("es", "2", "Tardaron demasiado en avisar."),
    ]
    assert [p.name for p in out.iterdir()] == ["comments.csv"]  # no temporary left

    unknown = runner.invoke(cli, ["report", "999999"], env=env)
    assert unknown.exit_code == 1 and "not_found" in unknown.output
