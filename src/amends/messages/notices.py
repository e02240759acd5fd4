"""Render ledger rows into messages: one template per locale and channel.

Rendering sits on the hot path of a five-million-message send, so what is the
same for many recipients is worked out once: the templates are compiled once
per process, each (notice, locale, channel) *variant* gets its shared context
once, and dates are formatted once per (locale, time zone). Per recipient only
the name and their affected sites change. A batch's affected sites come from
ONE query, whatever the batch size.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from jinja2 import PackageLoader, StrictUndefined, Template, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape
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
from amends.messages.i18n import Speaker
from amends.preferences.service import RecipientChannel
from amends.preferences.service import token as unsubscribe_token
from amends.ratings import links as rating_links

if TYPE_CHECKING:
    # Imported when an apology or a call list is first composed: the first
    # notice of an incident needs neither (nor credits, httpx…), and its
    # first e-mail should not wait for them (benchmarks/first_notice.py).
    from amends.messages.apologies import ApologyComposer
    from amends.messages.call_lists import CallListRenderer

LOCALES = ("en", "es")
PERSONAL = (NoticeKind.apology, NoticeKind.breach)
BILLING = "billing"  # the channel of credit events (delivery.billing)
LISTS = (NoticeKind.call_list,)
DRAFTED = (NoticeKind.draft,)  # the operator's own text (messages/drafts/ledger.py)
_SLOT = "\x01{}\x01"  # survives Jinja, HTML escaping and whitespace folding
_SLOT_RE = re.compile("\x01(\\w+)\x01")
SITES_SHOWN = 3
DATE_PATTERN = "d MMM y HH:mm zzz"


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


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """Sandboxed: templates may one day be edited by operators."""
    return SandboxedEnvironment(
        loader=PackageLoader("amends.messages", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        auto_reload=False,  # packaged templates never change under a running worker
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=64)
def template(locale: str, part: str) -> Template:
    """A compiled template, e.g. ``("es", "email_text")``; compiled once per process."""
    name = f"{locale}/email.html.j2" if part == "email_html" else f"{locale}/{part}.j2"
    return environment().get_template(name)


@lru_cache(maxsize=4096)
def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@lru_cache(maxsize=65536)
def local_time(value: dt.datetime, timezone: str, locale: str) -> str:
    """A time as the recipient reads it, in their zone and language (cached:
    a notice has one start time, and customers share a few hundred zones)."""
    return format_datetime(value, DATE_PATTERN, tzinfo=_zone(timezone), locale=locale)


def holding_text(locale: str, when: str) -> str:
    """The holding update's words: still on it, and when the next news comes."""
    s = Speaker(_locale(locale), "UTC")
    still = s._("We are still working on it.")
    return f"{still} {s._('Our next update will come by %(when)s.', when=when)}"


def _locale(value: str) -> str:
    base = value.split("-")[0].split("_")[0].lower()
    return base if base in LOCALES else "en"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class NoticeRenderer:
    """Turns batches of ledger rows into :class:`Message`; keeps per-notice facts."""

    def __init__(
        self, *, public_url: str, sender: str, unsubscribe_key: bytes | None = None
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.sender = sender
        # The installation's key: signs each recipient's one-click unsubscribe
        # link (preferences.service) and each customer's rating links (ratings.links).
        self.unsubscribe_key = unsubscribe_key
        self._apologies: ApologyComposer | None = None
        self._call_lists: CallListRenderer | None = None
        self._facts: dict[int, SharedFacts] = {}
        self._variants: dict[tuple[object, ...], str] = {}

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
                self._unsubscribe_url,  # type: ignore[arg-type]
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
        return [self.message(self.facts(session, r.notice_id), r, people, sites) for r in rows]

    def message(
        self,
        facts: SharedFacts,
        row: Row,
        people: dict[int, tuple[str, str]],
        sites: dict[tuple[int, int], list[str]],
    ) -> Message:
        locale = _locale(row.locale)
        name, zone, own = "", "UTC", []
        if row.recipient_kind == "customer":
            name, zone = people.get(row.recipient_id, ("", "UTC"))
            own = sites.get((facts.notice_id, row.recipient_id), [])
        shown = own[:SITES_SHOWN]
        more = len(own) - len(shown)
        rate = self._rating_url(facts, row)
        shape = (bool(name), len(shown), more > 0, bool(rate))
        values = {
            "name": name,
            "more": str(more),
            "unsub": self._unsubscribe_url(row) or "",
            "rate": rate or "",
        }
        values.update((f"s{i}", domain) for i, domain in enumerate(shown))
        key = f"{facts.notice_id}.{row.delivery_id}"
        common = {
            "delivery_id": row.delivery_id,
            "key": key,
            "address": row.address or "",
            "locale": locale,
            "name": name,
            "variant": f"{facts.notice_id}:{locale}:{row.channel}",
        }

        def fill(part: str) -> str:
            compiled = self._compiled(facts, locale, zone, part, shape)
            if part == "email_html":
                return compiled.format_map({k: escape(v) for k, v in values.items()})
            return compiled.format_map(values)

        if row.channel == "email":
            return Message(
                **common,
                unsubscribe_url=values["unsub"] or None,
                subject=fill("email_subject"),
                text=fill("email_text"),
                html=fill("email_html"),
            )
        if row.channel in ("sms", "voice"):
            return Message(**common, text=fill(row.channel))
        return Message(
            **common, text=fill("sms"), subject=facts.title, payload=_payload(facts, key)
        )

    def _compiled(
        self,
        facts: SharedFacts,
        locale: str,
        zone: str,
        part: str,
        shape: tuple[bool, int, bool, bool],
    ) -> str:
        """The template rendered once for this variant and shape, with slots
        (``{name}``, ``{s0}``…, ``{more}``) where each recipient's values go:
        Jinja runs once per variant, ``str.format_map`` once per message."""
        cache_key = (facts.notice_id, locale, zone, part, shape)
        found = self._variants.get(cache_key)
        if found is not None:
            return found
        has_name, shown, more, rated = shape
        context = self._context(facts, locale, zone)
        context.update(
            name=_SLOT.format("name") if has_name else "",
            sites=[_SLOT.format(f"s{i}") for i in range(shown)],
            more=_SLOT.format("more") if more else 0,
            unsubscribe=_SLOT.format("unsub") if self.unsubscribe_key else "",
            rating=_SLOT.format("rate") if rated else "",  # the scale is 1-5 (ratings.links)
        )
        out = template(locale, part).render(context)
        if part in ("email_subject", "sms", "voice"):
            out = _one_line(out)
        elif part == "email_text":
            out = out.strip() + "\n"
        out = out.replace("{", "{{").replace("}", "}}")
        found = _SLOT_RE.sub(lambda m: "{" + m.group(1) + "}", out)
        self._variants[cache_key] = found
        return found

    def _context(self, facts: SharedFacts, locale: str, zone: str) -> dict[str, Any]:
        title = facts.title
        message, holding = facts.message, ""
        if facts.holding_next is not None:
            holding = local_time(facts.holding_next, zone, locale)
            message = holding_text(locale, holding)
        return {
            "kind": facts.kind.value,
            "title": title,
            "short_title": title if len(title) <= 60 else title[:59] + "…",
            "message": message,
            "holding": holding,
            "components": facts.components,
            "started": local_time(facts.started, zone, locale),
            "resolved": local_time(facts.resolved, zone, locale) if facts.resolved else "",
            "url": f"{self.public_url}/incidents/{facts.incident_id}",
            "sender": self.sender,
        }

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
        return [
            as_message(
                composed[r.delivery_id],
                delivery_id=r.delivery_id,
                key=f"{r.notice_id}.{r.delivery_id}",
                address=r.address or "",
                locale=_locale(r.locale),
                variant="",  # every apology is its own variant
                unsubscribe_url=self._unsubscribe_url(r) if r.channel == "email" else None,
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

    def _rating_url(self, facts: SharedFacts, row: Row) -> str | None:
        """A customer's resolution e-mail asks how we handled it (subscribers are
        not asked: a rating is one customer's, once per incident)."""
        if (
            self.unsubscribe_key is None
            or facts.kind is not NoticeKind.resolution
            or row.channel != "email"
            or row.recipient_kind != "customer"
        ):
            return None
        link = rating_links.RatingLink(facts.incident_id, row.recipient_id, "resolution")
        return rating_links.url(self.public_url, self.unsubscribe_key, link)

    def _unsubscribe_url(self, row: Row) -> str | None:
        if self.unsubscribe_key is None:
            return None
        who = RecipientChannel(row.recipient_kind, row.recipient_id, row.channel)
        return f"{self.public_url}/u/{unsubscribe_token(self.unsubscribe_key, who)}"


def _payload(facts: SharedFacts, key: str) -> dict[str, Any]:
    """The webhook event: what a machine needs, no personal data."""
    return {
        "type": f"incident.{facts.kind.value}",
        "id": key,
        "incident": {
            "id": facts.incident_id,
            "title": facts.title,
            "status": facts.status,
            "components": facts.components,
            "started_at": facts.started.isoformat(),
            "resolved_at": facts.resolved.isoformat() if facts.resolved else None,
        },
        "message": facts.message,
    }
