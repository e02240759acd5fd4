"""The status page's view of the world: components, incidents, maintenance.

``snapshot`` reads catalog and incidents once and returns plain dataclasses
that every output (HTML, Statuspage JSON, feeds, badges, the static export)
renders from. It reads components and incidents only — never customers,
sites or subscribers — so personal data cannot reach a public page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from amends.availability import service as availability
from amends.catalog import service as catalog_service
from amends.catalog.models import Component
from amends.config import Settings, StatusPageSpec
from amends.db import utcnow
from amends.errors import NotFound, ValidationFailed
from amends.incidents import cadence, cadence_policy, lifecycle
from amends.incidents import service as incident_service
from amends.incidents.models import (
    ComponentStatus,
    ComponentStatusChange,
    Impact,
    Incident,
    IncidentKind,
    IncidentStatus,
    IncidentUpdate,
)
from amends.statuspage import uptime
from amends.statuspage.models import Postmortem

DEFAULT_SLUG = ""

#: Worst component status → Statuspage's page indicator and its description.
INDICATOR: dict[ComponentStatus, tuple[str, str]] = {
    ComponentStatus.major_outage: ("critical", "Major System Outage"),
    ComponentStatus.partial_outage: ("major", "Partial System Outage"),
    ComponentStatus.degraded_performance: ("minor", "Minor Service Outage"),
    ComponentStatus.under_maintenance: ("maintenance", "Service Under Maintenance"),
    ComponentStatus.operational: ("none", "All Systems Operational"),
}


@dataclass
class ComponentView:
    id: int
    key: str
    name: str
    group: str | None
    description: str
    position: int
    created_at: dt.datetime
    updated_at: dt.datetime
    status: ComponentStatus
    bars: list[uptime.DayBar]
    availability: float


@dataclass
class UpdateView:
    id: int
    status: IncidentStatus
    body: str
    at: dt.datetime
    created_at: dt.datetime
    affected: list[tuple[str, str, ComponentStatus]]  # key, name, new status


@dataclass
class IncidentView:
    id: int
    kind: IncidentKind
    name: str
    status: IncidentStatus
    impact: Impact
    started_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    monitoring_at: dt.datetime | None
    resolved_at: dt.datetime | None
    scheduled_for: dt.datetime | None
    scheduled_until: dt.datetime | None
    component_keys: list[str]
    updates: list[UpdateView]  # newest first
    postmortem: str | None = None
    postmortem_at: dt.datetime | None = None
    next_update_by: dt.datetime | None = None  # what the cadence promises while open

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def public_status(self) -> str:
        """Statuspage's status: a resolved incident with a postmortem says so."""
        if self.kind is IncidentKind.incident and self.postmortem and not self.is_open:
            return "postmortem"
        if self.status is IncidentStatus.cancelled:
            return "completed"
        return self.status.value


@dataclass
class Group:
    name: str | None
    components: list[ComponentView]

    @property
    def status(self) -> ComponentStatus:
        return lifecycle.worst([c.status for c in self.components])


@dataclass
class Snapshot:
    """One public page's content at one moment."""

    slug: str
    name: str
    now: dt.datetime
    updated_at: dt.datetime
    components: list[ComponentView]
    incidents: list[IncidentView]  # kind incident, newest first
    maintenances: list[IncidentView]  # newest scheduled first
    days: int
    groups: list[Group] = field(default_factory=list)

    @property
    def worst(self) -> ComponentStatus:
        return lifecycle.worst([c.status for c in self.components])

    @property
    def indicator(self) -> tuple[str, str]:
        return INDICATOR[self.worst]

    @property
    def active_incidents(self) -> list[IncidentView]:
        return [i for i in self.incidents if i.is_open]

    @property
    def upcoming(self) -> list[IncidentView]:
        return [m for m in self.maintenances if m.status is IncidentStatus.scheduled]

    @property
    def active_maintenance(self) -> list[IncidentView]:
        running = (IncidentStatus.in_progress, IncidentStatus.verifying)
        return [m for m in self.maintenances if m.status in running]

    def incident(self, incident_id: int) -> IncidentView | None:
        for item in self.incidents + self.maintenances:
            if item.id == incident_id:
                return item
        return None


def pages(settings: Settings) -> list[StatusPageSpec | None]:
    """The default page (None: every component) and the configured extra pages."""
    return [None, *settings.statuspage_pages]


def change_token(*, session: Session, now: dt.datetime | None = None) -> str:
    """Changes whenever anything the pages show may have changed: cheap enough
    to ask once a second under a stampede (aggregates over indexed tables)."""
    now = now or utcnow()
    parts = session.execute(
        select(
            select(func.count(Incident.id)).scalar_subquery(),
            select(func.max(Incident.updated_at)).scalar_subquery(),
            select(func.count(IncidentUpdate.id)).scalar_subquery(),
            select(func.max(IncidentUpdate.id)).scalar_subquery(),
            select(func.max(ComponentStatusChange.id)).scalar_subquery(),
            select(func.count(Postmortem.incident_id)).scalar_subquery(),
            select(func.max(Postmortem.updated_at)).scalar_subquery(),
        )
    ).one()
    components = session.execute(
        select(
            Component.key,
            Component.name,
            Component.group_name,
            Component.description,
            Component.position,
        ).order_by(Component.id)
    ).all()
    digest = hashlib.sha256(repr((tuple(parts), components, now.date())).encode())
    return digest.hexdigest()[:20]


def publish_postmortem(
    *, session: Session, incident_id: int, body: str, now: dt.datetime | None = None
) -> Postmortem:
    """Attach (or replace) the public postmortem of a resolved incident."""
    now = now or utcnow()
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}", field="incident")
    if incident.kind is not IncidentKind.incident or incident.resolved_at is None:
        raise ValidationFailed(
            "a postmortem is published for a resolved incident", field="incident"
        )
    if not body.strip():
        raise ValidationFailed("the postmortem is empty", field="body")
    postmortem = session.get(Postmortem, incident_id)
    if postmortem is None:
        postmortem = Postmortem(incident_id=incident_id, body=body, published_at=now)
        session.add(postmortem)
    postmortem.body = body
    postmortem.updated_at = now
    session.flush()
    return postmortem


def snapshot(
    *,
    session: Session,
    settings: Settings,
    page: StatusPageSpec | None = None,
    now: dt.datetime | None = None,
) -> Snapshot:
    """Everything one public page shows, read in a handful of queries."""
    now = now or utcnow()
    days = settings.statuspage_history_days
    all_components = list(catalog_service.list_components(session=session))
    if page is not None:
        wanted = set(page.components)
        all_components = [c for c in all_components if c.key in wanted]
    ids = {c.id for c in all_components}
    statuses = _statuses(session)
    since = uptime._midnight(now.date() - dt.timedelta(days=days - 1))
    bars = uptime.daily_bars(
        uptime.intervals(session=session, since=since, now=now), ids, days=days, now=now
    )
    _measured(session, settings, all_components, bars, since=since, now=now)
    last_change = dict(
        session.execute(
            select(ComponentStatusChange.component_id, func.max(ComponentStatusChange.at))
            .where(ComponentStatusChange.at <= now)
            .group_by(ComponentStatusChange.component_id)
        ).all()
    )
    components = [
        ComponentView(
            id=c.id,
            key=c.key,
            name=c.name,
            group=c.group_name,
            description=c.description,
            position=c.position,
            created_at=c.created_at,
            updated_at=max(c.created_at, last_change.get(c.id) or c.created_at),
            status=statuses.get(c.id, ComponentStatus.operational),
            bars=bars[c.id],
            availability=uptime.overall(bars[c.id]),
        )
        for c in sorted(all_components, key=lambda c: (c.position, c.name, c.id))
    ]
    keys = {c.key for c in components}
    postmortems = {p.incident_id: p for p in session.scalars(select(Postmortem)).all()}
    incidents: list[IncidentView] = []
    maintenances: list[IncidentView] = []
    rows = session.scalars(
        select(Incident).order_by(Incident.started_at.desc(), Incident.id.desc())
    ).all()
    policies = cadence_policy.policies_of(
        session=session, incident_ids=[r.id for r in rows if r.resolved_at is None]
    )
    for row in rows:
        view = _incident_view(row, postmortems.get(row.id), policies.get(row.id))
        if page is not None and not keys.intersection(view.component_keys):
            continue
        (incidents if row.kind is IncidentKind.incident else maintenances).append(view)
    maintenances.sort(key=lambda m: (m.scheduled_for or m.started_at, m.id), reverse=True)
    stamps = [c.updated_at for c in components] + [i.updated_at for i in incidents + maintenances]
    result = Snapshot(
        slug=page.slug if page else DEFAULT_SLUG,
        name=page.name if page else settings.statuspage_name,
        now=now,
        updated_at=max(stamps, default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)),
        components=components,
        incidents=incidents,
        maintenances=maintenances,
        days=days,
    )
    result.groups = _groups(components)
    return result


def _statuses(session: Session) -> dict[int, ComponentStatus]:
    by_key = {c.key: c.id for c in catalog_service.list_components(session=session)}
    return {
        by_key[key]: status
        for key, status in incident_service.component_statuses(session=session).items()
    }


def _groups(components: list[ComponentView]) -> list[Group]:
    groups: dict[str | None, Group] = {}
    for component in components:
        groups.setdefault(component.group, Group(component.group, [])).components.append(component)
    return list(groups.values())


def _incident_view(
    row: Incident, postmortem: Postmortem | None, policy: cadence.CadencePolicy | None = None
) -> IncidentView:
    updates = [u for u in row.updates if u.customer_facing]
    monitoring = [u.at for u in updates if u.status is IncidentStatus.monitoring]
    return IncidentView(
        id=row.id,
        kind=row.kind,
        name=row.title,
        status=row.status,
        impact=row.impact,
        started_at=row.started_at,
        created_at=row.created_at,
        updated_at=max([row.updated_at] + ([postmortem.updated_at] if postmortem else [])),
        monitoring_at=monitoring[0] if monitoring else None,
        resolved_at=row.resolved_at,
        scheduled_for=row.scheduled_for,
        scheduled_until=row.scheduled_until,
        component_keys=[link.component.key for link in row.components],
        updates=[
            UpdateView(
                id=u.id,
                status=u.status,
                body=u.message,
                at=u.at,
                created_at=u.created_at,
                affected=[(c.component.key, c.component.name, c.status) for c in u.changes],
            )
            for u in reversed(updates)
        ],
        postmortem=postmortem.body if postmortem else None,
        postmortem_at=postmortem.published_at if postmortem else None,
        next_update_by=_next_update_by(row, policy or cadence.CadencePolicy()),
    )


def _next_update_by(row: Incident, policy: cadence.CadencePolicy) -> dt.datetime | None:
    """When the incident's cadence (default: every 30 minutes until resolved)
    owes the next word on an open incident. It depends only on the timeline and
    the policy, not on the clock, so cached and exported pages stay true until
    the next change (a policy change moves the incident's ``updated_at``)."""
    if row.kind is not IncidentKind.incident or row.resolved_at is not None:
        return None
    owed = cadence.what_is_due(
        opened_at=row.started_at,
        resolved_at=None,
        sent=cadence.sent_from_timeline(row),
        now=row.started_at,
        policy=policy,
    )
    words = (cadence.Notice.first_notice, cadence.Notice.update)
    updates = [d.due_at for d in owed if d.notice in words]
    return min(updates, default=None)


def _measured(
    session: Session,
    settings: Settings,
    components: list[Component],
    bars: dict[int, list[uptime.DayBar]],
    *,
    since: dt.datetime,
    now: dt.datetime,
) -> None:
    """Each day's figure from :mod:`amends.availability`, the same measure the
    credits and the apology's track record rest on: a component is down while
    something it depends on is down, even if no incident named it."""
    rules = availability.rules_from(settings)
    for component in components:
        days = availability.series(
            session=session, component=component.key, start=since, end=now, by="day",
            now=now, rules=rules,
        )  # fmt: skip
        for bar, day in zip(bars[component.id], days, strict=False):
            if day.percent is not None:
                bar.availability = float(day.percent) / 100
