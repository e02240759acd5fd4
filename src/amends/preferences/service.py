"""One-click unsubscribe links that are safe from mail scanners.

Every notice carries a link that stops notices on that channel for that
recipient. The link is a capability: ``<kind>.<id>.<channel>.<mac>``, an
HMAC-SHA256 over the first three parts with the installation's key, so it
needs no row per message (5 M customers, every notice) and cannot be forged
for somebody else. GET only shows what the link would do; acting needs a
POST — the confirm button, or the mail provider's RFC 8058 one-click POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from amends.catalog.models import CHANNELS, Customer, Subscriber
from amends.db import insert_ignoring, utcnow
from amends.errors import NotFound, ValidationFailed
from amends.preferences.models import InstanceKey

KEY_NAME = "unsubscribe"
KINDS = ("customer", "subscriber")


@dataclass(frozen=True, slots=True)
class RecipientChannel:
    """Who a link is for, and on which channel."""

    kind: str
    id: int
    channel: str


def signing_key(*, session: Session, name: str = KEY_NAME) -> bytes:
    """The installation's key ``name``, created by whichever process needs it first.

    One key per purpose (``unsubscribe`` here, ``redeem`` for redemption links),
    so a link of one kind can never be passed off as the other."""
    found = session.scalar(select(InstanceKey.value).where(InstanceKey.name == name))
    if found is None:
        fresh = {"name": name, "value": secrets.token_hex(32), "created_at": utcnow()}
        session.execute(insert_ignoring(session, InstanceKey.__table__).values(fresh))
        found = session.scalar(select(InstanceKey.value).where(InstanceKey.name == name))
    assert found is not None
    return bytes.fromhex(found)


def token(key: bytes, recipient: RecipientChannel) -> str:
    body = f"{recipient.kind[0]}.{recipient.id}.{recipient.channel}"
    return f"{body}.{_mac(key, body)}"


def read(key: bytes, value: str) -> RecipientChannel:
    """The recipient a genuine token names; :class:`NotFound` for anything else,
    so a forged link learns nothing."""
    kind, _, rest = value.partition(".")
    ident, _, rest = rest.partition(".")
    channel, _, mac = rest.partition(".")
    body = f"{kind}.{ident}.{channel}"
    if not (mac and hmac.compare_digest(mac, _mac(key, body)) and ident.isdigit()):
        raise NotFound("this unsubscribe link is not valid")
    full = {"c": "customer", "s": "subscriber"}.get(kind)
    if full is None:
        raise NotFound("this unsubscribe link is not valid")
    return RecipientChannel(full, int(ident), channel)


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True, slots=True)
class Choice:
    """What an unsubscribe page shows: never an address, only a masked hint."""

    recipient: RecipientChannel
    locale: str
    hint: str
    already: bool


def describe(*, session: Session, recipient: RecipientChannel) -> Choice:
    if recipient.kind == "customer":
        customer = session.get(Customer, recipient.id)
        if customer is None or recipient.channel not in CHANNELS:
            raise NotFound("this unsubscribe link is not valid")
        already = bool(getattr(customer, f"opt_out_{recipient.channel}"))
        address = customer.email if recipient.channel == "email" else customer.phone
        return Choice(recipient, customer.locale, _mask(address), already)
    subscriber = session.get(Subscriber, recipient.id)
    if subscriber is None:
        raise NotFound("you are not subscribed (any more)")
    return Choice(recipient, subscriber.locale, _mask(subscriber.address), False)


def unsubscribe(*, session: Session, recipient: RecipientChannel) -> bool:
    """Stop notices on this channel; True when this call changed anything.

    One conditional UPDATE, so two POSTs (the button and the mail provider's
    one-click) record the choice once."""
    describe(session=session, recipient=recipient)  # NotFound for a stale link
    if recipient.kind == "customer":
        if recipient.channel not in CHANNELS:
            raise ValidationFailed(f"unknown channel {recipient.channel!r}", field="channel")
        column = getattr(Customer, f"opt_out_{recipient.channel}")
        changed = session.execute(
            update(Customer)
            .where(Customer.id == recipient.id, column.is_(False))
            .values({column: True, Customer.updated_at: utcnow()})
        )
    else:  # a subscriber who is not a customer leaves altogether: nothing kept
        changed = session.execute(delete(Subscriber).where(Subscriber.id == recipient.id))
    session.flush()
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def _mask(address: str | None) -> str:
    """``a…@example.com`` / ``…4567``: enough to recognise, not to harvest."""
    if not address:
        return ""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}…@{domain}"
    return f"…{address[-4:]}"


def mask(address: str | None) -> str:
    """The masked hint pages may show instead of an address."""
    return _mask(address)
