"""HTML pages: Jinja2 templates, one environment per language, Babel for dates.

Translations live as a gettext ``.po`` catalog in the package and are compiled
in memory by Babel when first needed, so there is no build step. Links are
relative, so the same bytes work served by amends, by nginx from an export
directory, or from object storage under any prefix.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass
from importlib import resources
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from amends.config import Settings
from amends.statuspage.service import IncidentView, Snapshot

LANGUAGES = ("en", "es")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def _(text: str) -> str:
    """Marks a string for translation; translated when rendered."""
    return text


LABELS: dict[str, str] = {
    "operational": _("Operational"),
    "degraded_performance": _("Degraded performance"),
    "partial_outage": _("Partial outage"),
    "major_outage": _("Major outage"),
    "under_maintenance": _("Under maintenance"),
    "investigating": _("Investigating"),
    "identified": _("Identified"),
    "monitoring": _("Monitoring"),
    "resolved": _("Resolved"),
    "postmortem": _("Postmortem"),
    "scheduled": _("Scheduled"),
    "in_progress": _("In progress"),
    "verifying": _("Verifying"),
    "completed": _("Completed"),
    "cancelled": _("Cancelled"),
    "none": _("All systems operational"),
    "minor": _("Minor service outage"),
    "major": _("Partial system outage"),
    "critical": _("Major system outage"),
    "maintenance": _("Service under maintenance"),
}


def negotiate(accept_language: str | None, default: str = "en") -> str:
    """The visitor's language from ``Accept-Language`` (Babel's negotiation)."""
    if not accept_language:
        return default
    wanted = []
    for part in accept_language.split(","):
        tag, _sep, quality = part.strip().partition(";q=")
        try:
            q = float(quality) if quality else 1.0
        except ValueError:
            q = 0.0
        if tag and tag != "*":
            wanted.append((q, tag.replace("-", "_")))
    ordered = [tag for _q, tag in sorted(wanted, key=lambda p: -p[0])]
    found = Locale.negotiate(ordered, list(LANGUAGES))
    return str(found) if found else default


@functools.cache
def translations(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    source = resources.files("amends.statuspage") / "locale" / f"{lang}.po"
    with source.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@functools.cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=PackageLoader("amends.statuspage", "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    try:
        locale = Locale.parse(lang)
    except UnknownLocaleError:  # pragma: no cover - LANGUAGES are known
        locale = Locale.parse("en")

    @functools.lru_cache(maxsize=8192)
    def when(value: dt.datetime | None) -> Markup:
        if value is None:
            return Markup("")
        utc = value.astimezone(dt.UTC)
        text = format_datetime(utc, "medium", tzinfo=dt.UTC, locale=locale)
        return Markup('<time datetime="{}" data-local>{} UTC</time>').format(utc.isoformat(), text)

    @functools.lru_cache(maxsize=4096)
    def day(value: dt.date) -> str:
        return format_date(value, "medium", locale=locale)

    @functools.lru_cache(maxsize=4096)
    def _month(year: int, number: int) -> str:
        return format_date(dt.date(year, number, 1), "LLLL yyyy", locale=locale).capitalize()

    def month(value: dt.datetime) -> str:
        return _month(value.year, value.month)

    def label(value: Any) -> str:
        key = getattr(value, "value", value)
        return translations(lang).gettext(LABELS.get(key, key))

    @functools.lru_cache(maxsize=4096)
    def percent(value: float) -> str:
        return f"{value * 100:.2f}".rstrip("0").rstrip(".") + " %"

    def paragraphs(text: str) -> Markup:
        blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
        return Markup("").join(Markup("<p>{}</p>").format(escape(b)) for b in blocks)

    env.filters.update(when=when, day=day, month=month, label=label, percent=percent)
    env.filters["paragraphs"] = paragraphs
    return env


@dataclass(frozen=True)
class Place:
    """Where a page sits, so its relative links resolve from any host."""

    lang: str
    relpath: str  # inside the language directory: index.html, incidents/7.html
    at_root: bool  # the page root's index.html (language chosen by negotiation)
    slug: str

    @property
    def depth(self) -> int:
        return self.relpath.count("/")

    @property
    def root(self) -> str:
        return "../" * (self.depth + (0 if self.at_root else 1))

    @property
    def lang_root(self) -> str:
        return "../" * self.depth + (f"{self.lang}/" if self.at_root else "")

    @property
    def assets(self) -> str:
        return self.root + ("../../" if self.slug else "") + "assets/"

    def switch(self, other: str) -> str:
        return f"{self.root}{other}/{self.relpath}".replace("/index.html", "/")


def page(
    template: str,
    snap: Snapshot,
    settings: Settings,
    place: Place,
    *,
    incident: IncidentView | None = None,
    has_custom_css: bool = False,
) -> bytes:
    env = environment(place.lang)
    months: dict[str, list[IncidentView]] = {}
    if template == "history.html":
        for item in snap.incidents:
            months.setdefault(env.filters["month"](item.started_at), []).append(item)
    html = env.get_template(template).render(
        snap=snap,
        settings=settings,
        place=place,
        incident=incident,
        months=months,
        languages=LANGUAGE_NAMES,
        custom_css=has_custom_css,
        incidents_by_id={i.id: i for i in snap.incidents + snap.maintenances},
    )
    return html.encode()
