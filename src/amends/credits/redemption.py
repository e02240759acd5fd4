"""One-click redemption links: one per customer and incident, scanner-safe.

The token is ``secrets.token_urlsafe(32)`` (256 random bits); only its SHA-256
is stored, so a database leak yields no usable link. Looking a link up never
changes anything (mail scanners fetch every link, HEAD and GET alike).
Redeeming is a conditional ``UPDATE`` of the link — ``used_at IS NULL AND
expires_at > now`` — whose row count decides: two concurrent POSTs cannot
both get 1, on SQLite (one writer at a time) or PostgreSQL (the second waits
for the first's row lock, then re-checks the condition and finds it used).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from amends.catalog.models import Customer
from amends.credits import service as ledger
from amends.credits.models import Credit, CreditState, RedemptionLink
from amends.db import bulk_insert, utcnow

DEFAULT_VALID_DAYS = 30


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expiry(
    session: Session,
    customer_ids: Iterable[int],
    incident_id: int,
    valid_days: int,
    now: dt.datetime,
) -> dict[int, dt.datetime]:
    """A link lives ``valid_days`` from when the last of the customer's credits becomes
    available, or from now if that is later (a link sent today gets its full window)."""
    rows = session.execute(
        select(Credit.customer_id, func.max(Credit.available_at))
        .where(Credit.incident_id == incident_id, Credit.customer_id.in_(list(customer_ids)))
        .group_by(Credit.customer_id)
    )
    return {cid: max(at, now) + dt.timedelta(days=valid_days) for cid, at in rows}


def issue_links(
    *,
    session: Session,
    incident_id: int,
    customer_ids: Iterable[int],
    valid_days: int = DEFAULT_VALID_DAYS,
    now: dt.datetime | None = None,
) -> dict[int, str]:
    """Fresh tokens for these customers' links (customers without credits get none).

    The token is returned once, to be put in the message; a previous link of the
    same customer and incident stops working (only the last one sent is live),
    but a link already used stays used — its credits were redeemed.
    """
    now = now or utcnow()
    expiry = _expiry(session, customer_ids, incident_id, valid_days, now)
    if not expiry:
        return {}
    used = dict(
        session.execute(
            select(RedemptionLink.customer_id, RedemptionLink.used_at).where(
                RedemptionLink.incident_id == incident_id,
                RedemptionLink.customer_id.in_(list(expiry)),
            )
        ).all()
    )
    session.execute(
        delete(RedemptionLink).where(
            RedemptionLink.incident_id == incident_id, RedemptionLink.customer_id.in_(list(expiry))
        )
    )
    tokens = {cid: secrets.token_urlsafe(32) for cid in expiry}
    bulk_insert(
        session.connection(),
        RedemptionLink.__table__,
        ["customer_id", "incident_id", "token_hash", "created_at", "expires_at", "used_at"],
        [
            (cid, incident_id, token_hash(token), now, expiry[cid], used.get(cid))
            for cid, token in tokens.items()
        ],
    )
    session.flush()
    return tokens


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
    valid_days: int = DEFAULT_VALID_DAYS,
    now: dt.datetime | None = None,
) -> CreditSummary | None:
    """For the apology composer: amount per currency, sites, when, and a fresh link.

    None when the customer has no credit in the incident. Calling it issues a
    new link (and retires the previous one): call it when composing the
    message that will carry the link.
    """
    lines = ledger.customer_credits(
        session=session, customer_id=customer_id, incident_id=incident_id
    )
    if not lines:
        return None
    tokens = issue_links(
        session=session,
        incident_id=incident_id,
        customer_ids=[customer_id],
        valid_days=valid_days,
        now=now,
    )
    token = tokens.get(customer_id)
    return CreditSummary(
        customer_id=customer_id,
        incident_id=incident_id,
        amounts=ledger.totals(lines),
        sites=[line.site for line in lines],
        available_at=min(line.available_at for line in lines),
        auto_apply=all(line.auto_apply for line in lines),
        redeem_url=f"{base_url.rstrip('/')}/r/{token}" if token else None,
    )
