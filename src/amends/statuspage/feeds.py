"""History feeds (Atom, RSS via feedgen) and the maintenance calendar (icalendar).

Every timestamp comes from the data, never from the clock, so an unchanged
history gives unchanged bytes and the static export rewrites nothing.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from urllib.parse import urlsplit

import icalendar
from feedgen.feed import FeedGenerator

from amends.config import Settings
from amends.incidents.models import IncidentStatus
from amends.statuspage.apiv2 import page_url
from amends.statuspage.service import IncidentView, Snapshot

FEED_LIMIT = 50


def _content(item: IncidentView) -> str:
    parts = [
        f"<p><small>{u.at.strftime('%Y-%m-%d %H:%M UTC')}</small><br>"
        f"<strong>{escape(u.status.value.replace('_', ' ').title())}</strong> - "
        f"{escape(u.body)}</p>"
        for u in item.updates
    ]
    if item.postmortem:
        parts.append(f"<h3>Postmortem</h3><p>{escape(item.postmortem)}</p>")
    return "".join(parts)


def _generator(snap: Snapshot, settings: Settings) -> FeedGenerator:
    base = page_url(snap, settings)
    feed = FeedGenerator()
    feed.id(base)
    feed.title(f"{snap.name} - incident history")
    feed.link(href=base, rel="alternate")
    feed.link(href=f"{base}history.atom", rel="self")
    feed.description(f"Incidents and maintenance of {snap.name}")
    feed.language("en")
    feed.updated(snap.updated_at)
    feed.lastBuildDate(snap.updated_at)
    items = sorted(snap.incidents + snap.maintenances, key=lambda i: (i.updated_at, i.id))
    for item in items[-FEED_LIMIT:]:
        link = f"{base}en/incidents/{item.id}.html"
        entry = feed.add_entry()
        entry.id(link)
        entry.guid(link, permalink=True)
        entry.title(item.name)
        entry.link(href=link)
        entry.published(item.created_at)
        entry.updated(item.updated_at)
        entry.content(_content(item), type="html")
        entry.description(_content(item))
    return feed


def atom(snap: Snapshot, settings: Settings) -> bytes:
    return bytes(_generator(snap, settings).atom_str(pretty=True))


def rss(snap: Snapshot, settings: Settings) -> bytes:
    return bytes(_generator(snap, settings).rss_str(pretty=True))


def maintenance_calendar(snap: Snapshot, settings: Settings) -> bytes:
    """Scheduled maintenance as iCalendar events calendar apps can subscribe to."""
    host = urlsplit(settings.statuspage_url).hostname or "amends"
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//amends//status page//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{snap.name} - maintenance")
    for item in sorted(snap.maintenances, key=lambda m: m.id):
        if item.scheduled_for is None or item.scheduled_until is None:
            continue
        event = icalendar.Event()
        event.add("uid", f"maintenance-{item.id}@{host}")
        event.add("dtstamp", item.updated_at.astimezone(dt.UTC))
        event.add("dtstart", item.scheduled_for.astimezone(dt.UTC))
        event.add("dtend", item.scheduled_until.astimezone(dt.UTC))
        event.add("summary", item.name)
        if item.updates:
            event.add("description", item.updates[-1].body)
        event.add("url", f"{page_url(snap, settings)}en/incidents/{item.id}.html")
        cancelled = item.status is IncidentStatus.cancelled
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        calendar.add_component(event)
    return bytes(calendar.to_ical())
