"""Signed rating links: ``/rate/<token>/<score>``, one token per customer and notice.

The token is ``<incident>.<customer>.<k>.<mac>`` (``k``: ``r`` resolution,
``a`` apology), an HMAC-SHA256 over the first three parts. It needs no row
per message (five million customers, two notices) and cannot be forged for
another customer or incident. The score is *not* signed: it is the
customer's choice, and the page lets them change it before confirming.

The MAC key is derived from the installation's key (``preferences``), not the
key itself, so a rating token can never double as an unsubscribe token.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass

from amends.errors import NotFound

#: 1 = very badly … 5 = very well (see docs/messages.md, "Did it win back trust?").
SCALE = (1, 2, 3, 4, 5)
KINDS = {"r": "resolution", "a": "apology"}
_CODES = {kind: code for code, kind in KINDS.items()}


@dataclass(frozen=True, slots=True)
class RatingLink:
    """Whose rating a link records, and from which message."""

    incident_id: int
    customer_id: int
    notice_kind: str


@functools.lru_cache(maxsize=8)
def link_key(instance_key: bytes) -> bytes:
    return hmac.new(instance_key, b"amends rating links", hashlib.sha256).digest()


def token(instance_key: bytes, link: RatingLink) -> str:
    body = f"{link.incident_id}.{link.customer_id}.{_CODES[link.notice_kind]}"
    return f"{body}.{_mac(instance_key, body)}"


def url(base_url: str, instance_key: bytes, link: RatingLink) -> str:
    """The link without its score: messages append ``/1`` … ``/5``."""
    return f"{base_url.rstrip('/')}/rate/{token(instance_key, link)}"


def read(instance_key: bytes, value: str) -> RatingLink:
    """What a genuine token names; :class:`NotFound` for anything else, so a
    forged link learns nothing."""
    parts = value.split(".")
    if len(parts) != 4 or not value.isascii():
        raise NotFound("this rating link is not valid")
    incident, customer, code, mac = parts
    body = f"{incident}.{customer}.{code}"
    if not (
        incident.isdigit()
        and customer.isdigit()
        and code in KINDS
        and hmac.compare_digest(mac, _mac(instance_key, body))
    ):
        raise NotFound("this rating link is not valid")
    return RatingLink(int(incident), int(customer), KINDS[code])


def _mac(instance_key: bytes, body: str) -> str:
    digest = hmac.new(link_key(instance_key), body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")
