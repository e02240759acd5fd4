"""The phone chain through the ledger: managers receive their lists (aiosmtpd,
Twilio stand-in), and customers nobody reached get one automated call."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from amends import flows
from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.calls import service as calls
from amends.calls.models import CallAssignment, CallOutcome
from amends.catalog.models import Customer
from amends.cli import app as cli_app
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery import call_lists, dispatch
from amends.delivery import service as delivery_service
from amends.delivery.channels.base import channel_class
from amends.delivery.jobs import Deliveries
from amends.delivery.models import Delivery, DeliveryState, Notice, NoticeKind
from amends.delivery.ratelimit import reset_limiters
from amends.errors import ValidationFailed
from tests.api_support import API, in_process, issue_key
from tests.provider_servers import StubServer, fake_twilio
from tests.subscription_support import Sink, mail_settings, smtp_sink, text_of
from tests.test_calls import LATER, outage

SID = "AC" + "c" * 32
TOKEN = "phone-chain-token"
WAIT = dt.timedelta(minutes=45)


@pytest.fixture
def providers(database_url: str) -> Iterator[tuple[Settings, Sink, StubServer]]:
    reset_limiters()
    with smtp_sink() as (sink, port), fake_twilio(SID, TOKEN).running() as twilio:
        settings = mail_settings(
            database_url,
            port,
            twilio_account_sid=SID,
            twilio_auth_token=SecretStr(TOKEN),
            twilio_from="+34910000000",
            twilio_base_url=twilio.url,
            sms_per_second=50.0,
            voice_per_second=50.0,
        )
        yield settings, sink, twilio
    reset_limiters()


def send_all(engine: Engine, settings: Settings) -> dispatch.Tally:
    """Drain the ledger through the real e-mail, SMS and voice channels."""
    channels = {
        "email": channel_class("email").from_settings(settings),  # type: ignore[attr-defined]
        "sms": channel_class("sms")(settings),  # type: ignore[call-arg]
        "voice": channel_class("voice")(settings),  # type: ignore[call-arg]
    }
    dispatcher = dispatch.Dispatcher(engine=engine, settings=settings, channels=channels)

    async def go() -> dispatch.Tally:
        try:
            return await dispatcher.drain()
        finally:
            await dispatcher.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def chain(session: Session) -> tuple[int, dict[str, int]]:
    """The DNS outage; Ana (en, with a phone) and Luis (es, e-mail only) call
    its 7 premium customers, with 45 minutes before escalation."""
    incident_id = outage(session)
    ana = calls.add_manager(
        session=session, name="Ana", email="ana@provider.example", phone="+34600111222"
    )
    luis = calls.add_manager(
        session=session, name="Luis", email="luis@provider.example", locale="es"
    )
    added, notice = flows.assign_calls(
        session=session, incident_id=incident_id, tiers=["premium"], escalate_after=WAIT, now=LATER
    )
    assert added == 7 and notice is not None and notice.deliveries == 3  # 2 e-mails + 1 SMS
    session.commit()
    return incident_id, {"ana": ana.id, "luis": luis.id}


def names_by_manager(session: Session, incident_id: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in calls.call_list(session=session, incident_id=incident_id):
        found.setdefault(str(row["manager"]), set()).add(str(row["name"]))
    return found


def listed_names(text: str) -> set[str]:
    """The customer names on the numbered lines of a list e-mail."""
    return {
        line.split(". ", 1)[1].split(" · ")[0]
        for line in text.splitlines()
        if line[:1].isdigit() and ". " in line
    }


def test_each_manager_receives_exactly_their_customers(
    providers: tuple[Settings, Sink, StubServer], engine: Engine, sessions: sessionmaker[Session]
) -> None:
    settings, sink, twilio = providers
    with sessions() as session:
        incident_id, _ = chain(session)
        expected = names_by_manager(session, incident_id)
        phones = {str(r["name"]): r["phone"] for r in calls.call_list(
            session=session, incident_id=incident_id)}  # fmt: skip
    tally = send_all(engine, settings)
    assert (tally.sent, tally.failed) == (3, 0)
    ana = sink.wait_for("ana@provider.example")
    luis = sink.wait_for("luis@provider.example")
    assert len(ana) == 1 and len(luis) == 1
    assert ana[0]["Subject"] == f"Incident #{incident_id}: 4 customers to call"
    assert luis[0]["Subject"] == f"Incidencia #{incident_id}: 3 clientes a los que llamar"
    for message, who in ((ana[0], "ana@provider.example"), (luis[0], "luis@provider.example")):
        text = text_of(message)
        assert listed_names(text) == expected[who]
        for name in expected[who]:
            assert phones[name] in text
        assert "amends calls record " in text and "/api/v1/calls/ID/outcome" in text
        assert "premium" in text and ".example" in text  # tier and the affected sites
    assert "List-Unsubscribe" not in ana[0]  # staff mail, not a notice to a customer
    assert "Hola Luis" in text_of(luis[0]) and "sin llamar" in text_of(luis[0])
    sms = [r.form for r in twilio.received if r.path.endswith("/Messages.json")]
    assert [f["To"] for f in sms] == ["+34600111222"]
    assert f"amends calls list {incident_id} --manager ana@provider.example" in sms[0]["Body"]
    # sent once: another drain and another assignment round of nobody new add nothing
    with sessions() as session:
        added, notice = flows.assign_calls(
            session=session, incident_id=incident_id, tiers=["premium"], now=LATER
        )
        assert (added, notice) == (0, None)
        session.commit()
    assert send_all(engine, settings).claimed == 0
    assert len(sink.messages) == 2


def test_a_second_round_sends_the_managers_who_got_customers_again(
    providers: tuple[Settings, Sink, StubServer], engine: Engine, sessions: sessionmaker[Session]
) -> None:
    settings, sink, _ = providers
    with sessions() as session:
        incident_id, _ = chain(session)
        later = LATER + dt.timedelta(minutes=5)
        added, notice = flows.assign_calls(
            session=session, incident_id=incident_id, tiers=["gold"], now=later
        )
        assert added == 3 and notice is not None
        session.commit()
        rounds = session.scalars(
            select(Notice.update_key).where(Notice.kind == NoticeKind.call_list)
        ).all()
    assert sorted(rounds) == [1, 2]
    send_all(engine, settings)
    # the round continues (ana 4 + 1, luis 3 + 2); a list is read when it is
    # sent, so both of each manager's messages show the whole list by then
    for who, count in (("ana@provider.example", 5), ("luis@provider.example", 5)):
        messages = sink.to(who)
        assert len(messages) == 2
        assert {len(listed_names(text_of(m))) for m in messages} == {count}


def escalation_calls(session: Session) -> Counter[int]:
    rows = session.execute(
        select(Delivery.recipient_id, Delivery.state)
        .join(Notice, Notice.id == Delivery.notice_id)
        .where(Notice.kind == NoticeKind.escalation)
    ).all()
    return Counter(customer_id for customer_id, _ in rows)


def test_escalation_calls_the_unreached_once_even_when_two_runs_race(
    providers: tuple[Settings, Sink, StubServer], engine: Engine, sessions: sessionmaker[Session]
) -> None:
    settings, _, twilio = providers
    with sessions() as session:
        incident_id, _ = chain(session)
        rows = calls.call_list(session=session, incident_id=incident_id)
        reached, voicemail, no_answer, opted_out = (r["id"] for r in rows[:4])
        for assignment, outcome in (
            (reached, CallOutcome.reached),
            (voicemail, CallOutcome.voicemail),
            (no_answer, CallOutcome.no_answer),
        ):
            calls.record(session=session, assignment_id=assignment, outcome=outcome, now=LATER)
        quiet = session.get(CallAssignment, opted_out)
        assert quiet is not None
        customer = session.get(Customer, quiet.customer_id)
        assert customer is not None
        customer.opt_out_voice = True
        customer_of = {r["id"]: r["customer_id"] for r in rows}
        locales = {r["customer_id"]: r["locale"] for r in rows}
        session.commit()

    # before the deadline: nothing to escalate
    with unit_of_work(sessions) as session:
        assert call_lists.escalate(session=session, now=LATER + WAIT / 2).total == 0

    # after it: two runs at once, from two connections
    due = LATER + WAIT + dt.timedelta(minutes=1)
    start = threading.Barrier(2)

    def run(offset: int) -> int:
        start.wait()
        with unit_of_work(sessions) as session:
            return call_lists.escalate(
                session=session, now=due + dt.timedelta(microseconds=offset)
            ).total

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        totals = list(pool.map(run, (1, 2)))
    assert sorted(totals) == [0, 6]  # one run took all six, the other none

    with sessions() as session:
        owed = escalation_calls(session)
        unreached = {customer_of[i] for i in customer_of if i != reached}
        assert set(owed) == unreached and set(owed.values()) == {1}
        states = dict(
            session.execute(
                select(Delivery.recipient_id, Delivery.state)
                .join(Notice, Notice.id == Delivery.notice_id)
                .where(Notice.kind == NoticeKind.escalation)
            ).all()
        )
        phone_of = {
            c.id: c.phone for c in session.scalars(select(Customer).where(Customer.id.in_(owed)))
        }
    assert states[customer_of[opted_out]] is DeliveryState.suppressed

    send_all(engine, settings)
    placed = [r.form for r in twilio.received if r.path.endswith("/Calls.json")]
    called = Counter(f["To"] for f in placed)
    expected = {phone_of[c] for c in unreached if c != customer_of[opted_out]}
    assert set(called) == expected and set(called.values()) == {1}  # five calls, once each
    one = placed[0]
    customer_id = next(c for c, p in phone_of.items() if p == one["To"])
    say = ET.fromstring(one["Twiml"]).find("Say")
    assert say is not None
    language = "es-ES" if locales[customer_id].startswith("es") else "en-US"
    assert say.get("language") == language
    assert "teléfono" in (say.text or "") if language == "es-ES" else "by phone" in (say.text or "")

    # later runs add nothing; the list shows who was escalated
    with unit_of_work(sessions) as session:
        assert call_lists.escalate(session=session, now=due + WAIT).total == 0
        count = session.scalar(select(func.count()).where(CallAssignment.escalated_at.is_not(None)))
        assert count == 6
    assert send_all(engine, settings).claimed == 0


def test_outcome_before_the_deadline_means_no_call(
    providers: tuple[Settings, Sink, StubServer], engine: Engine, sessions: sessionmaker[Session]
) -> None:
    settings, _, twilio = providers
    with sessions() as session:
        incident_id, _ = chain(session)
        for row in calls.call_list(session=session, incident_id=incident_id):
            calls.record(session=session, assignment_id=int(row["id"]), outcome=CallOutcome.reached)
        session.commit()
    with unit_of_work(sessions) as session:
        assert call_lists.escalate(session=session, now=LATER + 10 * WAIT).total == 0
        assert escalation_calls(session) == Counter()
    send_all(engine, settings)
    assert not [r for r in twilio.received if r.path.endswith("/Calls.json")]


def test_phone_chain_notices_are_not_issued_by_hand(session: Session) -> None:
    incident_id = outage(session)
    with pytest.raises(ValidationFailed, match="call lists"):
        delivery_service.issue_notice(
            session=session, incident_id=incident_id, kind=NoticeKind.escalation
        )


def calls_placed(twilio: StubServer) -> Counter[str]:
    return Counter(r.form["To"] for r in twilio.received if r.path.endswith("/Calls.json"))


def wait_for_calls(twilio: StubServer, count: int, timeout: float = 20.0) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while sum(calls_placed(twilio).values()) < count:
        assert time.monotonic() < deadline, calls_placed(twilio)
        time.sleep(0.05)
    return calls_placed(twilio)


def test_the_inline_worker_escalates_and_calls(
    providers: tuple[Settings, Sink, StubServer], engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """`amends serve`'s loop: its deadline long past, all 7 are called, once."""
    settings, _, twilio = providers
    with sessions() as session:
        chain(session)
    channels = {
        "email": channel_class("email").from_settings(settings),  # type: ignore[attr-defined]
        "sms": channel_class("sms")(settings),  # type: ignore[call-arg]
        "voice": channel_class("voice")(settings),  # type: ignore[call-arg]
    }
    dispatcher = dispatch.Dispatcher(engine=engine, settings=settings, channels=channels)
    worker = dispatch.InlineWorker(dispatcher, idle_seconds=0.2).start()
    try:
        placed = wait_for_calls(twilio, 7)
        time.sleep(0.6)  # two more rounds of the loop: nothing new
    finally:
        worker.stop()
    assert set(placed.values()) == {1} and len(placed) == 7
    assert calls_placed(twilio) == placed


def test_calls_escalate_from_the_command_line(
    providers: tuple[Settings, Sink, StubServer], sessions: sessionmaker[Session]
) -> None:
    settings, _, twilio = providers
    with sessions() as session:
        incident_id, _ = chain(session)
    env = {
        "AMENDS_DATABASE_URL": settings.database_url,
        "AMENDS_TWILIO_ACCOUNT_SID": SID,
        "AMENDS_TWILIO_AUTH_TOKEN": TOKEN,
        "AMENDS_TWILIO_FROM": "+34910000000",
        "AMENDS_TWILIO_BASE_URL": twilio.url,
        "AMENDS_VOICE_PER_SECOND": "50",
        "AMENDS_SMTP_PORT": str(settings.smtp_port),
        "AMENDS_SMTP_STARTTLS": "off",
    }
    runner = CliRunner()
    first = runner.invoke(cli_app, ["calls", "escalate", "--send", "--json"], env=env)
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {
        "calls": 7,
        "incidents": {str(incident_id): 7},
    }
    assert len(calls_placed(twilio)) == 7
    again = runner.invoke(cli_app, ["calls", "escalate", "--json"], env=env)
    assert again.exit_code == 0 and json.loads(again.output)["calls"] == 0


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # Procrastinate: PG only
def test_the_procrastinate_task_escalates(
    providers: tuple[Settings, Sink, StubServer], sessions: sessionmaker[Session]
) -> None:
    settings, _, twilio = providers
    with sessions() as session:
        chain(session)
    channels = {"voice": channel_class("voice")(settings)}  # type: ignore[call-arg]
    deliveries = Deliveries(settings, channels=channels, range_size=100)

    async def go() -> int:
        async with deliveries.app.open_async():
            await deliveries.ensure_schema()
            await deliveries.app.connector.execute_query_async("DELETE FROM procrastinate_jobs")
            owed = await deliveries.escalate.defer_async(timestamp=0)  # as the periodic run
            assert owed
            # one worker runs the escalation, which enqueues the calls' ranges;
            # a worker with wait=False may stop before it sees them, so run again
            for _ in range(2):
                await deliveries.run_worker(
                    wait=False, concurrency=1, install_signal_handlers=False
                )
        return 0

    asyncio.run(go())
    placed = calls_placed(twilio)
    assert len(placed) == 7 and set(placed.values()) == {1}


@pytest.mark.anyio
async def test_lists_and_deadline_through_the_api(settings: Settings) -> None:
    """A manager's language and a list's deadline from the API; the list is owed at once."""
    app: FastAPI = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        incident_id = outage(session)
    async with in_process(app, key=issue_key(app, Scope.write)) as client:
        created = await client.post(
            f"{API}/account-managers",
            json={"name": "Luis", "email": "luis@provider.example", "locale": "es"},
        )
        assert created.status_code == 201 and created.json()["locale"] == "es"
        wrong = await client.post(
            f"{API}/account-managers", json={"name": "X", "email": "x@p.example", "locale": "fr"}
        )
        assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "locale"
        assigned = await client.post(
            f"{API}/incidents/{incident_id}/calls",
            json={"tiers": ["gold"], "escalate_after_minutes": 0},
        )
        assert assigned.json() == {"assigned": 3}
        listed = (await client.get(f"{API}/incidents/{incident_id}/calls")).json()
        assert all(c["escalate_at"] is not None for c in listed)
    with unit_of_work(app.state.sessions) as session:
        owed = session.execute(
            select(Delivery.channel, Delivery.address, Delivery.locale)
            .join(Notice, Notice.id == Delivery.notice_id)
            .where(Notice.kind == NoticeKind.call_list)
        ).all()
        assert owed == [("email", "luis@provider.example", "es")]
        assert call_lists.escalate(session=session).total == 3  # deadline: at once
    app.state.engine.dispose()
