"""One-click ratings: signed links, safe from pre-fetch, through the real app, on both databases.

GET (the link in the e-mail) shows the chosen point pre-selected and records
nothing; POST with the page's CSRF value records; a second POST replaces the
first; forged or foreign tokens, a missing CSRF value, a too-long comment and
a score off the scale are refused with a clear page and nothing written.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from amends import flows
from amends.api.app import create_app
from amends.catalog import service as catalog_service
from amends.catalog.models import Customer, SubscriberKind
from amends.config import Settings
from amends.db import unit_of_work
from amends.delivery.models import Delivery, Notice, NoticeKind
from amends.errors import NotFound
from amends.incidents.models import ComponentStatus
from amends.messages.notices import NoticeRenderer, Row
from amends.preferences import service as preferences
from amends.ratings import links
from amends.ratings import service as ratings
from amends.ratings.models import Rating
from tests.api_support import in_process
from tests.credit_support import World, world

KEY = bytes(range(32))


@given(
    st.integers(min_value=1, max_value=2**31),
    st.integers(min_value=1, max_value=2**62),
    st.sampled_from(sorted(links.KINDS.values())),
)
def test_a_token_names_its_customer_and_incident_and_nobody_elses(
    incident: int, customer: int, kind: str
) -> None:
    link = links.RatingLink(incident, customer, kind)
    token = links.token(KEY, link)
    assert links.read(KEY, token) == link
    with pytest.raises(NotFound):
        links.read(bytes(32), token)  # another installation's key
    first, rest = token.split(".", 1)
    with pytest.raises(NotFound):
        links.read(KEY, f"{int(first) + 1}.{rest}")  # another incident, this mac
    mine, theirs = token.split(".")[1], str(customer + 1)
    with pytest.raises(NotFound):
        links.read(KEY, token.replace(f".{mine}.", f".{theirs}.", 1))  # another customer
    with pytest.raises(NotFound):
        # an unsubscribe token is no rating token, even with the same key
        links.read(KEY, preferences.token(KEY, preferences.RecipientChannel("customer", 1, "r")))


@given(
    st.text(max_size=80) | st.from_regex(r"\A[0-9]{1,4}\.[0-9]{1,4}\.[ra]\.[A-Za-z0-9_-]{0,24}\Z")
)
def test_any_text_is_a_genuine_token_or_not_found(value: str) -> None:
    """Whatever arrives in the address, the reader answers NotFound (a clear page),
    never another error; and nothing but a token it signed passes."""
    try:
        link = links.read(KEY, value)
    except NotFound:
        return
    assert links.token(KEY, link) == value


@pytest.mark.parametrize("junk", ["", "1.2.r", "1.2.x.AAAA", "¹.2.r.AAAA", "a.b.c.d.e", "1.2.r."])
def test_junk_is_not_a_token(junk: str) -> None:
    with pytest.raises(NotFound):
        links.read(KEY, junk)


# -- the page, through the app -------------------------------------------------------


class Client:
    """One visitor: a cookie jar kept across requests to the in-process app."""

    def __init__(self, app: FastAPI) -> None:
        self._runner = asyncio.Runner()
        self._context = in_process(app)
        self.http: httpx.AsyncClient = self._runner.run(self._context.__aenter__())

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._runner.run(self.http.request(method, path, **kwargs))

    def close(self) -> None:
        self._runner.run(self._context.__aexit__(None, None, None))
        self._runner.close()


@pytest.fixture
def app(database_url: str) -> Iterator[tuple[FastAPI, World]]:
    settings = Settings(
        database_url=database_url,
        auto_migrate=False,
        public_url="https://status.example",
        redeem_rate_per_ip=1000,
        redeem_rate_per_token=1000,
    )
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        w = world(session)
    yield app, w
    app.state.read_engine.dispose()
    app.state.engine.dispose()


@pytest.fixture
def client(app: tuple[FastAPI, World]) -> Iterator[Client]:
    c = Client(app[0])
    yield c
    c.close()


def link(app: FastAPI, incident_id: int, customer_id: int, kind: str = "apology") -> str:
    with unit_of_work(app.state.sessions) as session:
        key = preferences.signing_key(session=session)
    return "/rate/" + links.token(key, links.RatingLink(incident_id, customer_id, kind))


def stored(app: FastAPI) -> list[tuple[Any, ...]]:
    with app.state.sessions() as session:
        return [
            tuple(r)
            for r in session.execute(
                select(
                    Rating.customer_id, Rating.notice_kind, Rating.score, Rating.comment,
                    Rating.locale,
                ).order_by(Rating.id)
            )
        ]  # fmt: skip


def status_of(response: httpx.Response) -> str:
    found = re.search(r'data-status="(\w+)"', response.text)
    assert found, response.text
    return found.group(1)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def checked(page: httpx.Response) -> list[str]:
    return re.findall(r'name="score" value="(\d)" checked', page.text)


def test_get_and_head_only_show_the_choice_pre_selected(
    app: tuple[FastAPI, World], client: Client
) -> None:
    a, w = app
    url = link(a, w.incident.id, w.ana.id)
    for _ in range(3):  # a mail scanner: HEAD, then GET, of every point of the scale
        for score in range(1, 6):
            assert client.request("HEAD", f"{url}/{score}").status_code == 200
            page = client.request("GET", f"{url}/{score}")
            assert page.status_code == 200 and status_of(page) == "ask"
            assert checked(page) == [str(score)]
    assert stored(a) == []
    # Ana reads Spanish: the page and the scale's labels are hers, as in the e-mail
    assert 'lang="es"' in page.text and "¿Cómo hemos gestionado esta incidencia?" in page.text
    assert "5 · muy bien" in page.text and "Enviar mi respuesta" in page.text
    assert "10 de septiembre de 2012" in page.text and "«DNS»" in page.text
    # no personal data: neither her name nor her address is on the page
    assert w.ana.email not in page.text and "Ana" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text.lower()
    assert 'maxlength="2000"' in page.text
    with unit_of_work(a.state.sessions) as session:  # 17:25 UTC is 02:25 next day in Tokyo
        session.execute(
            update(Customer).values(timezone="Asia/Tokyo").where(Customer.id == w.bob.id)
        )
    bob = client.request("GET", link(a, w.incident.id, w.bob.id) + "/2")
    assert 'lang="en"' in bob.text and "How well did we handle this?" in bob.text
    assert "of September 11, 2012." in bob.text
    assert checked(bob) == ["2"] and "2 · badly" in bob.text
    off_scale = client.request("GET", f"{url}/9")
    assert off_scale.status_code == 200 and checked(off_scale) == []


def test_post_records_and_a_second_post_replaces_it(
    app: tuple[FastAPI, World], client: Client
) -> None:
    a, w = app
    url = link(a, w.incident.id, w.ana.id, "resolution")
    page = client.request("GET", f"{url}/2")
    done = client.request("POST", url, data={"csrf": csrf_of(page), "score": "2"})
    assert done.status_code == 200 and status_of(done) == "saved"
    assert stored(a) == [(w.ana.id, "resolution", 2, None, "es")]
    # later, from the apology: she changes her mind and says why
    url = link(a, w.incident.id, w.ana.id, "apology")
    page = client.request("GET", f"{url}/4")
    # she is told what she answered before; the point she just clicked is the one chosen
    assert status_of(page) == "current" and checked(page) == ["4"]
    assert "Su respuesta hasta ahora: 2 · mal. Puede cambiarla aquí." in page.text
    plain = client.request("GET", url)
    assert status_of(plain) == "current" and checked(plain) == ["2"]
    comment = "  El crédito llegó solo.\r\nGracias por explicar la causa.  "
    done = client.request(
        "POST", url, data={"csrf": csrf_of(page), "score": "4", "comment": comment}
    )
    assert status_of(done) == "saved"
    assert stored(a) == [
        (w.ana.id, "apology", 4, "El crédito llegó solo.\nGracias por explicar la causa.", "es")
    ]
    assert checked(done) == ["4"] and "Gracias por explicar la causa." in done.text
    # from a link again: the point clicked is chosen, and her comment is still there
    again = client.request("GET", f"{url}/3")
    assert checked(again) == ["3"] and "Gracias por explicar la causa.</textarea>" in again.text
    # Bob's answer is his own row
    bob = link(a, w.incident.id, w.bob.id)
    page = client.request("GET", f"{bob}/5")
    client.request("POST", bob, data={"csrf": csrf_of(page), "score": "5"})
    assert len(stored(a)) == 2 and stored(a)[1] == (w.bob.id, "apology", 5, None, "en")


def test_forged_and_foreign_tokens_get_a_clear_page_and_record_nothing(
    app: tuple[FastAPI, World], client: Client
) -> None:
    a, w = app
    url = link(a, w.incident.id, w.ana.id)
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    foreign = "/rate/" + links.token(
        bytes(32), links.RatingLink(w.incident.id, w.ana.id, "apology")
    )
    gone = link(a, w.incident.id + 1000, w.ana.id)  # well signed, but no such incident
    for target in (forged, foreign, gone):
        for method, path in (("GET", f"{target}/5"), ("POST", target)):
            answer = client.request(
                method, path, data={"score": "5"} if method == "POST" else None,
                headers={"Accept-Language": "es-ES,es;q=0.9"},
            )  # fmt: skip
            assert answer.status_code == 404 and status_of(answer) == "invalid"
            assert "Este enlace no es válido. No se ha registrado nada." in answer.text
            assert "<form" not in answer.text
    english = client.request("GET", f"{forged}/1")
    assert "This link is not valid. Nothing was recorded." in english.text
    assert stored(a) == []


def test_a_post_without_the_pages_csrf_value_records_nothing(
    app: tuple[FastAPI, World], client: Client
) -> None:
    a, w = app
    url = link(a, w.incident.id, w.ana.id)
    page = client.request("GET", f"{url}/1")
    token = csrf_of(page)
    missing = client.request("POST", url, data={"score": "1", "comment": "mal"})
    assert missing.status_code == 403 and status_of(missing) == "forged"
    # the form comes back with what she chose and wrote, ready to send again
    assert checked(missing) == ["1"] and ">mal</textarea>" in missing.text
    wrong = client.request("POST", url, data={"score": "1", "csrf": token + "x"})
    assert wrong.status_code == 403
    other_site = client.request(
        "POST", url, data={"score": "1", "csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    client.http.cookies.clear()
    no_cookie = client.request("POST", url, data={"score": "1", "csrf": token})
    assert no_cookie.status_code == 403
    assert stored(a) == []
    # the page it came back with works
    done = client.request("POST", url, data={"score": "1", "csrf": csrf_of(no_cookie)})
    assert status_of(done) == "saved" and stored(a)[0][2] == 1


def test_the_comment_is_limited_and_the_score_must_be_on_the_scale(
    app: tuple[FastAPI, World], client: Client
) -> None:
    a, w = app
    url = link(a, w.incident.id, w.bob.id)
    page = client.request("GET", f"{url}/3")
    long = "x" * (ratings.COMMENT_MAX + 1)
    refused = client.request(
        "POST", url, data={"score": "3", "comment": long, "csrf": csrf_of(page)}
    )
    assert refused.status_code == 422 and status_of(refused) == "too_long"
    assert "Your comment is 2,001 characters long; please keep it to 2,000." in refused.text
    assert long in refused.text  # given back, not lost
    for score in ("0", "6", "x", ""):
        bad = client.request(
            "POST", url, data={"score": score, "comment": "typed", "csrf": csrf_of(refused)}
        )
        assert bad.status_code == 422 and status_of(bad) == "bad_score"
        assert ">typed</textarea>" in bad.text and checked(bad) == []
    assert stored(a) == []
    exact = "y" * ratings.COMMENT_MAX
    done = client.request("POST", url, data={"score": "3", "comment": exact, "csrf": csrf_of(page)})
    assert status_of(done) == "saved" and stored(a)[0][3] == exact


def test_requests_are_rate_limited(database_url: str) -> None:
    settings = Settings(
        database_url=database_url, auto_migrate=False, redeem_rate_per_ip=1000,
        redeem_rate_per_token=3,
    )  # fmt: skip
    a = create_app(settings)
    with unit_of_work(a.state.sessions) as session:
        w = world(session)
    c = Client(a)
    try:
        url = link(a, w.incident.id, w.ana.id)
        answers = [c.request("GET", f"{url}/5").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        limited = c.request("POST", url, data={"score": "5"})
        assert limited.status_code == 429 and status_of(limited) == "limited"
        assert c.request("GET", link(a, w.incident.id, w.bob.id)).status_code == 200
        assert stored(a) == []
    finally:
        c.close()
        a.state.read_engine.dispose()
        a.state.engine.dispose()


def test_answers_replace_each_other_one_row_per_customer_and_incident(
    app: tuple[FastAPI, World],
) -> None:
    a, w = app
    rating = links.RatingLink(w.incident.id, w.ana.id, "apology")
    for score in (1, 5, 3):
        with unit_of_work(a.state.sessions) as session:
            ratings.record(session=session, link=rating, score=score)
    with a.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 1
        assert session.scalar(select(Rating.score)) == 3


# -- the links in the notices -----------------------------------------------------------


def test_a_customers_resolution_email_carries_the_five_links_a_subscriber_none(
    app: tuple[FastAPI, World],
) -> None:
    a, w = app
    with unit_of_work(a.state.sessions) as session:
        catalog_service.add_subscriber(
            session=session,
            kind=SubscriberKind.email,
            address="watcher@example.org",
            confirmed=True,
        )
        incident, _ = flows.open_incident(
            session=session, title="Mail", components={"email": ComponentStatus.major_outage}
        )
        flows.resolve(session=session, incident_id=incident.id, message="fixed")
        key = preferences.signing_key(session=session)
        rows = session.execute(
            select(Delivery, Notice.kind)
            .join(Notice, Notice.id == Delivery.notice_id)
            .where(Notice.incident_id == incident.id, Delivery.channel == "email")
            .order_by(Delivery.id)
        ).all()
        renderer = NoticeRenderer(
            public_url="https://status.example", sender="X", unsubscribe_key=key
        )
        messages = {
            (kind, d.recipient_kind.value, d.recipient_id): renderer.render(
                session,
                [Row(d.id, d.notice_id, str(d.recipient_kind), d.recipient_id, d.channel,
                     d.address, d.locale)],
            )[0]
            for d, kind in rows
        }  # fmt: skip
    ana = messages[(NoticeKind.resolution, "customer", w.ana.id)]
    found = re.findall(r"https://status\.example(/rate/[^/\s]+)/(\d)", ana.text)
    assert [score for _, score in found] == ["1", "2", "3", "4", "5"]
    token = found[0][0].removeprefix("/rate/")
    assert links.read(key, token) == links.RatingLink(incident.id, w.ana.id, "resolution")
    assert "¿Cómo hemos gestionado esta incidencia?" in ana.text
    assert all(
        f'href="https://status.example{found[0][0]}/{n}"' in (ana.html or "") for n in "12345"
    )
    first = messages[(NoticeKind.first, "customer", w.ana.id)]
    assert "/rate/" not in first.text
    watcher = next(
        m
        for (k, kind, _), m in messages.items()
        if kind == "subscriber" and k is NoticeKind.resolution
    )
    assert "/rate/" not in watcher.text and "/rate/" not in (watcher.html or "")


def test_the_access_log_keeps_only_a_hint_of_the_token() -> None:
    from amends.api.access_log import TokenRedaction

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/rate/12.345.a.AbCdEfGhIjKlMnOpQrStUv/4", "1.1", 200), None,
    )  # fmt: skip
    assert TokenRedaction("/rate/").filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /rate/12.345…/4 HTTP/1.1" 200'
