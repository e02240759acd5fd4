"""The public site as a set of files: path → bytes.

One place decides what the site contains, so the dynamic server (which
serves these bytes from a cache) and the static export (which writes them to
disk) can never disagree. Rendering is lazy per path: a stampede on
``summary.json`` never renders a thousand incident pages.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from sqlalchemy.orm import Session

from amends.config import Settings
from amends.db import utcnow
from amends.statuspage import apiv2, badges, feeds, render, service
from amends.statuspage.service import Snapshot

ASSETS = ("status.css", "local-time.js")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".ics": "text/calendar; charset=utf-8",
    ".svg": "image/svg+xml",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}


def media_type(path: str) -> str:
    for suffix, kind in TYPES.items():
        if path.endswith(suffix):
            return kind
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


@dataclass
class Site:
    """Every public page's snapshot, and how to render any path from them."""

    settings: Settings
    snapshots: dict[str, Snapshot]  # slug → snapshot ("" is the default page)

    @classmethod
    def load(cls, *, session: Session, settings: Settings, now: dt.datetime | None = None) -> Site:
        # to the minute: today's availability moves with the clock, and the
        # export should not rewrite pages for a sub-minute difference
        now = (now or utcnow()).replace(second=0, microsecond=0)
        snaps = {}
        for spec in service.pages(settings):
            snap = service.snapshot(session=session, settings=settings, page=spec, now=now)
            snaps[snap.slug] = snap
        return cls(settings, snaps)

    def paths(self) -> Iterator[str]:
        """Every file of the site, for the static export."""
        for name in ASSETS:
            yield f"assets/{name}"
        if self.settings.statuspage_css_file is not None:
            yield "assets/custom.css"
        for slug, snap in self.snapshots.items():
            prefix = f"pages/{slug}/" if slug else ""
            yield f"{prefix}index.html"
            for lang in render.LANGUAGES:
                yield f"{prefix}{lang}/index.html"
                yield f"{prefix}{lang}/history.html"
                for item in snap.incidents + snap.maintenances:
                    yield f"{prefix}{lang}/incidents/{item.id}.html"
            for endpoint in apiv2.ENDPOINTS:
                yield f"{prefix}api/v2/{endpoint}"
            yield from (f"{prefix}history.atom", f"{prefix}history.rss", f"{prefix}maintenance.ics")
            for c in snap.components:
                yield f"{prefix}badges/{c.key}.svg"
                yield f"{prefix}badges/{c.key}-uptime.svg"

    def same_as(self, previous: Site | None, path: str) -> bool:
        """True when ``path`` is an incident page whose inputs did not change
        since ``previous``: ``--watch`` then skips rendering it at all, which
        is most of an export's work when the history is long."""
        if previous is None or previous.settings is not self.settings:
            return False
        slug, rest = "", path
        if path.startswith("pages/"):
            slug, _sep, rest = path.removeprefix("pages/").partition("/")
        lang, _sep, inner = rest.partition("/")
        if lang not in render.LANGUAGES or not inner.startswith("incidents/"):
            return False
        number = inner.removeprefix("incidents/").removesuffix(".html")
        now, before = self.snapshots.get(slug), previous.snapshots.get(slug)
        if now is None or before is None or not number.isdigit():
            return False
        names = [(c.key, c.name) for c in now.components]
        if names != [(c.key, c.name) for c in before.components] or now.name != before.name:
            return False
        item = now.incident(int(number))
        return item is not None and item == before.incident(int(number))

    def render(self, path: str, *, lang: str | None = None) -> bytes | None:
        """The bytes of ``path``, or None when the site has no such file.

        ``lang`` picks the language of a page root's ``index.html`` (the
        dynamic server negotiates it); the export writes the default.
        """
        if path.startswith("assets/"):
            return self._asset(path.removeprefix("assets/"))
        slug, rest = "", path
        if path.startswith("pages/"):
            slug, _sep, rest = path.removeprefix("pages/").partition("/")
            if not slug or slug not in self.snapshots:
                return None
        snap = self.snapshots.get(slug)
        if snap is None:
            return None
        return self._page_file(snap, rest, lang)

    def _asset(self, name: str) -> bytes | None:
        if name == "custom.css" and self.settings.statuspage_css_file is not None:
            return self.settings.statuspage_css_file.read_bytes()
        if name not in ASSETS:
            return None
        return (resources.files("amends.statuspage") / "assets" / name).read_bytes()

    def _page_file(self, snap: Snapshot, rest: str, lang: str | None) -> bytes | None:
        settings = self.settings
        if rest.startswith("api/v2/"):
            document = apiv2.documents(snap, settings).get(rest.removeprefix("api/v2/"))
            return None if document is None else apiv2.encode(document)
        simple = {
            "history.atom": feeds.atom,
            "history.rss": feeds.rss,
            "maintenance.ics": feeds.maintenance_calendar,
        }
        if rest in simple:
            return simple[rest](snap, settings)
        if rest.startswith("badges/") and rest.endswith(".svg"):
            return self._badge(snap, rest.removeprefix("badges/").removesuffix(".svg"))
        if rest == "index.html":
            chosen = lang if lang in render.LANGUAGES else settings.default_locale
            chosen = chosen if chosen in render.LANGUAGES else "en"
            place = render.Place(chosen, rest, True, snap.slug)
            return self._html("home.html", snap, place)
        first, _sep, inner = rest.partition("/")
        if first not in render.LANGUAGES:
            return None
        place = render.Place(first, inner, False, snap.slug)
        if inner == "index.html":
            return self._html("home.html", snap, place)
        if inner == "history.html":
            return self._html("history.html", snap, place)
        if inner.startswith("incidents/") and inner.endswith(".html"):
            number = inner.removeprefix("incidents/").removesuffix(".html")
            item = snap.incident(int(number)) if number.isdigit() else None
            if item is None:
                return None
            return self._html("incident.html", snap, place, incident=item)
        return None

    def _html(self, template: str, snap: Snapshot, place: render.Place, **extra: object) -> bytes:
        return render.page(
            template,
            snap,
            self.settings,
            place,
            has_custom_css=self.settings.statuspage_css_file is not None,
            **extra,  # type: ignore[arg-type]
        )

    def _badge(self, snap: Snapshot, name: str) -> bytes | None:
        key, uptime_badge = name, False
        if name.endswith("-uptime"):
            key, uptime_badge = name.removesuffix("-uptime"), True
        component = next((c for c in snap.components if c.key == key), None)
        if component is None:
            # a component key may itself end in "-uptime"
            component = next((c for c in snap.components if c.key == name), None)
            uptime_badge = False
        if component is None:
            return None
        if uptime_badge:
            return badges.uptime_badge(component.name, component.availability, snap.days)
        return badges.status_badge(component.name, component.status)
