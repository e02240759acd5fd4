"""Render ledger rows into messages: a batch of rows in, one message per row out.

The dispatcher hands over batches of ledger rows; this module works out what
each row's notice is (its facts, gathered once per notice) and sends each row
the way its kind is written: lifecycle notices through the shared templates
(:mod:`amends.messages.variants`), apologies and breach notices composed per
customer (apologies.py), managers' call lists (call_lists.py), the operator's
own drafted text (drafts/ledger.py), credit events as billing payloads. A
batch's names, zones and affected sites come from ONE query each, whatever
the batch size.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from amends import impact
from amends.catalog.models import Customer
from amends.credits import events
from amends.credits.models import BillingEndpoint
from amends.delivery.channels.base import Message
from amends.delivery.models import Notice, NoticeKind
from amends.incidents import service as incident_service
from amends.incidents.models import HoldingUpdate, IncidentUpdate
from amends.messages.drafts import ledger as drafts_ledger
from amends.messages.variants import VariantRenderer, known_locale

if TYPE_CHECKING:
    # Imported when an apology or a call list is first composed: the first
    # notice of an incident needs neither (nor credits, httpx…), and its
    # first e-mail should not wait for them (benchmarks/first_notice.py).
    from amends.messages.apologies import ApologyComposer
    from amends.messages.call_lists import CallListRenderer

PERSONAL = (NoticeKind.apology, NoticeKind.breach)
BILLING = "billing"  # the channel of credit events (delivery.billing)
LISTS = (NoticeKind.call_list,)
DRAFTED = (NoticeKind.draft,)  # the operator's own text (messages/drafts/ledger.py)


@dataclass(frozen=True, slots=True)
class Row:
    """What the renderer needs from one ledger row."""

    delivery_id: int
    notice_id: int
    recipient_kind: str
    recipient_id: int
    channel: str
    address: str | None
    locale: str


@dataclass(frozen=True)
class SharedFacts:
    """Everything about a notice that is the same for all its recipients."""

    notice_id: int
    incident_id: int
    kind: NoticeKind
    title: str
    message: str
    components: str
    started: dt.datetime
    resolved: dt.datetime | None
    status: str
    windows: tuple[impact.Window, ...]
    #: A holding update amends posted itself: worded per language, with this promise.
    holding_next: dt.datetime | None = None


class NoticeRenderer:
    """Turns batches of ledger rows into :class:`Message`; keeps per-notice facts."""

    def __init__(
        self, *, public_url: str, sender: str, unsubscribe_key: bytes | None = None
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.sender = sender
        self._apologies: ApologyComposer | None = None
        self._call_lists: CallListRenderer | None = None
        self._facts: dict[int, SharedFacts] = {}
        self._lifecycle = VariantRenderer(
            public_url=public_url, sender=sender, unsubscribe_key=unsubscribe_key
        )

    @property
    def unsubscribe_key(self) -> bytes | None:
        """The installation's key: signs each recipient's one-click unsubscribe
        link (preferences.service) and each customer's rating links
        (ratings.links). Kept by the variant renderer alone, so a key set after
        start (the dispatcher reads it once it has a session) reaches every
        kind of notice."""
        return self._lifecycle.unsubscribe_key

    @unsubscribe_key.setter
    def unsubscribe_key(self, key: bytes | None) -> None:
        self._lifecycle.unsubscribe_key = key

    def facts(self, session: Session, notice_id: int) -> SharedFacts:
        found = self._facts.get(notice_id)
        if found is not None:
            return found
        notice = session.get(Notice, notice_id)
        assert notice is not None, notice_id
        incident = incident_service.get_incident(session=session, incident_id=notice.incident_id)
        message = ""
        holding_next = None
        if notice.update_id is not None:
            update = session.get(IncidentUpdate, notice.update_id)
            message = update.message if update else ""
            held = session.get(HoldingUpdate, notice.update_id)
            holding_next = held.next_update_at if held else None
        elif notice.kind is NoticeKind.resolution and incident.updates:
            message = incident.updates[-1].message
        windows = impact.failure_windows(session=session, incident=incident)
        names = ", ".join(link.component.name for link in incident.components)
        found = SharedFacts(
            notice_id=notice.id,
            incident_id=incident.id,
            kind=notice.kind,
            title=incident.title,
            message=message,
            components=names or incident.title,
            started=incident.started_at,
            resolved=incident.resolved_at,
            status=str(incident.status),
            windows=tuple(windows),
            holding_next=holding_next,
        )
        self._facts[notice_id] = found
        return found

    def writes(self, session: Session, rows: Sequence[Row]) -> bool:
        """Whether rendering these rows may write: an apology creates the
        redemption links it carries, so it needs a writing transaction."""
        if not rows or rows[0].channel == BILLING:
            return False
        return self.facts(session, rows[0].notice_id).kind in PERSONAL

    def render(self, session: Session, rows: Sequence[Row]) -> list[Message]:
        """One message per row, in order. Two queries per batch: names and
        zones of its customers, and their affected sites. Apologies and breach
        notices are composed per customer (apologies.py), managers' call lists
        per manager (call_lists.py); a batch that mixes them is split. Credit
        events for billing are their payloads."""
        if rows and rows[0].channel == BILLING:  # that channel carries nothing else
            return self._credit_events(session, rows)
        kinds = {n: self.facts(session, n).kind for n in {r.notice_id for r in rows}}
        groups: dict[str, list[Row]] = {}
        for row in rows:
            kind = kinds[row.notice_id]
            shape = "personal" if kind in PERSONAL else "list" if kind in LISTS else "plain"
            shape = "drafted" if kind in DRAFTED else shape
            groups.setdefault(shape, []).append(row)
        if len(groups) == 1 and "plain" in groups:
            return self._plain(session, rows)
        done: dict[int, Message] = {}
        for shape, mine in groups.items():
            if shape == "personal":
                made = self._personal(session, mine)
            elif shape == "list":
                made = self._lists(session, mine)
            elif shape == "drafted":
                made = self._drafted(session, mine)
            else:
                made = self._plain(session, mine)
            done.update((m.delivery_id, m) for m in made)
        return [done[r.delivery_id] for r in rows]

    def _drafted(self, session: Session, rows: Sequence[Row]) -> list[Message]:
        made: list[Message] = []
        by_notice: dict[int, list[Row]] = {}
        for row in rows:
            by_notice.setdefault(row.notice_id, []).append(row)
        for notice_id, mine in by_notice.items():
            windows = self.facts(session, notice_id).windows
            made += drafts_ledger.render_rows(
                session,
                notice_id,
                windows,
                mine,
                self._lifecycle.unsubscribe_url,  # type: ignore[arg-type]
            )
        return made

    def _lists(self, session: Session, rows: Sequence[Row]) -> list[Message]:
        if self._call_lists is None:
            from amends.messages.call_lists import CallListRenderer

            self._call_lists = CallListRenderer(public_url=self.public_url, sender=self.sender)
        made: list[Message] = []
        by_notice: dict[int, list[Row]] = {}
        for row in rows:
            by_notice.setdefault(row.notice_id, []).append(row)
        for notice_id, mine in by_notice.items():
            made += self._call_lists.render(session, self.facts(session, notice_id), mine)
        return made

    def _plain(self, session: Session, rows: Sequence[Row]) -> list[Message]:
        customers = [r.recipient_id for r in rows if r.recipient_kind == "customer"]
        people: dict[int, tuple[str, str]] = {}
        sites: dict[tuple[int, int], list[str]] = {}
        if customers:
            people = {
                i: (name, zone)
                for i, name, zone in session.execute(
                    select(Customer.id, Customer.name, Customer.timezone).where(
                        Customer.id.in_(customers)
                    )
                )
            }
            by_notice: dict[int, list[int]] = {}
            for r in rows:
                if r.recipient_kind == "customer":
                    by_notice.setdefault(r.notice_id, []).append(r.recipient_id)
            for notice_id, ids in by_notice.items():  # one notice per batch, as a rule
                windows = list(self.facts(session, notice_id).windows)
                if windows:
                    query = impact.affected_domains(windows, ids)
                    for customer_id, domain in session.execute(query):
                        sites.setdefault((notice_id, customer_id), []).append(domain)
        write = self._lifecycle.message
        return [write(self.facts(session, r.notice_id), r, people, sites) for r in rows]

    def _personal(self, session: Session, rows: Sequence[Row]) -> list[Message]:
        """Composed one by one; a batch holds rows of one notice (claimed in id order)."""
        from amends.messages.apologies import ApologyComposer, as_message

        if self._apologies is None:
            self._apologies = ApologyComposer(
                company=self.sender, public_url=self.public_url, rating_key=self.unsubscribe_key
            )
        by_notice: dict[int, list[Row]] = {}
        for row in rows:
            by_notice.setdefault(row.notice_id, []).append(row)
        composed = {}
        for notice_id, mine in by_notice.items():
            facts = self.facts(session, notice_id)
            composed.update(
                self._apologies.compose_rows(
                    session,
                    facts.incident_id,
                    facts.kind,
                    [(r.delivery_id, r.recipient_id, r.channel, r.locale) for r in mine],
                )
            )
        unsubscribe = self._lifecycle.unsubscribe_url
        return [
            as_message(
                composed[r.delivery_id],
                delivery_id=r.delivery_id,
                key=f"{r.notice_id}.{r.delivery_id}",
                address=r.address or "",
                locale=known_locale(r.locale),
                variant="",  # every apology is its own variant
                unsubscribe_url=unsubscribe(r) if r.channel == "email" else None,
            )
            for r in rows
        ]

    def _credit_events(self, session: Session, rows: Sequence[Row]) -> list[Message]:
        """Each row's event payload, signed later with its endpoint's own secret."""
        event_of = dict(
            session.execute(
                select(Notice.id, Notice.update_key).where(
                    Notice.id.in_({r.notice_id for r in rows})
                )
            ).all()
        )
        payloads = events.payloads(session=session, event_ids=list(set(event_of.values())))
        secrets = dict(
            session.execute(
                select(BillingEndpoint.id, BillingEndpoint.secret).where(
                    BillingEndpoint.id.in_({r.recipient_id for r in rows})
                )
            ).all()
        )
        return [
            Message(
                delivery_id=r.delivery_id,
                key=f"{r.notice_id}.{r.delivery_id}",
                address=r.address or "",
                locale="en",
                text="",
                payload=payloads.get(event_of.get(r.notice_id, 0)),
                signing_secret=secrets.get(r.recipient_id),
            )
            for r in rows
        ]
