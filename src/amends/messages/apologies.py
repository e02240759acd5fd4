"""Ledger rows of an apology or breach notice, composed one customer at a time.

Lifecycle notices share one template per variant (variants.py); the apology
cannot: its seven steps name the customer's own sites, their own credit and
the track record in their language, so each message goes through the
composer. A batch still costs a fixed number of queries — the customers, their
affected sites, their credits, their redemption links (created for the batch
in one insert-if-absent statement) — and the composer's ~0.6 ms per message.

A redemption link is only written into messages of customers who must click
to redeem (a redeem-by-click policy); auto-applied credits are only stated.
The link's URL is derived from the installation's key, so composing the same
message again renders the same URL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends import impact
from amends.availability import service as availability
from amends.catalog.models import Customer
from amends.credits import redemption
from amends.credits import service as credit_service
from amends.delivery.channels.base import Message
from amends.delivery.models import NoticeKind
from amends.incidents import service as incident_service
from amends.messages import service as message_service
from amends.messages.composer import compose
from amends.messages.inputs import Composed, CreditOffer, NoticeFacts, Recipient, TrackRecord
from amends.ratings import links as rating_links

KINDS = {NoticeKind.apology: "apology", NoticeKind.breach: "breach_notice"}
FORMS = {"email": "email", "sms": "sms", "voice": "voice"}
DEAD = ("void", "expired")


class ApologyComposer:
    """What one incident's apology needs, looked up once, then composed per customer."""

    def __init__(self, *, company: str, public_url: str, rating_key: bytes | None = None) -> None:
        self.company = company
        self.public_url = public_url.rstrip("/")
        # The installation's key: with it, apology e-mails carry signed rating links.
        self.rating_key = rating_key
        self._facts: dict[int, tuple[NoticeFacts, list[impact.Window], dict[str, TrackRecord]]] = {}
        self._redeem_key: bytes | None = None

    def incident(
        self, session: Session, incident_id: int
    ) -> tuple[NoticeFacts, list[impact.Window], dict[str, TrackRecord]]:
        found = self._facts.get(incident_id)
        if found is None:
            facts = message_service.notice_facts(
                session=session,
                incident_id=incident_id,
                company=self.company,
                status_url=f"{self.public_url}/incidents/{incident_id}",
                signatory=self.company,
            )
            incident = incident_service.get_incident(session=session, incident_id=incident_id)
            windows = impact.failure_windows(session=session, incident=incident)
            found = (facts, windows, _track_records(session, incident))
            self._facts[incident_id] = found
        return found

    def compose_rows(
        self,
        session: Session,
        incident_id: int,
        kind: NoticeKind,
        rows: Sequence[tuple[int, int, str, str]],
    ) -> dict[int, Composed]:
        """(delivery id, customer id, channel, locale) rows → composed message per delivery."""
        facts, windows, records = self.incident(session, incident_id)
        ids = sorted({customer_id for _, customer_id, _, _ in rows})
        people = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}
        sites: dict[int, list[str]] = {}
        if windows:
            for customer_id, domain in session.execute(impact.affected_domains(windows, ids)):
                sites.setdefault(customer_id, []).append(domain)
        credits = credit_service.credits_by_customer(
            session=session, incident_id=incident_id, customer_ids=ids
        )
        links = self.links(session, incident_id, credits)
        out = {}
        for delivery_id, customer_id, channel, locale in rows:
            customer = people[customer_id]
            lang = "es" if locale.lower().startswith("es") else "en"
            out[delivery_id] = compose(
                KINDS[kind],
                facts,
                Recipient(name=customer.name, timezone=customer.timezone),
                lang,
                FORMS.get(channel, "sms"),
                credit=_offer(credits.get(customer_id, []), links.get(customer_id)),
                track_record=records.get(lang),
                sites=sites.get(customer_id, []),
                rating_url=self._rating_url(incident_id, customer_id, kind, channel),
            )
        return out

    def _rating_url(
        self, incident_id: int, customer_id: int, kind: NoticeKind, channel: str
    ) -> str | None:
        """Only the apology asks for a rating (a breach notice is about what to do now)."""
        if self.rating_key is None or kind is not NoticeKind.apology or channel != "email":
            return None
        link = rating_links.RatingLink(incident_id, customer_id, "apology")
        return rating_links.url(self.public_url, self.rating_key, link)

    def links(
        self,
        session: Session,
        incident_id: int,
        credits: dict[int, list[credit_service.CreditLine]],
    ) -> dict[int, str]:
        """Redemption URLs of the customers who must click (created if missing)."""
        clicking = [cid for cid, lines in credits.items() if by_click(lines)]
        if not clicking:
            return {}
        if self._redeem_key is None:
            self._redeem_key = redemption.link_key(session=session)
        tokens = redemption.issue_links(
            session=session, incident_id=incident_id, customer_ids=clicking, key=self._redeem_key
        )
        return {cid: redemption.redeem_url(self.public_url, t) for cid, t in tokens.items()}


def by_click(lines: Sequence[credit_service.CreditLine]) -> bool:
    """Whether the customer has a live credit that waits for their click."""
    return any(not line.auto_apply and str(line.state) not in DEAD for line in lines)


def as_message(composed: Composed, **common: object) -> Message:
    return Message(
        subject=composed.subject,
        text=composed.text,
        html=composed.html,
        **common,  # type: ignore[arg-type]
    )


def _offer(
    lines: Sequence[credit_service.CreditLine], redeem_url: str | None = None
) -> CreditOffer | None:
    """The customer's credit in their main currency (a customer's sites share
    one currency in practice; a second one would be named in the report)."""
    live = [line for line in lines if str(line.state) not in DEAD]
    if not live:
        return None
    totals = credit_service.totals(live)
    currency = max(totals, key=lambda c: totals[c])
    mine = [line for line in live if line.currency == currency]
    return CreditOffer(
        amount_minor=totals[currency],
        currency=currency,
        sites=[line.site for line in mine],
        available_at=min(line.available_at for line in mine),
        # Only for credits that wait for a click: auto-applied ones need nothing done.
        redeem_url=redeem_url if by_click(mine) else None,
    )


def _track_records(session: Session, incident: object) -> dict[str, TrackRecord]:
    """Measured history of the first failed component, only where it supports a sentence."""
    components = getattr(incident, "components", [])
    if not components:
        return {}
    component = components[0].component
    found = availability.track_record(
        session=session, component=component.key, locale="en", now=_now(incident)
    )
    if found is None:
        return {}
    since = availability.add_months(_now(incident), -found.months)
    record = TrackRecord(
        service={"en": f"our {component.name}", "es": f"nuestro servicio de {component.name}"},
        availability=Decimal(found.percent),
        since=since,
    )
    return {"en": record, "es": record}


def _now(incident: object) -> dt.datetime:
    """History up to the end of this outage: the record quoted includes it."""
    end: dt.datetime | None = getattr(incident, "resolved_at", None)
    return end or getattr(incident, "started_at")  # noqa: B009
