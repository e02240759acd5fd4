"""Status page subscriptions through the real app, a real SMTP sink and the
real delivery ledger and dispatcher, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from amends import flows
from amends.api.app import create_app
from amends.catalog.models import Subscriber
from amends.db import unit_of_work
from amends.delivery.models import Delivery
from amends.errors import NotFound
from amends.incidents import cadence_policy
from amends.incidents.models import ComponentStatus, IncidentStatus
from amends.statuspage import subscriptions
from tests.api_support import in_process
from tests.factories import hosting_catalog
from tests.provider_servers import fake_twilio
from tests.subscription_support import (
    Sink,
    link,
    mail_settings,
    one_click,
    run_dispatch,
    smtp_sink,
    text_of,
)

KEY = bytes(range(32))
WATCHER = "watcher@example.org"


@given(st.integers(min_value=1, max_value=2**62))
def test_links_name_their_subscriber_and_nobody_else(ident: int) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    confirm = subscriptions.confirm_token(KEY, ident, now=now)
    assert subscriptions.read_confirm(KEY, confirm, now=now) == ident
    manage = subscriptions.manage_token(KEY, ident)
    assert subscriptions.read_manage(KEY, manage) == ident
    for bad in (
        confirm.replace(f".{ident}.", f".{ident + 1}.", 1),  # someone else, this mac
        manage,  # a manage link is not a confirm link
    ):
        with pytest.raises(NotFound):
            subscriptions.read_confirm(KEY, bad, now=now)
    with pytest.raises(NotFound):
        subscriptions.read_manage(KEY, confirm)
    with pytest.raises(NotFound):
        subscriptions.read_confirm(bytes(32), confirm, now=now)  # another installation
    with pytest.raises(NotFound):  # expired
        subscriptions.read_confirm(KEY, confirm, now=now + dt.timedelta(days=3))


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[FastAPI, Sink]]:
    with smtp_sink() as (sink, port):
        app = create_app(mail_settings(database_url, port))
        with unit_of_work(app.state.sessions) as session:
            hosting_catalog(session)
        yield app, sink
        app.state.read_engine.dispose()
        app.state.engine.dispose()


def call(
    app: FastAPI, method: str, path: str, *, csrf: str | None = None, **kwargs: object
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
    if csrf is not None:
        headers["Cookie"] = f"amends_subscribe_csrf={csrf}"

    async def go() -> httpx.Response:
        async with in_process(app) as client:
            return await client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def status_of(response: httpx.Response) -> str:
    found = re.search(r'data-status="(\w+)"', response.text)
    assert found, response.text
    return found.group(1)


def csrf_of(response: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert found, response.text
    assert response.cookies["amends_subscribe_csrf"] == found.group(1)
    return found.group(1)


def subscribe(app: FastAPI, address: str, **form: object) -> httpx.Response:
    token = csrf_of(call(app, "GET", "/subscribe?lang=en"))
    data = {"kind": "email", "address": address, "lang": "en", "csrf": token} | form
    return call(app, "POST", "/subscribe", data=data, csrf=token)


def subscriber(app: FastAPI, address: str = WATCHER) -> Subscriber | None:
    with app.state.sessions() as session:
        found = session.scalar(select(Subscriber).where(Subscriber.address == address))
        if found is not None:
            session.expunge(found)
        return found


def count(app: FastAPI) -> int:
    with app.state.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Subscriber)) or 0)


def test_every_status_page_has_the_form_in_its_language(world: tuple[FastAPI, Sink]) -> None:
    app, _sink = world
    english = call(app, "GET", "/en/").text
    spanish = call(app, "GET", "/es/history.html").text
    assert 'method="post" action="../subscribe"' in english and "Subscribe to updates" in english
    assert 'action="../subscribe"' in spanish and "Suscribirse a las novedades" in spanish
    assert 'name="components" value="dns"' in english


def test_subscribe_confirm_notice_unsubscribe_end_to_end(world: tuple[FastAPI, Sink]) -> None:
    app, sink = world
    # The cached page's form carries no CSRF value: nothing happens, the
    # dynamic form comes back filled in, with its own value.
    again = call(
        app, "POST", "/subscribe", data={"kind": "email", "address": WATCHER, "components": "dns"}
    )
    assert status_of(again) == "again" and count(app) == 0
    assert f'value="{WATCHER}"' in again.text and 'value="dns" checked' in again.text
    token = csrf_of(again)
    form = {"kind": "email", "address": WATCHER, "components": "dns", "lang": "en", "csrf": token}
    forged = call(app, "POST", "/subscribe", data=form, csrf="another-value")
    assert forged.status_code == 403 and count(app) == 0
    assert call(app, "POST", "/subscribe", data=form).status_code == 403  # no cookie

    sent = call(app, "POST", "/subscribe", data=form, csrf=token)
    assert sent.status_code == 200 and status_of(sent) == "sent"
    (mail,) = sink.wait_for(WATCHER)
    found = subscriber(app)
    assert found is not None and not found.confirmed
    assert mail["Subject"] == "Confirm your status notices"
    confirm = link(mail, "/subscribe/confirm/")

    # Mail scanners fetch links: GET and HEAD show, change nothing.
    for _ in range(2):
        shown = call(app, "GET", confirm)
        assert status_of(shown) == "confirm_ask" and "w…@example.org" in shown.text
        assert WATCHER not in shown.text
        assert call(app, "HEAD", confirm).status_code == 200
    assert not subscriber(app).confirmed  # type: ignore[union-attr]
    assert call(app, "POST", confirm).status_code == 403  # the button needs its page's value
    assert not subscriber(app).confirmed  # type: ignore[union-attr]
    csrf = csrf_of(shown)
    done = call(app, "POST", confirm, data={"csrf": csrf}, csrf=csrf)
    assert status_of(done) == "confirmed" and subscriber(app).confirmed  # type: ignore[union-attr]

    # A DNS outage: the ledger owes the confirmed subscriber its notice.
    with unit_of_work(app.state.sessions) as session:
        incident, _ = flows.open_incident(
            session=session, title="DNS down", components={"dns": ComponentStatus.major_outage}
        )
        incident_id = incident.id
    run_dispatch(app.state.engine, app.state.settings)
    first, notice = sink.wait_for(WATCHER, 2)
    assert first is mail and "We know that DNS has not been working" in text_of(notice)

    # One-click unsubscribe (RFC 8058 POST) from the notice's header.
    gone = call(app, "POST", one_click(notice), data={"List-Unsubscribe": "One-Click"})
    assert gone.status_code == 200 and subscriber(app) is None
    with unit_of_work(app.state.sessions) as session:
        flows.post_update(
            session=session,
            incident_id=incident_id,
            status=IncidentStatus.identified,
            message="We found it.",
        )
    run_dispatch(app.state.engine, app.state.settings)
    assert len(sink.to(WATCHER)) == 2
    with app.state.sessions() as session:
        assert session.scalar(select(func.count()).where(Delivery.address == WATCHER)) == 1


def test_the_answer_is_the_same_for_a_new_and_a_known_address(
    world: tuple[FastAPI, Sink],
) -> None:
    app, sink = world
    new = subscribe(app, WATCHER)
    known = subscribe(app, WATCHER)  # unconfirmed: a fresh confirmation
    mails = sink.wait_for(WATCHER, 2)
    with unit_of_work(app.state.sessions) as session:
        subscriptions.confirm(
            session=session, token=link(mails[1], "/subscribe/confirm/").rsplit("/", 1)[1]
        )
    confirmed = subscribe(app, WATCHER, components="email")  # confirmed: a reminder
    assert new.status_code == known.status_code == confirmed.status_code == 200
    assert new.text == known.text == confirmed.text
    assert WATCHER not in new.text
    reminder = sink.wait_for(WATCHER, 3)[2]
    assert "/subscribe/manage/" in text_of(reminder) and "/u/" in text_of(reminder)
    assert subscriber(app).components == []  # type: ignore[union-attr] # a stranger changed nothing
    assert count(app) == 1
    # A fourth request within the hour: the same answer, but no fourth mail.
    assert subscribe(app, WATCHER).text == new.text
    assert len(sink.to(WATCHER)) == 3


def test_bad_addresses_are_named_and_nothing_is_kept(world: tuple[FastAPI, Sink]) -> None:
    app, sink = world
    for kind, address in (
        ("email", "not-an-address"),
        ("sms", "612 345 678"),  # no country code
        ("webhook", "http://hooks.example/x"),  # not https
    ):
        answer = subscribe(app, address, kind=kind)
        assert answer.status_code == 422 and status_of(answer) == "bad", answer.text
    assert count(app) == 0 and sink.messages == []


def test_sms_is_e164_and_webhooks_are_confirmed_at_once(world: tuple[FastAPI, Sink]) -> None:
    app, _sink = world
    assert status_of(subscribe(app, "+34 612 34 56 78", kind="sms")) == "sent"
    sms = subscriber(app, "+34612345678")
    assert sms is not None and not sms.confirmed  # waits for the link sent by SMS
    hook = "https://hooks.example/status"
    assert status_of(subscribe(app, hook, kind="webhook", components="dns")) == "webhook_sent"
    found = subscriber(app, hook)
    assert found is not None and found.confirmed


def test_forged_links_are_404_and_change_nothing(world: tuple[FastAPI, Sink]) -> None:
    app, sink = world
    subscribe(app, WATCHER)
    confirm = link(sink.wait_for(WATCHER)[0], "/subscribe/confirm/")
    forged = confirm[:-3] + ("AAA" if not confirm.endswith("AAA") else "BBB")
    for path in (forged, "/subscribe/manage/sm.1.AAAA", "/subscribe/confirm/nonsense"):
        assert call(app, "GET", path).status_code == 404
        assert call(app, "POST", path, data={"csrf": "x"}, csrf="x").status_code == 404
    assert not subscriber(app).confirmed  # type: ignore[union-attr]


def test_manage_changes_components_on_post_only(world: tuple[FastAPI, Sink]) -> None:
    app, sink = world
    subscribe(app, WATCHER)
    confirm = link(sink.wait_for(WATCHER)[0], "/subscribe/confirm/")
    csrf = csrf_of(call(app, "GET", confirm))
    done = call(app, "POST", confirm, data={"csrf": csrf}, csrf=csrf)
    manage = re.search(r'href="(/subscribe/manage/[^"]+)"', done.text)
    assert manage, done.text
    shown = call(app, "GET", manage.group(1))
    assert status_of(shown) == "manage" and 'href="/u/' in shown.text
    assert subscriber(app).components == []  # type: ignore[union-attr]
    csrf = csrf_of(shown)
    data = {"csrf": csrf, "components": ["dns", "email"]}
    assert status_of(call(app, "POST", manage.group(1), data=data, csrf=csrf)) == "saved"
    keys = [c.key for c in subscriber(app).components]  # type: ignore[union-attr]
    assert keys == ["dns", "email"]
    assert call(app, "POST", manage.group(1), data={"components": "dns"}).status_code == 403


def test_posts_are_rate_limited_per_ip(database_url: str) -> None:
    with smtp_sink() as (_sink, port):
        app = create_app(mail_settings(database_url, port, subscribe_rate_per_ip=2))
        try:
            answers = [call(app, "POST", "/subscribe", data={"address": "x"}) for _ in range(3)]
        finally:
            app.state.engine.dispose()
    assert [a.status_code for a in answers] == [200, 200, 429]


def test_next_update_by_follows_the_cadence_until_resolved(world: tuple[FastAPI, Sink]) -> None:
    app, _sink = world
    opened = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    with unit_of_work(app.state.sessions) as session:
        incident, _ = flows.open_incident(
            session=session,
            title="DNS down",
            components={"dns": ComponentStatus.major_outage},
            started_at=opened,
            now=opened,
        )
        incident_id = incident.id
        flows.post_update(
            session=session,
            incident_id=incident_id,
            status=IncidentStatus.identified,
            message="Found it.",
            at=opened + dt.timedelta(minutes=20),
        )
    due = (opened + dt.timedelta(minutes=50)).isoformat()  # the last word + 30 minutes
    pattern = r'class="next-update"><strong>{}</strong> <time datetime="{}"'
    for lang, words in (("en", "Next update by"), ("es", "Próxima actualización antes de las")):
        for path in (f"/{lang}/", f"/{lang}/incidents/{incident_id}.html"):
            page = call(app, "GET", path).text
            assert re.search(pattern.format(re.escape(words), re.escape(due)), page), path
    # The incident's own policy: every 10 minutes; the cached pages see the change.
    with unit_of_work(app.state.sessions) as session:
        cadence_policy.set_policy(session=session, incident_id=incident_id, update_minutes=10)
    sooner = (opened + dt.timedelta(minutes=30)).isoformat()
    page = call(app, "GET", f"/en/incidents/{incident_id}.html").text
    assert re.search(pattern.format("Next update by", re.escape(sooner)), page)
    with unit_of_work(app.state.sessions) as session:
        flows.post_update(
            session=session,
            incident_id=incident_id,
            status=IncidentStatus.resolved,
            message="Fixed.",
            at=opened + dt.timedelta(minutes=40),
        )
    for path in ("/en/", f"/es/incidents/{incident_id}.html"):
        assert "next-update" not in call(app, "GET", path).text


def test_only_the_configured_ways_are_offered_and_accepted(database_url: str) -> None:
    with smtp_sink() as (_sink, port):
        app = create_app(mail_settings(database_url, port, statuspage_subscriptions=["email"]))
        try:
            with unit_of_work(app.state.sessions) as session:
                hosting_catalog(session)
            page = call(app, "GET", "/en/").text
            assert 'value="email" checked' in page and 'value="sms"' not in page
            refused = subscribe(app, "+34612345678", kind="sms")
            assert refused.status_code == 422 and count(app) == 0
        finally:
            app.state.read_engine.dispose()
            app.state.engine.dispose()


def test_an_sms_subscriber_confirms_with_the_link_sent_by_sms(database_url: str) -> None:
    sid, secret = "AC" + "0123456789abcdef" * 2, "secret-token"
    with smtp_sink() as (_sink, port), fake_twilio(sid, secret).running() as twilio:
        settings = mail_settings(
            database_url, port, twilio_account_sid=sid, twilio_auth_token=secret,
            twilio_from="+34910000000", twilio_base_url=twilio.url,
        )  # fmt: skip
        app = create_app(settings)
        try:
            assert status_of(subscribe(app, "+34 612 34 56 78", kind="sms")) == "sent"
            (request,) = twilio.received
            assert request.form["To"] == "+34612345678"
            confirm = re.search(
                r"http://amends\.test(/subscribe/confirm/\S+)", request.form["Body"]
            )
            assert confirm, request.form
            assert not subscriber(app, "+34612345678").confirmed  # type: ignore[union-attr]
            csrf = csrf_of(call(app, "GET", confirm.group(1)))
            call(app, "POST", confirm.group(1), data={"csrf": csrf}, csrf=csrf)
            assert subscriber(app, "+34612345678").confirmed  # type: ignore[union-attr]
        finally:
            app.state.read_engine.dispose()
            app.state.engine.dispose()
