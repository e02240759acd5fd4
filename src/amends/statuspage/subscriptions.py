"""Status page subscriptions: subscribe, confirm (double opt-in), manage.

Anybody may ask for notices from the public page, so nothing is trusted until
the address's owner says so: an e-mail or SMS subscriber stays *unconfirmed*
(the ledger owes unconfirmed subscribers nothing) until they follow the signed
confirm link we sent to that address. A webhook is confirmed at once — it is
an endpoint, not a person's inbox, and a failing one is switched off by the
dispatcher. Asking again for an address that exists answers the same way and
changes nothing a stranger could abuse: a confirmed subscriber only gets a
mail with their manage link; only an unconfirmed one gets its choice replaced.

Links are capabilities signed with the installation's key (the one
preferences' unsubscribe links use), with their own prefixes so one kind of
link can never be read as another: ``sc.<id>.<expires>.<mac>`` confirms,
``sm.<id>.<mac>`` manages. No row per link is kept.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends.catalog import service as catalog_service
from amends.catalog.models import Component, Subscriber, SubscriberKind
from amends.config import Settings
from amends.db import utcnow
from amends.delivery.channels.base import Message, channel_class
from amends.errors import NotFound, ValidationFailed
from amends.preferences import service as preferences

logger = logging.getLogger(__name__)

KINDS = (SubscriberKind.email, SubscriberKind.sms, SubscriberKind.webhook)
CONFIRM_VALID_FOR = dt.timedelta(days=2)


# -- signed links ---------------------------------------------------------------


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def confirm_token(key: bytes, subscriber_id: int, *, now: dt.datetime | None = None) -> str:
    expires = int(((now or utcnow()) + CONFIRM_VALID_FOR).timestamp())
    body = f"sc.{subscriber_id}.{expires}"
    return f"{body}.{_mac(key, body)}"


def manage_token(key: bytes, subscriber_id: int) -> str:
    body = f"sm.{subscriber_id}"
    return f"{body}.{_mac(key, body)}"


def read_confirm(key: bytes, value: str, *, now: dt.datetime | None = None) -> int:
    """The subscriber a genuine, unexpired confirm link names; NotFound otherwise."""
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != "sc" or not (parts[1].isdigit() and parts[2].isdigit()):
        raise NotFound("this link is not valid")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(parts[3], _mac(key, body)):
        raise NotFound("this link is not valid")
    if int(parts[2]) < (now or utcnow()).timestamp():
        raise NotFound("this link has expired")
    return int(parts[1])


def read_manage(key: bytes, value: str) -> int:
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != "sm" or not parts[1].isdigit():
        raise NotFound("this link is not valid")
    if not hmac.compare_digest(parts[2], _mac(key, f"sm.{parts[1]}")):
        raise NotFound("this link is not valid")
    return int(parts[1])


def unsubscribe_token(key: bytes, subscriber: Subscriber) -> str:
    recipient = preferences.RecipientChannel("subscriber", subscriber.id, str(subscriber.kind))
    return preferences.token(key, recipient)


# -- operations -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to send once the request's transaction is committed."""

    kind: SubscriberKind
    message: Message


def subscribe(
    *,
    session: Session,
    kind: str,
    address: str,
    components: Sequence[str],
    locale: str,
    base_url: str,
    kinds: Sequence[str] = tuple(KINDS),
    now: dt.datetime | None = None,
) -> Outgoing | None:
    """Ask for notices; returns the confirmation (or reminder) to send, if any.

    Raises ValidationFailed for a bad address or component (the visitor typed
    it; telling them is not a leak). Never says whether the address existed."""
    try:
        chosen = SubscriberKind(kind)
    except ValueError:
        raise ValidationFailed(f"unknown kind {kind!r}", field="kind") from None
    if chosen not in KINDS or chosen not in kinds:
        raise ValidationFailed(f"unknown kind {kind!r}", field="kind")
    if chosen is SubscriberKind.webhook and not address.strip().startswith("https://"):
        raise ValidationFailed("a webhook address must be an https:// URL", field="address")
    normalised = catalog_service.normalise_address(chosen, address)
    keys = list(dict.fromkeys(k for k in components if k))
    by_key = catalog_service.components_by_key(session=session, keys=keys) if keys else {}
    existing = session.scalar(
        select(Subscriber).where(Subscriber.kind == chosen, Subscriber.address == normalised)
    )
    key = preferences.signing_key(session=session)
    if existing is not None and existing.confirmed:
        return _reminder(key, existing, base_url)
    subscriber = existing or Subscriber(kind=chosen, address=normalised, locale=locale)
    subscriber.locale = locale
    subscriber.components = list(by_key.values())
    subscriber.confirmed = chosen is SubscriberKind.webhook
    session.add(subscriber)
    session.flush()
    if subscriber.confirmed:
        return None
    return _confirmation(key, subscriber, base_url, now=now)


def pending(*, session: Session, token: str, now: dt.datetime | None = None) -> Subscriber:
    """The subscriber a confirm link is for (showing it changes nothing)."""
    key = preferences.signing_key(session=session)
    subscriber = session.get(Subscriber, read_confirm(key, token, now=now))
    if subscriber is None:
        raise NotFound("this link is not valid")
    return subscriber


def confirm(*, session: Session, token: str, now: dt.datetime | None = None) -> Subscriber:
    subscriber = pending(session=session, token=token, now=now)
    subscriber.confirmed = True
    session.flush()
    return subscriber


def managed(*, session: Session, token: str) -> Subscriber:
    key = preferences.signing_key(session=session)
    subscriber = session.get(Subscriber, read_manage(key, token))
    if subscriber is None:
        raise NotFound("you are not subscribed (any more)")
    return subscriber


def change_components(*, session: Session, token: str, components: Sequence[str]) -> Subscriber:
    subscriber = managed(session=session, token=token)
    keys = list(dict.fromkeys(k for k in components if k))
    chosen = catalog_service.components_by_key(session=session, keys=keys) if keys else {}
    subscriber.components = list(chosen.values())
    session.flush()
    return subscriber


def public_components(*, session: Session) -> list[Component]:
    return list(session.scalars(select(Component).order_by(Component.position, Component.key)))


def links(*, session: Session, subscriber: Subscriber, base_url: str) -> dict[str, str]:
    key = preferences.signing_key(session=session)
    base = base_url.rstrip("/")
    return {
        "manage": f"{base}/subscribe/manage/{manage_token(key, subscriber.id)}",
        "unsubscribe": f"{base}/u/{unsubscribe_token(key, subscriber)}",
    }


# -- the messages ---------------------------------------------------------------

TEXT = {
    "en": {
        "confirm_subject": "Confirm your status notices",
        "confirm_body": (
            "Somebody (hopefully you) asked to receive incident notices from our status page"
            " at this address.\n\nConfirm: {confirm}\n\nIf it was not you, ignore this message:"
            " nothing will be sent without confirmation.\n"
        ),
        "sms_body": "Confirm status notices: {confirm}",
        "reminder_subject": "You are already subscribed",
        "reminder_body": (
            "This address already receives our incident notices.\n\nChange what you follow:"
            " {manage}\nStop them: {unsubscribe}\n"
        ),
    },
    "es": {
        "confirm_subject": "Confirme sus avisos de estado",
        "confirm_body": (
            "Alguien (esperamos que usted) ha pedido recibir avisos de incidencias de nuestra"
            " página de estado en esta dirección.\n\nConfirmar: {confirm}\n\nSi no fue usted,"
            " ignore este mensaje: no enviaremos nada sin su confirmación.\n"
        ),
        "sms_body": "Confirme los avisos de estado: {confirm}",
        "reminder_subject": "Ya está suscrito",
        "reminder_body": (
            "Esta dirección ya recibe nuestros avisos de incidencias.\n\nCambiar lo que sigue:"
            " {manage}\nDejar de recibirlos: {unsubscribe}\n"
        ),
    },
}


def _text(locale: str) -> dict[str, str]:
    return TEXT["es" if locale.lower().startswith("es") else "en"]


def _confirmation(
    key: bytes, subscriber: Subscriber, base_url: str, *, now: dt.datetime | None
) -> Outgoing:
    t = _text(subscriber.locale)
    url = f"{base_url.rstrip('/')}/subscribe/confirm/{confirm_token(key, subscriber.id, now=now)}"
    body = t["sms_body" if subscriber.kind is SubscriberKind.sms else "confirm_body"]
    message = Message(
        delivery_id=0,
        key=f"subscribe.{subscriber.id}.{secrets.token_hex(6)}",
        address=subscriber.address,
        locale=subscriber.locale,
        subject=t["confirm_subject"],
        text=body.format(confirm=url),
    )
    return Outgoing(subscriber.kind, message)


def _reminder(key: bytes, subscriber: Subscriber, base_url: str) -> Outgoing | None:
    if subscriber.kind is not SubscriberKind.email:
        return None  # an SMS costs money; a webhook needs nothing
    t = _text(subscriber.locale)
    base = base_url.rstrip("/")
    body = t["reminder_body"].format(
        manage=f"{base}/subscribe/manage/{manage_token(key, subscriber.id)}",
        unsubscribe=f"{base}/u/{unsubscribe_token(key, subscriber)}",
    )
    message = Message(
        delivery_id=0,
        key=f"subscribe.{subscriber.id}.{secrets.token_hex(6)}",
        address=subscriber.address,
        locale=subscriber.locale,
        subject=t["reminder_subject"],
        text=body,
    )
    return Outgoing(subscriber.kind, message)


def send(settings: Settings, outgoing: Outgoing) -> bool:
    """Send one message through the configured channel; False (logged) if it was not
    accepted. Runs outside the request's transaction, so a slow relay holds no lock."""

    async def go() -> bool:
        channel = channel_class(str(outgoing.kind)).from_settings(settings)
        await channel.open()
        try:
            (result,) = await channel.send([outgoing.message])
        finally:
            await channel.close()
        if result.outcome != "sent":
            logger.warning("subscription message not sent: %s", result.error)
        return result.outcome == "sent"

    try:
        return asyncio.run(go())
    except Exception:  # a misconfigured channel must not turn into a 500 for the visitor
        logger.exception("subscription message could not be sent")
        return False
