"""Redemption links are derived, not stored: the apology composed at send time,
and again on a resend, carries the same working URL; only click policies get one."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from amends.credits import policies, redemption
from amends.credits.models import RedemptionLink
from amends.delivery.models import NoticeKind
from amends.messages.apologies import ApologyComposer
from amends.preferences import service as preferences
from amends.preferences.models import InstanceKey
from tests.credit_support import issue, world
from tests.test_redeem import CLICK, NOW

URL = re.compile(r"https://gd\.example/r/[A-Za-z0-9_-]{43}")


def _compose(session: Session, incident_id: int, rows: list[tuple[int, int, str, str]]) -> dict:
    composer = ApologyComposer(company="Go Daddy", public_url="https://gd.example/")
    return composer.compose_rows(session, incident_id, NoticeKind.apology, rows)


def test_the_token_is_the_hmac_of_the_link_and_only_its_hash_is_stored(session: Session) -> None:
    w = world(session)
    issue(session, w.incident, CLICK, now=NOW - dt.timedelta(hours=1))
    first = redemption.issue_links(
        session=session, incident_id=w.incident.id, customer_ids=[w.ana.id, w.bob.id], now=NOW
    )
    again = redemption.issue_links(
        session=session, incident_id=w.incident.id, customer_ids=[w.bob.id, w.ana.id]
    )
    assert first == again and len(set(first.values())) == 2
    key = bytes.fromhex(
        session.scalar(select(InstanceKey.value).where(InstanceKey.name == "redeem")) or ""
    )
    assert key != preferences.signing_key(session=session)  # its own key, not the unsubscribe one
    body = f"redeem|{w.incident.id}|{w.ana.id}|1".encode()
    expected = base64.urlsafe_b64encode(hmac.new(key, body, hashlib.sha256).digest())
    assert first[w.ana.id] == expected.decode().rstrip("=")
    stored = session.scalars(select(RedemptionLink.token_hash)).all()
    assert sorted(stored) == sorted(hashlib.sha256(t.encode()).hexdigest() for t in first.values())
    assert session.scalar(select(func.count()).select_from(RedemptionLink)) == 2
    rotated = redemption.rotate(session=session, incident_id=w.incident.id, customer_id=w.ana.id)
    assert rotated and rotated != first[w.ana.id]
    assert redemption.find(session=session, token=first[w.ana.id]) is None  # the old one is dead
    assert redemption.view(session=session, token=rotated).status == "ready"
    assert redemption.issue_links(
        session=session, incident_id=w.incident.id, customer_ids=[w.ana.id]
    ) == {w.ana.id: rotated}


def test_the_apology_carries_the_same_working_link_in_every_form_and_language(
    session: Session,
) -> None:
    w = world(session)
    issue(session, w.incident, CLICK, now=NOW - dt.timedelta(hours=1))
    rows = [
        (1, w.ana.id, "email", "es"),
        (2, w.bob.id, "email", "en"),
        (3, w.ana.id, "sms", "es"),
        (4, w.bob.id, "sms", "en"),
        (5, w.ana.id, "voice", "es"),
        (6, w.bob.id, "voice", "en"),
    ]
    out = _compose(session, w.incident.id, rows)
    ana, bob = URL.findall(out[1].text), URL.findall(out[2].text)
    assert len(set(ana)) == 1 and len(set(bob)) == 1 and ana[0] != bob[0]
    for n, url in ((1, ana[0]), (2, bob[0])):
        assert f'href="{url}"' in (out[n].html or "")  # the button
        assert url in out[n + 2].text  # the SMS keeps the link whole
        assert "/r/" not in out[n + 4].text  # a voice call reads no URL …
    assert "correo" in out[5].text and "e-mail" in out[6].text  # … it points to the e-mail
    assert "canjear" in out[1].text.lower() and "redeem" in out[2].text.lower()
    session.commit()
    # Composed again (a resend, or the dispatcher after a crash): the same URLs.
    again = _compose(session, w.incident.id, rows[:2])
    assert URL.findall(again[1].text)[0] == ana[0] and URL.findall(again[2].text)[0] == bob[0]
    assert session.scalar(select(func.count()).select_from(RedemptionLink)) == 2
    token = ana[0].rsplit("/", 1)[1]
    assert redemption.view(session=session, token=token).status == "ready"
    assert redemption.redeem(session=session, token=token) == ("redeemed", 2)
    after = _compose(session, w.incident.id, rows[:1])  # a resend never revives a used link
    assert URL.findall(after[1].text)[0] == ana[0]
    assert redemption.view(session=session, token=token).status == "already"


def test_auto_applied_credits_get_no_link_in_the_apology(session: Session) -> None:
    w = world(session)
    issue(session, w.incident, policies.GODADDY_2012, now=NOW - dt.timedelta(hours=1))
    rows = [(1, w.ana.id, "email", "es"), (2, w.bob.id, "sms", "en")]
    out = _compose(session, w.incident.id, rows)
    assert "/r/" not in out[1].text and "/r/" not in (out[1].html or "")
    assert "/r/" not in out[2].text
    assert "automáticamente" in out[1].text
    assert session.scalar(select(func.count()).select_from(RedemptionLink)) == 0
