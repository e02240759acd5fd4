"""The rules of an incident's life: which status may follow which, and which
component statuses count as "failing".

Kept apart from the service so the rules read as a table.
"""

from __future__ import annotations

from amends.incidents.models import ComponentStatus, Impact, IncidentKind, IncidentStatus

S = IncidentStatus

#: Incidents move forward; a fix that did not hold may send ``monitoring``
#: back to ``identified`` or ``investigating``. Nothing follows ``resolved``.
INCIDENT_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.investigating: frozenset({S.investigating, S.identified, S.monitoring, S.resolved}),
    S.identified: frozenset({S.identified, S.monitoring, S.resolved}),
    S.monitoring: frozenset({S.monitoring, S.identified, S.investigating, S.resolved}),
    S.resolved: frozenset(),
}

#: Maintenance: planned, then done (or called off before it starts).
MAINTENANCE_TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.scheduled: frozenset({S.scheduled, S.in_progress, S.cancelled}),
    S.in_progress: frozenset({S.in_progress, S.verifying, S.completed}),
    S.verifying: frozenset({S.verifying, S.in_progress, S.completed}),
    S.completed: frozenset(),
    S.cancelled: frozenset(),
}

#: Statuses that close an incident or a maintenance window.
CLOSING = frozenset({S.resolved, S.completed, S.cancelled})

#: Statuses in which a component is not fully serving its users.
FAILING = frozenset(
    {
        ComponentStatus.degraded_performance,
        ComponentStatus.partial_outage,
        ComponentStatus.major_outage,
        ComponentStatus.under_maintenance,
    }
)

#: Worst first; used to pick a component's status when incidents overlap.
SEVERITY = [
    ComponentStatus.major_outage,
    ComponentStatus.partial_outage,
    ComponentStatus.degraded_performance,
    ComponentStatus.under_maintenance,
    ComponentStatus.operational,
]


def transitions(kind: IncidentKind) -> dict[IncidentStatus, frozenset[IncidentStatus]]:
    return INCIDENT_TRANSITIONS if kind is IncidentKind.incident else MAINTENANCE_TRANSITIONS


def may_follow(kind: IncidentKind, current: IncidentStatus, new: IncidentStatus) -> bool:
    return new in transitions(kind).get(current, frozenset())


def worst(statuses: list[ComponentStatus]) -> ComponentStatus:
    return min(statuses, key=SEVERITY.index, default=ComponentStatus.operational)


def impact_from(statuses: list[ComponentStatus]) -> Impact:
    """Statuspage's convention: the worst component status sets the impact."""
    worst_status = worst(statuses)
    return {
        ComponentStatus.major_outage: Impact.critical,
        ComponentStatus.partial_outage: Impact.major,
        ComponentStatus.degraded_performance: Impact.minor,
        ComponentStatus.under_maintenance: Impact.maintenance,
        ComponentStatus.operational: Impact.none,
    }[worst_status]
