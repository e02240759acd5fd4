import datetime as dt

import pytest
from sqlalchemy.orm import Session

from amends.errors import InvalidTime, InvalidTransition, NotFound, ValidationFailed
from amends.incidents import service
from amends.incidents.models import ComponentStatus, Impact, IncidentStatus
from tests.factories import T0, hosting_catalog

S = IncidentStatus
C = ComponentStatus
NOW = T0 + dt.timedelta(hours=8)


@pytest.fixture
def catalog(session: Session) -> Session:
    hosting_catalog(session)
    return session


def open_dns(session: Session, **kw: object) -> int:
    incident = service.open_incident(
        session=session,
        title="DNS outage",
        components={"dns": C.major_outage},
        started_at=T0,
        now=T0,
        **kw,  # type: ignore[arg-type]
    )
    return incident.id


def test_open_records_start_impact_and_first_timeline_entry(catalog: Session) -> None:
    incident = service.get_incident(session=catalog, incident_id=open_dns(catalog))
    assert incident.status is S.investigating
    assert incident.impact is Impact.critical
    assert incident.started_at == T0
    assert [u.status for u in incident.updates] == [S.investigating]
    changes = service.status_changes(session=catalog, incident_id=incident.id)
    assert [(c.component.key, c.status, c.at) for c in changes] == [("dns", C.major_outage, T0)]


def test_start_time_given_with_an_offset_is_stored_in_utc(catalog: Session) -> None:
    madrid = dt.timezone(dt.timedelta(hours=2))
    incident = service.open_incident(
        session=catalog,
        title="DNS",
        components={"dns": C.partial_outage},
        started_at=dt.datetime(2012, 9, 10, 19, 25, tzinfo=madrid),
        now=NOW,
    )
    catalog.commit()
    catalog.expire_all()
    stored = service.get_incident(session=catalog, incident_id=incident.id)
    assert stored.started_at == T0
    assert stored.started_at.tzinfo == dt.UTC


def test_full_lifecycle_builds_a_timeline(catalog: Session) -> None:
    incident_id = open_dns(catalog)
    service.post_update(
        session=catalog,
        incident_id=incident_id,
        status=S.identified,
        message="Corrupted router data tables",
        components={"email": C.partial_outage},
        at=T0 + dt.timedelta(hours=1),
        now=NOW,
    )
    service.post_update(
        session=catalog,
        incident_id=incident_id,
        status=S.monitoring,
        message="Fix applied",
        components={"dns": C.degraded_performance},
        at=T0 + dt.timedelta(hours=5),
        now=NOW,
    )
    service.resolve(
        session=catalog,
        incident_id=incident_id,
        message="Restored",
        resolved_at=T0 + dt.timedelta(hours=6),
        now=NOW,
    )
    incident = service.get_incident(session=catalog, incident_id=incident_id)
    assert [u.status for u in incident.updates] == [
        S.investigating,
        S.identified,
        S.monitoring,
        S.resolved,
    ]
    assert incident.resolved_at == T0 + dt.timedelta(hours=6)
    assert all(link.status is C.operational for link in incident.components)
    history = [
        (c.component.key, c.status)
        for c in service.status_changes(session=catalog, incident_id=incident_id)
    ]
    assert history == [
        ("dns", C.major_outage),
        ("email", C.partial_outage),
        ("dns", C.degraded_performance),
        ("dns", C.operational),
        ("email", C.operational),
    ]
    assert service.component_statuses(session=catalog)["dns"] is C.operational


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([S.identified], S.investigating),
        ([S.resolved], S.investigating),
        ([S.resolved], S.resolved),
        ([], S.scheduled),
        ([], S.completed),
    ],
)
def test_invalid_transitions_are_refused(
    catalog: Session, path: list[IncidentStatus], refused: IncidentStatus
) -> None:
    incident_id = open_dns(catalog)
    for step in path:
        service.post_update(
            session=catalog, incident_id=incident_id, status=step, message="step", now=NOW
        )
    with pytest.raises(InvalidTransition):
        service.post_update(
            session=catalog, incident_id=incident_id, status=refused, message="no", now=NOW
        )


def test_monitoring_may_fall_back_when_a_fix_does_not_hold(catalog: Session) -> None:
    incident_id = open_dns(catalog)
    for step in (S.monitoring, S.investigating, S.resolved):
        service.post_update(
            session=catalog, incident_id=incident_id, status=step, message="ok", now=NOW
        )


def test_bad_times_are_refused(catalog: Session) -> None:
    with pytest.raises(InvalidTime, match="future"):
        service.open_incident(
            session=catalog,
            title="x",
            components={"dns": C.major_outage},
            started_at=NOW + dt.timedelta(hours=1),
            now=NOW,
        )
    with pytest.raises(InvalidTime, match="offset"):
        service.open_incident(
            session=catalog,
            title="x",
            components={"dns": C.major_outage},
            started_at=dt.datetime(2012, 9, 10, 17, 0),
            now=NOW,
        )
    incident_id = open_dns(catalog)
    with pytest.raises(InvalidTime, match="before the incident started"):
        service.resolve(
            session=catalog,
            incident_id=incident_id,
            message="done",
            resolved_at=T0 - dt.timedelta(minutes=1),
            now=NOW,
        )
    service.post_update(
        session=catalog,
        incident_id=incident_id,
        status=S.identified,
        message="found",
        at=T0 + dt.timedelta(hours=2),
        now=NOW,
    )
    with pytest.raises(InvalidTime, match="previous update"):
        service.post_update(
            session=catalog,
            incident_id=incident_id,
            status=S.monitoring,
            message="x",
            at=T0 + dt.timedelta(hours=1),
            now=NOW,
        )


def test_unknown_component_and_operational_component_are_refused(catalog: Session) -> None:
    with pytest.raises(NotFound, match="nope"):
        service.open_incident(session=catalog, title="x", components={"nope": C.major_outage})
    with pytest.raises(ValidationFailed, match="operational"):
        service.open_incident(session=catalog, title="x", components={"dns": C.operational})


def test_maintenance_lifecycle(catalog: Session) -> None:
    starts = NOW + dt.timedelta(days=2)
    maintenance = service.schedule_maintenance(
        session=catalog,
        title="Router upgrade",
        components=["dns"],
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        now=NOW,
    )
    assert maintenance.status is S.scheduled
    assert service.component_statuses(session=catalog)["dns"] is C.operational
    with pytest.raises(InvalidTransition):
        service.post_update(
            session=catalog, incident_id=maintenance.id, status=S.identified, message="x", now=NOW
        )
    later = starts + dt.timedelta(minutes=1)
    service.post_update(
        session=catalog,
        incident_id=maintenance.id,
        status=S.in_progress,
        message="started",
        now=later,
    )
    assert service.component_statuses(session=catalog)["dns"] is C.under_maintenance
    service.resolve(
        session=catalog,
        incident_id=maintenance.id,
        message="done",
        now=later + dt.timedelta(hours=1),
    )
    assert maintenance.status is S.completed
    assert service.component_statuses(session=catalog)["dns"] is C.operational
    with pytest.raises(InvalidTime):
        service.schedule_maintenance(
            session=catalog,
            title="bad",
            components=["dns"],
            starts_at=starts,
            ends_at=starts,
        )
