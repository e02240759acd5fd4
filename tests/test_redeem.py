"""Redemption through the real HTTP app (Uvicorn on 127.0.0.1), on both databases.

Scanner-safety (HEAD/GET never redeem), CSRF, single use under concurrent
POSTs, forged/expired/foreign tokens, rate limits, the customer's language.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from amends.api.app import API_PREFIX, create_app
from amends.apikeys.models import Scope
from amends.config import Settings
from amends.credits import policies, redemption
from amends.credits.models import Credit, CreditEvent, CreditState, RedemptionLink
from amends.db import unit_of_work
from tests import api_support
from tests.credit_support import World, issue, world

CLICK = """\
key = "click"
kind = "flat"
months = 1
auto_apply = false
available_after_days = 0
redeem_window_days = 30
"""
NOW = dt.datetime.now(dt.UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    base: str
    settings: Settings
    sessions: sessionmaker[Session]
    w: World
    tokens: dict[int, str]

    def link(self, customer_id: int) -> str:
        return f"{self.base}/r/{self.tokens[customer_id]}"

    def count(self, state: CreditState) -> int:
        with self.sessions() as s:
            return (
                s.scalar(select(func.count()).select_from(Credit).where(Credit.state == state)) or 0
            )


def serve(
    settings: Settings, sessions: sessionmaker[Session], document: str = CLICK
) -> Iterator[Served]:
    with unit_of_work(sessions) as session:
        w = world(session)
        issue(session, w.incident, document, now=NOW - dt.timedelta(hours=1))
        tokens = redemption.issue_links(
            session=session, incident_id=w.incident.id, customer_ids=[w.ana.id, w.bob.id], now=NOW
        )
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield Served(base, settings, sessions, w, tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def served(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[Served]:
    settings = settings.model_copy(
        update={"redeem_rate_per_ip": 1000, "redeem_rate_per_token": 1000}
    )
    yield from serve(settings, sessions)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_head_and_get_never_redeem_and_the_page_is_in_the_customers_language(
    served: Served,
) -> None:
    with httpx.Client() as client:
        for _ in range(3):  # a scanner: HEAD then GET, several times
            assert client.head(served.link(served.w.ana.id)).status_code == 200
            page = client.get(served.link(served.w.ana.id))
            assert page.status_code == 200
    assert served.count(CreditState.redeemed) == 0
    assert 'lang="es"' in page.text and "Aplicar mi crédito" in page.text
    assert "9,99\xa0€" in page.text and "21,99\xa0€" in page.text  # 999 + 1200 cents, Babel es
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text.lower()  # nothing that could auto-submit
    english = httpx.get(served.link(served.w.bob.id))
    assert (
        'lang="en"' in english.text
        and "Apply my credit" in english.text
        and "€25.00" in english.text
    )


def test_post_with_the_pages_csrf_redeems_once_and_a_second_post_changes_nothing(
    served: Served,
) -> None:
    with httpx.Client() as client:
        page = client.get(served.link(served.w.ana.id))
        done = client.post(served.link(served.w.ana.id), data={"csrf": csrf_of(page)})
        assert done.status_code == 200 and 'data-status="redeemed"' in done.text
        again = client.post(served.link(served.w.ana.id), data={"csrf": csrf_of(page)})
        assert again.status_code == 200 and 'data-status="already"' in again.text
    assert served.count(CreditState.redeemed) == 2  # Ana's two sites, Bob's untouched
    with served.sessions() as s:
        events = s.execute(
            select(CreditEvent.from_state, CreditEvent.to_state, CreditEvent.actor)
        ).all()
        assert (
            sorted(map(tuple, events))
            == [(CreditState.issued, CreditState.redeemed, "customer")] * 2
        )
        link = s.scalars(
            select(RedemptionLink).where(RedemptionLink.customer_id == served.w.ana.id)
        ).one()
        assert link.used_at is not None
        assert served.tokens[served.w.ana.id] not in link.token_hash  # only the hash is stored


def test_missing_or_forged_csrf_and_foreign_origin_change_nothing(served: Served) -> None:
    url = served.link(served.w.ana.id)
    assert httpx.post(url, data={}).status_code == 403
    with httpx.Client() as client:
        page = client.get(url)
        assert client.post(url, data={"csrf": "x" * 43}).status_code == 403
        other = client.post(
            url, data={"csrf": csrf_of(page)}, headers={"Origin": "https://evil.example"}
        )
        assert other.status_code == 403 and 'data-status="forged"' in other.text
    with httpx.Client() as attacker:  # the value without the cookie: a cross-site form
        assert attacker.post(url, data={"csrf": csrf_of(page)}).status_code == 403
    assert served.count(CreditState.redeemed) == 0


def test_unknown_expired_and_foreign_tokens_get_the_same_clear_page(served: Served) -> None:
    unknown = httpx.get(f"{served.base}/r/{'A' * 43}")
    assert unknown.status_code == 404 and 'data-status="invalid"' in unknown.text
    with unit_of_work(served.sessions) as s:  # Bob's link expired
        link = s.scalars(
            select(RedemptionLink).where(RedemptionLink.customer_id == served.w.bob.id)
        ).one()
        link.expires_at = NOW - dt.timedelta(seconds=1)
    expired = httpx.get(served.link(served.w.bob.id))
    assert expired.status_code == 404 and 'data-status="invalid"' in expired.text
    with httpx.Client() as client:
        page = client.get(served.link(served.w.ana.id))
        # Ana's CSRF value cannot redeem Bob's (expired) link
        client.cookies.set("amends_csrf", csrf_of(page), path="/r/")
        foreign = client.post(served.link(served.w.bob.id), data={"csrf": csrf_of(page)})
        assert foreign.status_code == 404 and 'data-status="invalid"' in foreign.text
    assert served.count(CreditState.redeemed) == 0
    assert "25.00" not in expired.text  # nothing about Bob's credit on an expired link


def test_concurrent_double_post_redeems_exactly_once(served: Served) -> None:
    url = served.link(served.w.ana.id)
    clients = [httpx.Client() for _ in range(8)]
    try:
        values = [csrf_of(c.get(url)) for c in clients]
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(
                pool.map(
                    lambda cv: cv[0].post(url, data={"csrf": cv[1]}),
                    zip(clients, values, strict=True),
                )
            )
    finally:
        for c in clients:
            c.close()
    statuses = sorted(re.search(r'data-status="(\w+)"', a.text).group(1) for a in answers)  # type: ignore[union-attr]
    assert statuses.count("redeemed") == 1, statuses
    assert set(statuses) <= {"redeemed", "already"}
    with served.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CreditEvent)) == 2  # Ana's 2 credits, once


def test_rate_limits_per_token_and_per_ip(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    tight = settings.model_copy(update={"redeem_rate_per_ip": 100, "redeem_rate_per_token": 3})
    for s in serve(tight, sessions):
        codes = [httpx.get(s.link(s.w.ana.id)).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        assert httpx.get(s.link(s.w.bob.id)).status_code == 200  # another token still works


def test_automatic_credits_show_and_need_no_click(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    for s in serve(settings, sessions, policies.GODADDY_2012):
        page = httpx.get(s.link(s.w.bob.id))
        assert 'data-status="automatic"' in page.text and "<form" not in page.text
        assert httpx.post(s.link(s.w.bob.id), data={}).status_code == 403


def test_billing_pulls_acknowledges_and_exports(served: Served) -> None:
    key = api_support.issue_key_for(served.settings, Scope.write)
    with httpx.Client() as client:
        page = client.get(served.link(served.w.ana.id))
        client.post(served.link(served.w.ana.id), data={"csrf": csrf_of(page)})
    api = httpx.Client(base_url=f"{served.base}{API_PREFIX}", headers={"X-API-Key": key})
    since = (NOW - dt.timedelta(minutes=5)).isoformat()
    first = api.get("/credits", params={"state": "redeemed", "since": since, "limit": 1}).json()
    assert len(first["credits"]) == 1 and first["next_cursor"]
    rest = api.get("/credits", params={"state": "redeemed", "cursor": first["next_cursor"]}).json()
    assert len(rest["credits"]) == 1 and rest["next_cursor"] is None
    ids = [c["id"] for c in first["credits"] + rest["credits"]]
    assert api.post("/credits/applied", json={"ids": ids}).json() == {"applied": 2, "ignored": 0}
    assert api.post("/credits/applied", json={"ids": ids}).json() == {"applied": 0, "ignored": 2}
    csv_text = api.get("/credits/export.csv", params={"state": "applied"}).text
    assert csv_text.splitlines()[0].startswith("id,incident_id,customer_external_id")
    assert len(csv_text.splitlines()) == 3
    report = api.get(f"/incidents/{served.w.incident.id}/credits/report").json()
    assert report["by_state"]["applied"]["EUR"] == {"credits": 2, "amount_minor": 2199}
    assert api.get("/credits", params={"cursor": "garbage"}).json()["error"]["field"] == "cursor"
    availability = httpx.get(
        f"{served.base}{API_PREFIX}/components/dns/availability", params={"period": "2012-09"}
    )
    assert availability.json()["periods"][0]["percent"].startswith("99.1666")
    api.close()
