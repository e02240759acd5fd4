import csv
import datetime as dt
import io
import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from amends import impact
from amends.catalog import service as catalog_service
from amends.catalog.models import SiteState
from amends.impact import export as impact_export
from amends.impact import summary as impact_summary
from amends.incidents import service
from amends.incidents.models import ComponentStatus, IncidentStatus
from tests.factories import T0, customer, hosting_catalog, site

C = ComponentStatus
H = dt.timedelta(hours=1)


@pytest.fixture
def catalog(session: Session) -> Session:
    hosting_catalog(session)
    return session


def dns_outage(session: Session, hours: int = 6) -> int:
    incident = service.open_incident(
        session=session, title="DNS", components={"dns": C.major_outage}, started_at=T0, now=T0
    )
    service.resolve(
        session=session,
        incident_id=incident.id,
        message="ok",
        resolved_at=T0 + hours * H,
        now=T0 + hours * H,
    )
    return incident.id


def affected_site_ids(session: Session, incident_id: int) -> set[int]:
    incident = service.get_incident(session=session, incident_id=incident_id)
    windows = impact.failure_windows(session=session, incident=incident)
    return {row.site_id for row in session.execute(impact.affected_sites(windows))}


def test_dependency_closure_follows_dependents_transitively(catalog: Session) -> None:
    ids = {c.key: c.id for c in catalog_service.list_components(session=catalog)}
    closure = catalog_service.dependency_closure(session=catalog, component_ids=[ids["dns"]])
    assert closure == {ids["dns"], ids["web-hosting"], ids["email"], ids["website-builder"]}
    hosting = catalog_service.dependency_closure(
        session=catalog, component_ids=[ids["web-hosting"]]
    )
    assert hosting == {ids["web-hosting"], ids["website-builder"]}


def test_dependency_cycles_are_refused(catalog: Session) -> None:
    from amends.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="cycle"):
        catalog_service.save_component(session=catalog, key="dns", depends_on=["website-builder"])


def test_sites_on_a_dependent_component_are_hit_and_others_are_not(catalog: Session) -> None:
    ana = customer(catalog)
    on_builder = site(catalog, ana, ["website-builder"])
    on_email = site(catalog, ana, ["email"])
    domain_only = site(catalog, ana, ["domains"])
    hit = affected_site_ids(catalog, dns_outage(catalog))
    assert on_builder.id in hit and on_email.id in hit
    assert domain_only.id not in hit


def test_impact_windows(catalog: Session) -> None:
    ana = customer(catalog)
    cancelled_before = site(catalog, ana, ["dns"], state=SiteState.cancelled, ended=T0 - H)
    cancelled_during = site(catalog, ana, ["dns"], state=SiteState.cancelled, ended=T0 + H)
    created_during = site(catalog, ana, ["dns"], started=T0 + 2 * H)
    created_after = site(catalog, ana, ["dns"], started=T0 + 7 * H)
    suspended = site(catalog, ana, ["dns"], state=SiteState.suspended)
    published = site(catalog, ana, ["dns"], state=SiteState.published)
    hit = affected_site_ids(catalog, dns_outage(catalog))
    assert cancelled_during.id in hit
    assert created_during.id in hit
    assert published.id in hit
    assert cancelled_before.id not in hit
    assert created_after.id not in hit
    assert suspended.id not in hit


def test_window_follows_each_component_history(catalog: Session) -> None:
    ana = customer(catalog)
    mail_site = site(catalog, ana, ["email"], started=T0 + 3 * H)
    incident = service.open_incident(
        session=catalog,
        title="mail",
        components={"email": C.partial_outage},
        started_at=T0,
        now=T0,
    )
    service.post_update(
        session=catalog,
        incident_id=incident.id,
        status=IncidentStatus.monitoring,
        message="mail back",
        components={"email": C.operational},
        at=T0 + 2 * H,
        now=T0 + 2 * H,
    )
    # e-mail recovered before the site existed: it was not hit, though the incident is open.
    assert mail_site.id not in affected_site_ids(catalog, incident.id)


@pytest.mark.parametrize("mask_bits", [62, 1, 2], ids=["one mask", "a mask each", "two a mask"])
def test_summary_counts_by_component_tier_locale_and_channel(
    catalog: Session, mask_bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts by component are decoded from per-site masks; however many
    components share a mask column, the counts are the same."""
    monkeypatch.setattr(impact_summary, "MASK_BITS", mask_bits)
    es = customer(
        catalog, locale="es", tier="gold", phone="+34612345678", channels="email;sms", opt_out="sms"
    )
    en = customer(catalog, locale="en", tier="standard")
    nobody = customer(catalog, locale="en", tier="standard", email=None, channels="")
    for owner in (es, es, en, nobody):
        site(catalog, owner, ["web-hosting", "email"])
    site(catalog, en, ["domains"])
    site(catalog, nobody, ["dns", "website-builder"])
    incident_id = dns_outage(catalog)
    incident = service.get_incident(session=catalog, incident_id=incident_id)
    summary = impact_summary.summarize(session=catalog, incident=incident)
    assert summary.sites == 5
    assert summary.customers == 3
    assert summary.by_component == {"dns": 1, "email": 4, "web-hosting": 4, "website-builder": 1}
    assert summary.by_tier == {"gold": 1, "standard": 2}
    assert summary.by_locale == {"en": 2, "es": 1}
    assert summary.by_channel == {"email": 2, "sms": 0, "voice": 0, "unreachable": 1}
    assert summary.window_start == T0 and summary.window_end == T0 + 6 * H
    assert not summary.ongoing
    if catalog.get_bind().dialect.name == "postgresql":  # the merge-join plan was local
        for method in ("hashjoin", "hashagg"):
            assert catalog.scalar(text(f"SHOW enable_{method}")) == "on"


def test_export_lists_each_affected_site_once_with_its_failed_components(
    catalog: Session,
) -> None:
    ana = customer(catalog, name="Ana Núñez")
    both = site(catalog, ana, ["web-hosting", "email", "domains"])
    site(catalog, ana, ["domains"])
    incident = service.get_incident(session=catalog, incident_id=dns_outage(catalog))
    out = io.StringIO()
    assert impact_export.export(session=catalog, incident=incident, out=out, fmt="csv") == 1
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["site_external_id"], r["customer_name"], r["components"]) for r in rows] == [
        (both.external_id, "Ana Núñez", "email;web-hosting")
    ]
    out = io.StringIO()
    impact_export.export(session=catalog, incident=incident, out=out, fmt="jsonl")
    assert json.loads(out.getvalue())["components"] == "email;web-hosting"


def test_scheduled_maintenance_impact_is_its_planned_window(catalog: Session) -> None:
    ana = customer(catalog)
    dns_site = site(catalog, ana, ["dns"], started=T0)
    later_site = site(catalog, ana, ["dns"], started=T0 + 30 * H)
    maintenance = service.schedule_maintenance(
        session=catalog,
        title="upgrade",
        components=["dns"],
        starts_at=T0 + 24 * H,
        ends_at=T0 + 26 * H,
        now=T0,
    )
    hit = affected_site_ids(catalog, maintenance.id)
    assert dns_site.id in hit and later_site.id not in hit


def test_affected_select_feeds_a_set_based_insert(catalog: Session) -> None:
    """What downstream code does with it: INSERT ... SELECT, no Python loop."""
    from amends.catalog.models import Site

    ana = customer(catalog)
    expected = {site(catalog, ana, ["dns"]).id for _ in range(3)}
    incident = service.get_incident(session=catalog, incident_id=dns_outage(catalog))
    windows = impact.failure_windows(session=catalog, incident=incident)
    subquery = impact.affected_sites(windows).subquery()
    found = set(catalog.scalars(select(Site.id).join(subquery, subquery.c.site_id == Site.id)))
    assert found == expected
