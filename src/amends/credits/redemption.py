"""One-click redemption links: one per customer and incident, scanner-safe.

The token is derived, not stored: ``HMAC-SHA256(key, "redeem|incident|customer|
generation")`` in base64url (256 bits), with the installation's ``redeem`` key
kept in ``instance_keys`` (the mechanism of the unsubscribe links). Only its
SHA-256 is stored, so a database leak yields no usable link, yet whoever
composes a message — the dispatcher at send time, a resend after a crash —
renders the same URL for the same link without keeping the token anywhere.
``generation`` moves only when an operator rotates a link on purpose.

Looking a link up never changes anything (mail scanners fetch every link,
HEAD and GET alike). Redeeming is a conditional ``UPDATE`` of the link —
``used_at IS NULL AND expires_at > now`` — whose row count decides: two
concurrent POSTs cannot both get 1, on SQLite (one writer at a time) or
PostgreSQL (the second waits for the first's row lock, then re-checks the
condition and finds it used).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from amends.catalog.models import Customer
from amends.credits import policies, webhooks
from amends.credits import service as ledger
from amends.credits.models import Credit, CreditPolicy, CreditState, RedemptionLink
from amends.db import insert_ignoring, utcnow
from amends.preferences.service import signing_key

KEY_NAME = "redeem"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_key(*, session: Session) -> bytes:
    """The installation's redemption key (created on first use, shared by every process)."""
    return signing_key(session=session, name=KEY_NAME)


def token_for(key: bytes, incident_id: int, customer_id: int, generation: int) -> str:
    """The link's token: 43 base64url characters, reproducible only with the key."""
    body = f"redeem|{incident_id}|{customer_id}|{generation}".encode("ascii")
    mac = hmac.new(key, body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def _expiry(
    session: Session,
    customer_ids: list[int],
    incident_id: int,
    valid_days: int | None,
    now: dt.datetime,
) -> dict[int, dt.datetime]:
    """A link lives its policy's ``redeem_window_days`` (or ``valid_days``) from when
    the last of the customer's credits becomes available, or from now if that is
    later (a link created today gets its full window)."""
    rows = session.execute(
        select(Credit.customer_id, Credit.policy_id, func.max(Credit.available_at))
        .where(Credit.incident_id == incident_id, Credit.customer_id.in_(customer_ids))
        .group_by(Credit.customer_id, Credit.policy_id)
    ).all()
    windows: dict[int, int] = {}
    for policy_id in {policy_id for _, policy_id, _ in rows}:
        if valid_days is None:
            windows[policy_id] = policies.load(
                session.get_one(CreditPolicy, policy_id)
            ).redeem_window_days
        else:
            windows[policy_id] = valid_days
    out: dict[int, dt.datetime] = {}
    for cid, policy_id, at in rows:
        ends = max(at, now) + dt.timedelta(days=windows[policy_id])
        out[cid] = max(out.get(cid, ends), ends)
    return out


def _generations(session: Session, incident_id: int, customer_ids: list[int]) -> dict[int, int]:
    return dict(
        session.execute(
            select(RedemptionLink.customer_id, RedemptionLink.generation).where(
                RedemptionLink.incident_id == incident_id,
                RedemptionLink.customer_id.in_(customer_ids),
            )
        ).all()
    )


def issue_links(
    *,
    session: Session,
    incident_id: int,
    customer_ids: Iterable[int],
    valid_days: int | None = None,
    now: dt.datetime | None = None,
    key: bytes | None = None,
) -> dict[int, str]:
    """The tokens of these customers' links, creating the missing ones (customers
    without credits get none).

    Insert-if-absent, in one statement for the batch: a link that exists keeps
    its generation, expiry and use, so composing the same message again — a
    resend, a crash between compose and send — renders the same URL and never
    retires a link already delivered. When every link exists nothing is written.
    """
    now = now or utcnow()
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    key = key if key is not None else link_key(session=session)
    known = _generations(session, incident_id, ids)
    missing = [cid for cid in ids if cid not in known]
    if missing:
        expiry = _expiry(session, missing, incident_id, valid_days, now)
        rows = [
            {
                "customer_id": cid,
                "incident_id": incident_id,
                "generation": 1,
                "token_hash": token_hash(token_for(key, incident_id, cid, 1)),
                "created_at": now,
                "expires_at": ends,
            }
            for cid, ends in expiry.items()
        ]
        if rows:
            session.execute(insert_ignoring(session, RedemptionLink.__table__), rows)
            known.update(_generations(session, incident_id, list(expiry)))
    return {cid: token_for(key, incident_id, cid, gen) for cid, gen in known.items()}


def rotate(
    *, session: Session, incident_id: int, customer_id: int, now: dt.datetime | None = None
) -> str | None:
    """A new token for one customer's link (the previous URL stops working); for a
    link that leaked. A used link stays used: its credits were redeemed."""
    tokens = issue_links(
        session=session, incident_id=incident_id, customer_ids=[customer_id], now=now
    )
    if customer_id not in tokens:
        return None
    key = link_key(session=session)
    link = session.scalars(
        select(RedemptionLink).where(
            RedemptionLink.incident_id == incident_id, RedemptionLink.customer_id == customer_id
        )
    ).one()
    link.generation += 1
    token = token_for(key, incident_id, customer_id, link.generation)
    link.token_hash = token_hash(token)
    session.flush()
    return token


def find(*, session: Session, token: str) -> RedemptionLink | None:
    """The link for this token, whatever its state; None for a token that never existed."""
    if not 20 <= len(token) <= 100:
        return None
    return session.scalar(
        select(RedemptionLink).where(RedemptionLink.token_hash == token_hash(token))
    )


Outcome = Literal["redeemed", "already", "invalid", "automatic", "not_yet", "nothing"]


@dataclass
class View:
    """What the page shows for a token: never anything about other customers."""

    status: Outcome | Literal["ready"]
    customer_name: str = ""
    locale: str = "en"
    lines: list[ledger.CreditLine] = field(default_factory=list)
    used_at: dt.datetime | None = None
    available_at: dt.datetime | None = None

    @property
    def totals(self) -> dict[str, int]:
        return ledger.totals(self.lines)


def view(*, session: Session, token: str, now: dt.datetime | None = None) -> View:
    """Read-only: what this link would show (GET and HEAD never redeem)."""
    now = now or utcnow()
    link = find(session=session, token=token)
    if link is None or (link.used_at is None and link.expires_at <= now):
        return View("invalid")  # unknown and expired look the same: nothing to enumerate
    customer = session.get_one(Customer, link.customer_id)
    lines = ledger.customer_credits(
        session=session, customer_id=link.customer_id, incident_id=link.incident_id
    )
    shown = View("ready", customer.name, customer.locale, lines, link.used_at)
    if link.used_at is not None:
        shown.status = "already"
    elif lines and all(line.auto_apply for line in lines):
        shown.status = "automatic"
    elif not lines or all(line.state not in ledger.OPEN for line in lines):
        shown.status = "nothing"
    elif all(line.available_at > now for line in lines):
        shown.status = "not_yet"
    shown.available_at = min((line.available_at for line in lines), default=None)
    return shown


def redeem(
    *, session: Session, token: str, actor: str = "customer", now: dt.datetime | None = None
) -> tuple[Outcome, int]:
    """Redeem every credit the link covers, once. Returns the outcome and how many credits."""
    now = now or utcnow()
    link = find(session=session, token=token)
    if link is None:
        return "invalid", 0
    where = ledger.redeemable(link.customer_id, link.incident_id, now)
    if link.used_at is None and link.expires_at > now:
        waiting = session.scalar(select(func.count()).select_from(Credit).where(where)) or 0
        if not waiting:  # nothing to claim (yet): do not spend the link
            session.refresh(link)  # … unless a concurrent click just spent it
            return ("already" if link.used_at is not None else "nothing"), 0
    gate = session.execute(
        update(RedemptionLink)
        .where(
            RedemptionLink.id == link.id,
            RedemptionLink.used_at.is_(None),
            RedemptionLink.expires_at > now,
        )
        .values(used_at=now)
    )
    if gate.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(link)
        return ("already" if link.used_at is not None else "invalid"), 0
    count = ledger.move(
        session, where, CreditState.redeemed, actor=actor, now=now, stamp="redeemed_at"
    )
    webhooks.redeemed(
        session=session, at=now, incident_id=link.incident_id, customer_id=link.customer_id
    )
    return "redeemed", count


@dataclass(frozen=True)
class CreditSummary:
    """One customer's compensation for one incident, as the apology states it."""

    customer_id: int
    incident_id: int
    amounts: dict[str, int]  # currency → minor units
    sites: list[str]
    available_at: dt.datetime | None
    auto_apply: bool
    redeem_url: str | None


def credit_summary(
    *,
    session: Session,
    customer_id: int,
    incident_id: int,
    base_url: str,
    now: dt.datetime | None = None,
) -> CreditSummary | None:
    """For one customer: amount per currency, sites, when, and their link (the same
    URL their apology carries; created if it does not exist yet).

    None when the customer has no credit in the incident.
    """
    lines = ledger.customer_credits(
        session=session, customer_id=customer_id, incident_id=incident_id
    )
    if not lines:
        return None
    tokens = issue_links(
        session=session, incident_id=incident_id, customer_ids=[customer_id], now=now
    )
    token = tokens.get(customer_id)
    return CreditSummary(
        customer_id=customer_id,
        incident_id=incident_id,
        amounts=ledger.totals(lines),
        sites=[line.site for line in lines],
        available_at=min(line.available_at for line in lines),
        auto_apply=all(line.auto_apply for line in lines),
        redeem_url=redeem_url(base_url, token) if token else None,
    )


def redeem_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/r/{token}"
