"""Lifecycle notices from the packaged templates: Jinja once per variant,
``str.format_map`` once per message.

Why a module of its own: this is the hot path of a five-million-message send,
and its trick needs explaining in one place. A *variant* is a (notice, locale,
time zone, channel part, shape) — what is the same for many recipients. Its
template is rendered once with slots where each recipient's name, sites and
links go; per recipient only the slots are filled. Templates are compiled
once per process and dates formatted once per (locale, time zone). Which rows
get here, and everything else a batch needs, is :mod:`amends.messages.notices`.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from jinja2 import PackageLoader, StrictUndefined, Template, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from amends.delivery.channels.base import Message
from amends.delivery.models import NoticeKind
from amends.messages.i18n import Speaker
from amends.preferences.service import RecipientChannel
from amends.preferences.service import token as unsubscribe_token
from amends.ratings import links as rating_links

if TYPE_CHECKING:  # notices.py imports this module
    from amends.messages.notices import Row, SharedFacts

LOCALES = ("en", "es")
_SLOT = "\x01{}\x01"  # survives Jinja, HTML escaping and whitespace folding
_SLOT_RE = re.compile("\x01(\\w+)\x01")
SITES_SHOWN = 3
DATE_PATTERN = "d MMM y HH:mm zzz"


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
    s = Speaker(known_locale(locale), "UTC")
    still = s._("We are still working on it.")
    return f"{still} {s._('Our next update will come by %(when)s.', when=when)}"


def known_locale(value: str) -> str:
    """The language of the templates for a recipient's locale (``es-MX`` → ``es``); else English."""
    base = value.split("-")[0].split("_")[0].lower()
    return base if base in LOCALES else "en"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class VariantRenderer:
    """Messages of lifecycle notices, with the rendered variants kept per process."""

    def __init__(
        self, *, public_url: str, sender: str, unsubscribe_key: bytes | None = None
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.sender = sender
        self.unsubscribe_key = unsubscribe_key
        self._variants: dict[tuple[object, ...], str] = {}

    def message(
        self,
        facts: SharedFacts,
        row: Row,
        people: dict[int, tuple[str, str]],
        sites: dict[tuple[int, int], list[str]],
    ) -> Message:
        locale = known_locale(row.locale)
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
            "unsub": self.unsubscribe_url(row) or "",
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
        return Message(**common, text=fill("sms"), subject=facts.title, payload=payload(facts, key))

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

    def unsubscribe_url(self, row: Row) -> str | None:
        if self.unsubscribe_key is None:
            return None
        who = RecipientChannel(row.recipient_kind, row.recipient_id, row.channel)
        return f"{self.public_url}/u/{unsubscribe_token(self.unsubscribe_key, who)}"


def payload(facts: SharedFacts, key: str) -> dict[str, Any]:
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
