"""Atlassian Statuspage's public API v2 shape, so existing clients read amends.

Field names and values follow Statuspage's documented ``/api/v2/*.json``:
ids are strings, times ISO 8601, components carry ``group``/``group_id``
(a group is itself a component with ``group: true`` and its members' ids).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from amends.config import Settings
from amends.incidents.models import IncidentKind
from amends.statuspage.service import ComponentView, IncidentView, Snapshot

#: file name under api/v2/ → builder
ENDPOINTS = (
    "summary.json",
    "status.json",
    "components.json",
    "incidents.json",
    "incidents/unresolved.json",
    "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json",
    "scheduled-maintenances/active.json",
)
#: Statuspage lists at most this many incidents in incidents.json.
INCIDENT_LIMIT = 50


def page_id(snap: Snapshot) -> str:
    return snap.slug or "default"


def page_url(snap: Snapshot, settings: Settings) -> str:
    base = settings.statuspage_url.rstrip("/") + "/"
    return base + (f"pages/{snap.slug}/" if snap.slug else "")


def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def group_id(name: str) -> str:
    return "group-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "x")


def _page(snap: Snapshot, settings: Settings) -> dict[str, Any]:
    return {
        "id": page_id(snap),
        "name": snap.name,
        "url": page_url(snap, settings),
        "time_zone": settings.statuspage_time_zone,
        "updated_at": _time(snap.updated_at),
    }


def _component(c: ComponentView, snap: Snapshot) -> dict[str, Any]:
    return {
        "id": c.key,
        "name": c.name,
        "status": c.status.value,
        "created_at": _time(c.created_at),
        "updated_at": _time(c.updated_at),
        "position": c.position,
        "description": c.description or None,
        "showcase": True,
        "start_date": c.created_at.date().isoformat(),
        "group_id": group_id(c.group) if c.group else None,
        "page_id": page_id(snap),
        "group": False,
        "only_show_if_degraded": False,
    }


def components(snap: Snapshot) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for position, group in enumerate(snap.groups, start=1):
        members = [_component(c, snap) for c in group.components]
        if group.name is not None:
            result.append(
                {
                    "id": group_id(group.name),
                    "name": group.name,
                    "status": group.status.value,
                    "created_at": _time(min(c.created_at for c in group.components)),
                    "updated_at": _time(max(c.updated_at for c in group.components)),
                    "position": position,
                    "description": None,
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": page_id(snap),
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": [m["id"] for m in members],
                }
            )
        result.extend(members)
    return result


def incident(item: IncidentView, snap: Snapshot, settings: Settings) -> dict[str, Any]:
    names = {c.key: c for c in snap.components}
    body: dict[str, Any] = {
        "id": str(item.id),
        "name": item.name,
        "status": item.public_status,
        "created_at": _time(item.created_at),
        "updated_at": _time(item.updated_at),
        "monitoring_at": _time(item.monitoring_at),
        "resolved_at": _time(item.resolved_at),
        "impact": item.impact.value,
        "shortlink": f"{page_url(snap, settings)}en/incidents/{item.id}.html",
        "started_at": _time(item.started_at),
        "page_id": page_id(snap),
        "incident_updates": [
            {
                "id": str(u.id),
                "status": "completed" if u.status.value == "cancelled" else u.status.value,
                "body": u.body,
                "incident_id": str(item.id),
                "created_at": _time(u.created_at),
                "updated_at": _time(u.created_at),
                "display_at": _time(u.at),
                "affected_components": [
                    {"code": key, "name": name, "old_status": None, "new_status": status.value}
                    for key, name, status in u.affected
                ],
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for u in item.updates
        ],
        "components": [_component(names[key], snap) for key in item.component_keys if key in names],
    }
    if item.postmortem:
        body["postmortem_body"] = item.postmortem
        body["postmortem_published_at"] = _time(item.postmortem_at)
    if item.kind is IncidentKind.maintenance:
        body["scheduled_for"] = _time(item.scheduled_for)
        body["scheduled_until"] = _time(item.scheduled_until)
    return body


def documents(snap: Snapshot, settings: Settings) -> dict[str, Any]:
    """Every endpoint's document, keyed by its path under ``api/v2/``."""
    page = _page(snap, settings)
    indicator, description = snap.indicator
    status = {"indicator": indicator, "description": description}
    comps = components(snap)

    def incidents(items: list[IncidentView]) -> list[dict[str, Any]]:
        return [incident(i, snap, settings) for i in items]

    unresolved = incidents(snap.active_incidents)
    upcoming = incidents(snap.upcoming)
    active = incidents(snap.active_maintenance)
    return {
        "summary.json": {
            "page": page,
            "components": comps,
            "incidents": unresolved,
            "scheduled_maintenances": active + upcoming,
            "status": status,
        },
        "status.json": {"page": page, "status": status},
        "components.json": {"page": page, "components": comps},
        "incidents.json": {
            "page": page,
            "incidents": incidents(snap.incidents[:INCIDENT_LIMIT]),
        },
        "incidents/unresolved.json": {"page": page, "incidents": unresolved},
        "scheduled-maintenances.json": {
            "page": page,
            "scheduled_maintenances": incidents(snap.maintenances[:INCIDENT_LIMIT]),
        },
        "scheduled-maintenances/upcoming.json": {
            "page": page,
            "scheduled_maintenances": upcoming,
        },
        "scheduled-maintenances/active.json": {"page": page, "scheduled_maintenances": active},
    }


def encode(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
