"""Credit policies on worked examples, issuance set-based and idempotent, the ledger's states."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import BigInteger, create_engine, func, literal, select
from sqlalchemy.orm import Session

from amends.credits import policies, preview, service
from amends.credits.issuance import amount_of
from amends.credits.models import Credit, CreditEvent, CreditState
from amends.credits.policies import PPM
from amends.errors import ValidationFailed
from tests.credit_support import ISSUED, T0, World, dns_outage, issue, world


def amounts(session: Session, incident_id: int) -> dict[str, int]:
    from amends.catalog.models import Site

    rows = session.execute(
        select(Site.domain, Credit.amount_minor)
        .join(Site, Site.id == Credit.site_id)
        .where(Credit.incident_id == incident_id)
    )
    return dict(rows.all())


@pytest.fixture
def w(session: Session) -> World:
    return world(session)


def test_godaddy_2012_one_month_per_active_or_published_affected_site(
    session: Session, w: World
) -> None:
    result = issue(session, w.incident, policies.GODADDY_2012)
    session.commit()
    assert result.created == 3
    got = amounts(session, w.incident.id)
    assert got == {w.ana_web.domain: 999, w.ana_mail.domain: 1200, w.bob_web.domain: 2500}
    credit = session.scalars(select(Credit).where(Credit.site_id == w.ana_web.id)).one()
    assert type(credit.amount_minor) is int and credit.currency == "EUR"
    assert credit.state is CreditState.issued and credit.auto_apply
    assert credit.available_at == ISSUED + dt.timedelta(days=7)
    assert credit.expires_at is None
    assert credit.fee_ppm == 1_000_000


def test_issuing_twice_changes_nothing(session: Session, w: World) -> None:
    issue(session, w.incident, policies.GODADDY_2012)
    session.commit()
    before = amounts(session, w.incident.id)
    again = issue(session, w.incident, policies.GODADDY_2012, now=ISSUED + dt.timedelta(days=1))
    session.commit()
    assert again.created == 0
    assert amounts(session, w.incident.id) == before
    # even a different policy cannot add a second credit for the same site
    assert (
        issue(
            session, w.incident, policies.GODADDY_2012.replace("months = 1", "months = 2")
        ).created
        == 0
    )
    assert session.scalar(select(func.count()).select_from(Credit)) == 3


def test_aws_ec2_six_hours_in_a_30_day_month_is_10_percent(session: Session, w: World) -> None:
    # 360 min of 43,200 → 99.1667 % → "<99.99 and ≥99.0" → 10 % of the month's fee
    row = policies.save(session=session, document=policies.AWS_EC2)
    policy = policies.load(row)
    assert policy.tier_percent(Decimal("99.1666")) == 10
    assert policy.tier_percent(Decimal("99.0")) == 10  # half-open: 99.0 is not below 99.0
    assert policy.tier_percent(Decimal("98.99")) == 30
    assert policy.tier_percent(Decimal("99.99")) == 0
    assert policy.tier_percent(Decimal("94.999")) == 100
    seen = preview.preview(
        session=session, incident=w.incident, policy=policy, name="aws-ec2", now=ISSUED
    )
    assert seen.uptime["dns"].startswith("99.1666")
    issue(session, w.incident, policies.AWS_EC2)
    assert amounts(session, w.incident.id) == {
        w.ana_web.domain: 100,  # 99.9 rounded half up
        w.ana_mail.domain: 120,
        w.bob_web.domain: 250,
    }


def test_pro_rata_floor_cap_minimum_and_rounding(session: Session, w: World) -> None:
    base = 'key = "p"\nkind = "pro_rata"\nmultiplier = 10\n'
    # 360/43,200 × 10 = 8.333… % of the fee
    issue(session, w.incident, base + 'rounding = "down"\n')
    assert amounts(session, w.incident.id)[w.ana_mail.domain] == 99  # 1200 × 8.3333 % = 99.99 → 99
    session.rollback()
    issue(session, w.incident, base + 'rounding = "up"\n')
    assert amounts(session, w.incident.id)[w.ana_mail.domain] == 100
    session.rollback()
    issue(session, w.incident, 'key = "p"\nkind = "pro_rata"\ncontract_percent = 5\n')
    assert amounts(session, w.incident.id)[w.ana_mail.domain] == 60  # floor: 5 % of 1200
    session.rollback()
    issue(session, w.incident, 'key = "f"\nkind = "flat"\nmonths = 3\ncap_percent = 150\n')
    assert amounts(session, w.incident.id)[w.ana_mail.domain] == 1800
    session.rollback()
    issue(session, w.incident, 'key = "p"\nkind = "pro_rata"\nminimum_minor = 500\n')
    assert set(amounts(session, w.incident.id).values()) == {500}


def test_eligibility_by_plan_state_and_customer_tier(session: Session, w: World) -> None:
    issue(session, w.incident, 'key = "e"\nkind = "flat"\ncustomer_tiers = ["premium"]\n')
    assert list(amounts(session, w.incident.id)) == [w.bob_web.domain]
    session.rollback()
    issue(session, w.incident, 'key = "e"\nkind = "flat"\nstates = ["published"]\n')
    assert list(amounts(session, w.incident.id)) == [w.ana_mail.domain]
    session.rollback()
    issue(session, w.incident, 'key = "e"\nkind = "flat"\nplans = ["gold"]\n')
    assert amounts(session, w.incident.id) == {}


def test_customers_hit_again_within_90_days_get_the_escalation(session: Session, w: World) -> None:
    issue(session, w.incident, policies.GODADDY_2012)
    later = dns_outage(session, T0 + dt.timedelta(days=30), T0 + dt.timedelta(days=30, hours=1))
    text = policies.GODADDY_2012.replace("months = 1", "months = 1\nescalation_percent = 40")
    issue(session, later, text, now=ISSUED + dt.timedelta(days=31))
    assert amounts(session, later.id)[w.ana_web.domain] == 1399  # 999 × 1.4 = 1398.6 → 1399
    far = dns_outage(session, T0 + dt.timedelta(days=200), T0 + dt.timedelta(days=200, hours=1))
    issue(session, far, text.replace('"godaddy-2012"', '"g2"'), now=ISSUED + dt.timedelta(days=201))
    assert amounts(session, far.id)[w.ana_web.domain] == 999  # the last one was > 90 days before


def test_preview_warns_where_the_research_says_it_backfires(session: Session, w: World) -> None:
    def warned(document: str) -> dict[str, str]:
        policy = policies.parse(document)
        seen = preview.preview(
            session=session, incident=w.incident, policy=policy, name=policy.key, now=ISSUED
        )
        return {x.rule: x.severity for x in seen.warnings}

    good = warned(policies.GODADDY_2012)
    assert good == {}
    assert "C2" in warned(policies.AWS_EC2)  # 10 % for a critical outage: under 60 %
    assert warned('key = "x"\nkind = "flat"\nmonths = 2\n')["C2"] == "warn"  # 200 %: over 150 %
    assert (
        warned('key = "x"\nkind = "pro_rata"\ncontract_percent = 5\nfloor = false\n')["C1"]
        == "block"
    )
    assert (
        warned('key = "x"\nkind = "flat"\nauto_apply = false\nredeem_window_days = 7\n')["C4"]
        == "warn"
    )
    mixed = 'key = "x"\nkind = "flat"\nminimum_minor = 1100\n'  # 999 → 1100 for one site only
    assert warned(mixed)["C3"] == "warn"


def test_preview_counts_by_currency_and_writes_nothing(session: Session, w: World) -> None:
    policy = policies.parse(policies.GODADDY_2012)
    seen = preview.preview(
        session=session, incident=w.incident, policy=policy, name="g", now=ISSUED
    )
    assert seen.credits == 3 and seen.customers == 2
    assert seen.by_currency == {"EUR": {"credits": 3, "amount_minor": 4699, "fees_minor": 4699}}
    assert seen.distribution == [{"share_of_fee": "100 %", "credits": 3}]
    assert len(seen.examples) == 3
    assert session.scalar(select(func.count()).select_from(Credit)) == 0


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ('key = "x"\nkind = "tiered"\n', "policy"),
        ('key = "x"\nkind = "flat"\nmonths = "lots"\n', "months"),
        ('key = "x"\nkind = "flat"\nfree_lunch = true\n', "free_lunch"),
        ('key = "x"\nkind = "flat"\nstates = ["gone"]\n', "states.0"),
        ('key = "x"\nkind = ', "policy"),
    ],
)
def test_bad_policies_name_the_field(document: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        policies.parse(document)
    assert caught.value.field == field


def test_policy_numbers_are_decimal_never_float() -> None:
    policy = policies.parse(policies.AWS_EC2)
    assert all(type(t.below) is Decimal for t in policy.tiers)
    assert policy.tiers[0].below == Decimal("99.99")


def test_policy_versions(session: Session) -> None:
    first = policies.save(session=session, document=policies.GODADDY_2012)
    assert policies.save(session=session, document=policies.GODADDY_2012).id == first.id
    second = policies.save(session=session, document=policies.GODADDY_2012 + "\n# v2\n")
    assert (first.version, second.version) == (1, 2)
    assert policies.get(session=session, name="godaddy-2012").id == second.id
    assert policies.get(session=session, name="godaddy-2012@1").id == first.id


def test_states_move_with_events_and_billing_pulls_and_acknowledges(
    session: Session, w: World
) -> None:
    issue(
        session,
        w.incident,
        policies.GODADDY_2012.replace("auto_apply = true", "auto_apply = false"),
    )
    issue_auto = policies.GODADDY_2012.replace('"godaddy-2012"', '"auto"')
    later = dns_outage(session, T0 + dt.timedelta(days=200), T0 + dt.timedelta(days=200, hours=1))
    issue(session, later, issue_auto, now=ISSUED)
    session.commit()
    assert service.advance(session=session, now=ISSUED + dt.timedelta(days=6)) == {
        "expired": 0, "auto_applied": 0, "available": 0
    }  # fmt: skip
    moved = service.advance(session=session, now=ISSUED + dt.timedelta(days=7))
    assert moved == {"expired": 0, "auto_applied": 3, "available": 3}
    session.commit()
    page, cursor = service.billing_page(session=session, state=CreditState.redeemed, limit=2)
    assert len(page) == 2 and cursor is not None
    rest, end = service.billing_page(
        session=session, state=CreditState.redeemed, cursor=cursor, limit=2
    )
    assert len(rest) == 1 and end is None
    ids = [r["id"] for r in page + rest]
    assert service.acknowledge(session=session, ids=[*ids, ids[0]], actor="billing") == {
        "applied": 3,
        "ignored": 0,
    }
    assert service.acknowledge(session=session, ids=ids, actor="billing") == {
        "applied": 0,
        "ignored": 3,
    }
    session.commit()
    history = session.execute(
        select(CreditEvent.from_state, CreditEvent.to_state, CreditEvent.actor)
        .where(CreditEvent.credit_id == ids[0])
        .order_by(CreditEvent.id)
    ).all()
    assert [tuple(map(str, h)) for h in history] == [
        ("issued", "redeemed", "auto-apply"),
        ("redeemed", "applied", "billing"),
    ]
    report = service.report(session=session, incident_id=later.id)
    assert report["by_state"]["applied"] == {"EUR": {"credits": 3, "amount_minor": 4699}}
    assert report["issued"] == {"EUR": {"credits": 3, "amount_minor": 4699}}


def test_bad_cursor_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="cursor"):
        service.decode_cursor("bm9wZQ")


def test_void_withdraws_what_billing_has_not_applied(session: Session, w: World) -> None:
    issue(session, w.incident, policies.GODADDY_2012)
    session.commit()
    assert service.void(session=session, incident_id=w.incident.id, actor="ops") == 3
    assert service.void(session=session, incident_id=w.incident.id, actor="ops") == 0
    states = set(session.scalars(select(Credit.state)))
    assert states == {CreditState.void}


# -- money: the SQL amount against exact Decimal arithmetic -------------------------

_money_engine = create_engine("sqlite://")


@given(
    price=st.integers(0, 10**10),
    ppm=st.integers(0, 3 * PPM),
    rounding=st.sampled_from(["half_up", "down", "up"]),
)
def test_sql_amount_is_exact_decimal_rounding(price: int, ppm: int, rounding: str) -> None:
    modes = {"half_up": ROUND_HALF_UP, "down": ROUND_DOWN, "up": ROUND_CEILING}
    with _money_engine.connect() as conn:
        got = conn.scalar(
            select(amount_of(literal(price, BigInteger), literal(ppm, BigInteger), rounding))
        )
    expected = (Decimal(price) * Decimal(ppm) / PPM).quantize(Decimal(1), rounding=modes[rounding])
    assert type(got) is int and got == int(expected)


def test_the_bulk_path_gives_the_same_credits_and_keeps_the_constraints(
    session: Session, w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    from amends.credits import issuance

    monkeypatch.setattr(issuance, "BULK_SITES", 0)  # PostgreSQL: drop, load, rebuild
    assert issue(session, w.incident, policies.GODADDY_2012).created == 3
    session.commit()
    assert amounts(session, w.incident.id) == {
        w.ana_web.domain: 999, w.ana_mail.domain: 1200, w.bob_web.domain: 2500
    }  # fmt: skip
    assert issue(session, w.incident, policies.GODADDY_2012).created == 0
    session.commit()
    twin = session.scalars(select(Credit)).first()
    assert twin is not None
    duplicate = {c.name: getattr(twin, c.key) for c in Credit.__table__.columns if c.name != "id"}
    with pytest.raises(IntegrityError):  # the unique (incident, site) is back
        session.execute(Credit.__table__.insert().values(**duplicate))
    session.rollback()
