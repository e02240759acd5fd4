"""Availability against hand-computed cases, on both databases; windows as properties."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from amends.availability import service
from amends.availability.importer import import_outages
from amends.availability.service import Rules
from amends.availability.windows import Span, merge, percent_up, subtract, weighted_micros
from amends.catalog import service as catalog_service
from amends.errors import ImportRejected, ValidationFailed
from amends.incidents import service as incidents
from amends.incidents.models import ComponentStatus
from tests import factories

UTC = dt.UTC
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=UTC)
NOW = dt.datetime(2026, 1, 1, tzinfo=UTC)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.fixture
def catalog(session: Session) -> Session:
    factories.hosting_catalog(session)
    for key in ("dns", "domains", "web-hosting", "email", "website-builder"):
        catalog_service.save_component(session=session, key=key, created_at=LONG_AGO)
    session.commit()
    return session


def outage(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    key: str = "dns",
    status: ComponentStatus = ComponentStatus.major_outage,
) -> None:
    incident = incidents.open_incident(
        session=session, title="outage", components={key: status}, started_at=start, now=start
    )
    incidents.resolve(
        session=session, incident_id=incident.id, message="ok", resolved_at=end, now=end
    )


def month(
    session: Session, key: str, first: dt.datetime, rules: Rules = service.DEFAULT_RULES
) -> Decimal | None:
    end = service.add_months(first, 1)
    return service.availability(
        session=session, component=key, start=first, end=end, now=NOW, rules=rules
    ).percent


def test_overlapping_windows_count_once(catalog: Session) -> None:
    # 17:00-22:00 and 21:00-23:00 merge to 360 min of September's 43,200 (research §2.2)
    outage(catalog, at(2012, 9, 10, 17), at(2012, 9, 10, 22))
    outage(catalog, at(2012, 9, 10, 21), at(2012, 9, 10, 23))
    result = service.availability(
        session=catalog, component="dns", start=at(2012, 9, 1), end=at(2012, 10, 1), now=NOW
    )
    assert result.down_seconds == 360 * 60
    assert result.percent == Decimal(100) * (1 - Decimal(360) / Decimal(43_200))
    assert str(result.percent)[:7] == "99.1666"


def test_failures_spread_to_dependents_but_not_upstream(catalog: Session) -> None:
    outage(catalog, at(2012, 9, 10, 17), at(2012, 9, 10, 23))
    assert month(catalog, "website-builder", at(2012, 9, 1)) == month(
        catalog, "dns", at(2012, 9, 1)
    )
    assert month(catalog, "domains", at(2012, 9, 1)) == 100
    outage(catalog, at(2012, 9, 20, 0), at(2012, 9, 20, 6), key="web-hosting")
    assert month(catalog, "dns", at(2012, 9, 1)) > month(catalog, "web-hosting", at(2012, 9, 1))  # type: ignore[operator]


def test_maintenance_excluded_counted_or_shrunk(catalog: Session, tmp_path: Path) -> None:
    outage(catalog, at(2012, 9, 10, 17), at(2012, 9, 10, 23))
    path = factories.write_text(
        tmp_path / "o.csv",
        "component,starts_at,ends_at,impact\n"
        "dns,2012-09-10T22:30:00+00:00,2012-09-10T23:30:00+00:00,maintenance\n",
    )
    import_outages(session=catalog, path=path)
    excluded = service.availability(
        session=catalog, component="dns", start=at(2012, 9, 1), end=at(2012, 10, 1), now=NOW
    )
    assert excluded.down_seconds == 330 * 60
    counted = month(catalog, "dns", at(2012, 9, 1), Rules(maintenance="count"))
    assert counted == Decimal(100) * (1 - Decimal(390) / Decimal(43_200))
    shrunk = month(catalog, "dns", at(2012, 9, 1), Rules(maintenance="shrink"))
    assert shrunk == Decimal(100) * (1 - Decimal(330) / Decimal(43_200 - 60))


def test_month_boundaries_and_leap_february(catalog: Session) -> None:
    outage(catalog, at(2024, 2, 29, 22), at(2024, 3, 1, 2))  # 2 h in each month
    feb = month(catalog, "dns", at(2024, 2, 1))
    mar = month(catalog, "dns", at(2024, 3, 1))
    assert feb == Decimal(100) * (1 - Decimal(120) / Decimal(41_760))  # 29 days
    assert mar == Decimal(100) * (1 - Decimal(120) / Decimal(44_640))  # 31 days
    days = service.series(
        session=catalog,
        component="dns",
        start=at(2024, 2, 28),
        end=at(2024, 3, 2),
        by="day",
        now=NOW,
    )
    assert [d.down_seconds for d in days] == [0, 7200, 7200]


def test_component_created_mid_month_is_measured_from_its_creation(catalog: Session) -> None:
    catalog_service.save_component(session=catalog, key="dns", created_at=at(2012, 9, 16))
    outage(catalog, at(2012, 9, 20, 0), at(2012, 9, 20, 6))
    assert month(catalog, "dns", at(2012, 9, 1)) == Decimal(100) * (
        1 - Decimal(6) / Decimal(15 * 24)
    )
    assert month(catalog, "dns", at(2012, 8, 1)) is None  # before it existed: nothing to say


def test_partial_and_degraded_weights(catalog: Session) -> None:
    outage(catalog, at(2012, 9, 10, 0), at(2012, 9, 10, 4), status=ComponentStatus.partial_outage)
    outage(
        catalog, at(2012, 9, 11, 0), at(2012, 9, 11, 4), status=ComponentStatus.degraded_performance
    )
    day = service.availability(
        session=catalog, component="dns", start=at(2012, 9, 10), end=at(2012, 9, 11), now=NOW
    )
    assert day.down_seconds == 2 * 3600
    heavy = Rules(
        weights={
            "major_outage": Decimal(1),
            "partial_outage": Decimal(1),
            "degraded_performance": Decimal("0.25"),
        }
    )
    week = service.availability(
        session=catalog,
        component="dns",
        start=at(2012, 9, 10),
        end=at(2012, 9, 12),
        now=NOW,
        rules=heavy,
    )
    assert week.down_seconds == 4 * 3600 + 3600


def test_an_open_incident_counts_until_now_and_not_beyond(catalog: Session) -> None:
    incidents.open_incident(
        session=catalog, title="x", components={"dns": ComponentStatus.major_outage},
        started_at=at(2012, 9, 10, 0), now=at(2012, 9, 10, 0),
    )  # fmt: skip
    result = service.availability(
        session=catalog,
        component="dns",
        start=at(2012, 9, 10),
        end=at(2012, 9, 11),
        now=at(2012, 9, 10, 6),
    )
    assert result.measured_seconds == 6 * 3600
    assert result.percent == 0


def test_track_record_is_truncated_and_only_with_enough_history(catalog: Session) -> None:
    outage(catalog, at(2025, 6, 1, 0), at(2025, 6, 1, 0, 30))  # 30 min in a year → 99.9942…
    en = service.track_record(session=catalog, component="dns", locale="en", now=NOW)
    es = service.track_record(session=catalog, component="dns", locale="es", now=NOW)
    assert en is not None and es is not None
    assert en.percent == Decimal("99.99")
    assert en.sentence == "99.99% availability over the last 12 months"
    assert es.sentence == "99,99\xa0% de disponibilidad en los últimos 12 meses"
    three = service.track_record(session=catalog, component="dns", locale="en", now=NOW, decimals=3)
    assert three is not None and three.percent == Decimal("99.994")  # 99.9943 truncated, not 99.995
    catalog_service.save_component(session=catalog, key="dns", created_at=at(2025, 3, 1))
    assert service.track_record(session=catalog, component="dns", locale="en", now=NOW) is None


def test_track_record_never_rounds_up_to_a_perfect_score(catalog: Session) -> None:
    outage(catalog, at(2025, 6, 1, 0), at(2025, 6, 1, 0, 0, 5))  # 5 s → 99.99998 %
    record = service.track_record(
        session=catalog, component="dns", locale="en", now=NOW, decimals=3
    )
    assert record is not None and record.percent == Decimal("99.999")
    assert "100" not in record.sentence


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2012-09-10", at(2012, 9, 10), at(2012, 9, 11)),
        ("2012-12", at(2012, 12, 1), at(2013, 1, 1)),
        ("90d", NOW - dt.timedelta(days=90), NOW),
        ("12m", at(2025, 1, 1), NOW),
    ],
)
def test_periods(text: str, start: dt.datetime, end: dt.datetime) -> None:
    assert service.parse_period(text, NOW) == (start, end)


@pytest.mark.parametrize("text", ["2012-13", "yesterday", "2012-02-30", ""])
def test_bad_periods_are_named(text: str) -> None:
    with pytest.raises(ValidationFailed, match="period"):
        service.parse_period(text, NOW)


def test_outage_import_is_atomic_names_line_and_field_and_reimport_is_a_no_op(
    catalog: Session, tmp_path: Path
) -> None:
    good = (
        "component,starts_at,ends_at,impact,source\n"
        "dns,2012-09-10T17:25:00+00:00,2012-09-10T23:25:00+00:00,,pingdom\n"
    )
    path = factories.write_text(tmp_path / "good.csv", good)
    assert import_outages(session=catalog, path=path).added == 1
    again = import_outages(session=catalog, path=path)
    assert (again.added, again.unchanged) == (0, 1)
    bad = good + "nope,2012-09-10T17:25:00+00:00,2012-09-10T18:00:00,major_outage,\n"
    path = factories.write_text(tmp_path / "bad.csv", bad)
    with pytest.raises(ImportRejected) as caught:
        import_outages(session=catalog, path=path)
    text = str(caught.value)
    assert "bad.csv line 3, field component: no component 'nope'" in text
    assert [p.field for p in caught.value.problems] == ["component", "ends_at"]
    jsonl = factories.write_text(
        tmp_path / "w.jsonl",
        '{"component": "email", "starts_at": "2012-09-11T00:00:00+00:00", '
        '"ends_at": "2012-09-11T01:00:00+00:00", "impact": "partial_outage"}\n'
        '{"component": "email", "starts_at": "2012-09-11T03:00:00+00:00", '
        '"ends_at": "2012-09-11T02:00:00+00:00"}\n',
    )
    with pytest.raises(ImportRejected, match="line 2, field ends_at: must be after starts_at"):
        import_outages(session=catalog, path=jsonl)
    result = import_outages(session=catalog, path=jsonl, skip_invalid=True)
    assert (result.added, result.skipped) == (1, 1)
    day = service.availability(
        session=catalog, component="email", start=at(2012, 9, 11), end=at(2012, 9, 12), now=NOW
    )
    assert day.down_seconds == 1800


# -- properties -----------------------------------------------------------------

BASE = at(2012, 9, 1)
spans = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.integers(1, 3_000),
        st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]),
    ).map(
        lambda t: Span(
            BASE + dt.timedelta(minutes=t[0]), BASE + dt.timedelta(minutes=t[0] + t[1]), t[2]
        )
    ),
    max_size=25,
)


@given(spans, st.randoms(use_true_random=False))
def test_merge_is_order_independent(windows: list[Span], rng: object) -> None:
    shuffled = list(windows)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert merge(shuffled) == merge(windows)
    merged = merge(windows)
    assert all(a.end <= b.start for a, b in itertools.pairwise(merged))
    assert merge(merged) == merged


@given(spans, spans)
def test_availability_stays_between_0_and_100(windows: list[Span], excluded: list[Span]) -> None:
    total = 14_000 * 60 * 1_000_000
    down = weighted_micros(subtract(windows, excluded))
    value = percent_up(down, total)
    assert value is not None and 0 <= value <= 100
    assert weighted_micros(merge(windows)) <= sum((Decimal(s.micros) for s in windows), Decimal(0))
