"""One-click unsubscribe: signed links, safe from pre-fetch, through the real app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from amends import flows
from amends.api.app import create_app
from amends.catalog import service as catalog_service
from amends.catalog.models import Customer, Subscriber, SubscriberKind
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery.models import Delivery
from amends.incidents.models import ComponentStatus
from amends.messages.notices import NoticeRenderer, Row
from amends.preferences import service as preferences
from tests.api_support import in_process
from tests.factories import customer, hosting_catalog, site

KEY = bytes(range(32))


@given(
    st.sampled_from(preferences.KINDS),
    st.integers(min_value=1, max_value=2**62),
    st.sampled_from(["email", "sms", "voice", "webhook", "chat"]),
)
def test_a_token_names_its_recipient_and_nobody_else(kind: str, ident: int, channel: str) -> None:
    who = preferences.RecipientChannel(kind, ident, channel)
    token = preferences.token(KEY, who)
    assert preferences.read(KEY, token) == who
    with pytest.raises(preferences.NotFound):
        preferences.read(bytes(32), token)  # another installation's key
    body, _, mac = token.rpartition(".")
    other = body.replace(f".{ident}.", f".{ident + 1}.")
    with pytest.raises(preferences.NotFound):
        preferences.read(KEY, f"{other}.{mac}")  # someone else's id, this mac


@pytest.fixture
def app(database_url: str) -> Iterator[FastAPI]:
    settings = Settings(
        database_url=database_url, auto_migrate=False, public_url="https://status.example"
    )
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        hosting_catalog(session)
        ana = customer(session, name="Ana Núñez", email="ana@example.com", locale="es")
        site(session, ana, ["dns"])
    yield app
    app.state.read_engine.dispose()
    app.state.engine.dispose()


def link_for(app: FastAPI, kind: str, ident: int, channel: str = "email") -> str:
    with unit_of_work(app.state.sessions) as session:
        key = preferences.signing_key(session=session)
    return "/u/" + preferences.token(key, preferences.RecipientChannel(kind, ident, channel))


def call(app: FastAPI, method: str, path: str, **kwargs: object) -> httpx.Response:
    async def go() -> httpx.Response:
        async with in_process(app) as client:
            return await client.request(method, path, **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def opted_out(app: FastAPI) -> bool:
    with app.state.sessions() as session:
        return bool(session.scalar(select(Customer.opt_out_email)))


def status_of(response: httpx.Response) -> str:
    found = re.search(r'data-status="(\w+)"', response.text)
    assert found, response.text
    return found.group(1)


def test_get_and_head_only_show_post_unsubscribes_once(app: FastAPI) -> None:
    with app.state.sessions() as session:
        ana_id = session.scalar(select(Customer.id))
    link = link_for(app, "customer", ana_id)
    for _ in range(3):  # a mail scanner fetching the link, twice, and a preview
        shown = call(app, "GET", link)
        assert shown.status_code == 200 and status_of(shown) == "ask"
        assert call(app, "HEAD", link).status_code == 200
    assert not opted_out(app)
    assert "a…@example.com" in shown.text and "ana@example.com" not in shown.text
    assert "correo electrónico" in shown.text  # her language, not the browser's
    assert shown.headers["cache-control"] == "no-store"
    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click", no cookies.
    done = call(app, "POST", link, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and status_of(done) == "done"
    assert opted_out(app)
    assert status_of(call(app, "POST", link)) == "already"
    assert status_of(call(app, "GET", link)) == "already"


def test_a_forged_or_stale_link_changes_nothing(app: FastAPI) -> None:
    with app.state.sessions() as session:
        ana_id = session.scalar(select(Customer.id))
    link = link_for(app, "customer", ana_id)
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    for method in ("GET", "POST"):
        answer = call(app, method, forged, headers={"Accept-Language": "es"})
        assert answer.status_code == 404 and status_of(answer) == "invalid"
        assert "no es válido" in answer.text
    assert call(app, "POST", link_for(app, "customer", ana_id + 1000)).status_code == 404
    assert not opted_out(app)


def test_a_subscriber_leaves_altogether(app: FastAPI) -> None:
    with unit_of_work(app.state.sessions) as session:
        sub = catalog_service.add_subscriber(
            session=session, kind=SubscriberKind.email, address="watcher@example.org"
        )
        sub_id = sub.id
    link = link_for(app, "subscriber", sub_id)
    assert status_of(call(app, "GET", link)) == "ask"
    assert status_of(call(app, "POST", link)) == "done"
    with app.state.sessions() as session:
        assert session.get(Subscriber, sub_id) is None
    assert call(app, "POST", link).status_code == 404


def test_every_email_notice_carries_its_recipients_link(app: FastAPI) -> None:
    with unit_of_work(app.state.sessions) as session:
        flows.open_incident(
            session=session, title="DNS", components={"dns": ComponentStatus.major_outage}
        )
        key = preferences.signing_key(session=session)
        delivery = session.scalars(select(Delivery)).one()
        row = Row(
            delivery.id,
            delivery.notice_id,
            str(delivery.recipient_kind),
            delivery.recipient_id,
            delivery.channel,
            delivery.address,
            delivery.locale,
        )
        renderer = NoticeRenderer(
            public_url="https://status.example", sender="X", unsubscribe_key=key
        )
        (message,) = renderer.render(session, [row])
    assert message.unsubscribe_url is not None
    assert message.unsubscribe_url.startswith("https://status.example/u/")
    assert message.unsubscribe_url in message.text and message.unsubscribe_url in (
        message.html or ""
    )
    token = message.unsubscribe_url.rsplit("/", 1)[1]
    assert preferences.read(key, token) == preferences.RecipientChannel(
        "customer", delivery.recipient_id, "email"
    )
    assert status_of(call(app, "GET", "/u/" + token)) == "ask"
