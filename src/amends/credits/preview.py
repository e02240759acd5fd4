"""What a policy would give, before anything is issued — and where it would backfire.

The warnings are the research's compensation rules (domain-research §3.3–§3.4):

* C1 (block): below the contractual SLA credit;
* C2 (warn): under 60 % of the affected fee for a severe outage, or over 150 %;
* C3 (warn): not the same share of the fee for every customer of the incident;
* C4 (warn): a redeem-by-click window shorter than 30 days;
* C5 (info): customers hit again within the repeat window, and no escalation.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from amends.availability.service import DEFAULT_RULES, Rules
from amends.catalog.models import Site
from amends.credits.issuance import basis, credit_rows
from amends.credits.models import Credit
from amends.credits.policies import PPM, Policy
from amends.db import utcnow
from amends.db.bulk import analyze, tune_for_bulk
from amends.incidents.models import Impact, Incident

SEVERE = (Impact.critical,)
UNIFORM_TOLERANCE = PPM // 100  # one point of the fee: rounding to the cent is not unfair


@dataclass(frozen=True)
class Warning_:
    rule: str
    severity: str  # block | warn | info
    message: str


@dataclass
class Preview:
    incident_id: int
    policy: str
    credits: int
    customers: int
    by_currency: dict[str, dict[str, int]]
    distribution: list[dict[str, Any]]
    examples: list[dict[str, Any]]
    uptime: dict[str, str]
    already_issued: int
    warnings: list[Warning_] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percent(ppm: int) -> str:
    return f"{Decimal(ppm) / (PPM // 100):.2f}".rstrip("0").rstrip(".") + " %"


def preview(
    *,
    session: Session,
    incident: Incident,
    policy: Policy,
    name: str,
    now: dt.datetime | None = None,
    rules: Rules = DEFAULT_RULES,
) -> Preview:
    """Totals by currency, the distribution of shares of the fee, a few examples, warnings."""
    now = now or utcnow()
    b = basis(session=session, incident=incident, policy=policy, now=now, rules=rules)
    rows = _materialise(session, credit_rows(b, policy)) if b.windows else None
    by_currency: dict[str, dict[str, int]] = {}
    distribution: list[dict[str, Any]] = []
    examples: list[dict[str, Any]] = []
    customers = 0
    if rows is not None:
        for currency, count, amount, fees in session.execute(
            select(rows.c.currency, func.count(), func.sum(rows.c.amount), func.sum(rows.c.price))
            .group_by(rows.c.currency)
            .order_by(rows.c.currency)
        ):
            by_currency[currency] = {
                "credits": int(count), "amount_minor": int(amount), "fees_minor": int(fees)
            }  # fmt: skip
        customers = session.scalar(select(func.count(distinct(rows.c.customer_id)))) or 0
        for ppm, count in session.execute(
            select(rows.c.fee_ppm, func.count())
            .group_by(rows.c.fee_ppm)
            .order_by(func.count().desc(), rows.c.fee_ppm)
            .limit(20)
        ):
            distribution.append({"share_of_fee": _percent(int(ppm)), "credits": int(count)})
        for domain, price, currency, ppm, amount in session.execute(
            select(Site.domain, rows.c.price, rows.c.currency, rows.c.fee_ppm, rows.c.amount)
            .join(Site, Site.id == rows.c.site_id)
            .order_by(rows.c.site_id)
            .limit(5)
        ):
            examples.append(
                {
                    "site": domain,
                    "monthly_price_minor": int(price),
                    "currency": currency,
                    "share_of_fee": _percent(int(ppm)),
                    "amount_minor": int(amount),
                }
            )
    already = (
        session.scalar(
            select(func.count()).select_from(Credit).where(Credit.incident_id == incident.id)
        )
        or 0
    )
    result = Preview(
        incident_id=incident.id,
        policy=name,
        credits=sum(c["credits"] for c in by_currency.values()),
        customers=customers,
        by_currency=by_currency,
        distribution=distribution,
        examples=examples,
        uptime={k: str(v) for k, v in b.uptime.items()},
        already_issued=already,
    )
    shares = [0] if rows is None else _shares(session, rows)
    result.warnings = _warnings(session, incident, policy, b.recent_incidents, rows, result, shares)
    if rows is not None:
        rows.drop(session.connection())
    return result


def _materialise(session: Session, query: Any) -> Any:
    """The would-be credits in a temporary table: computed once, read by six small queries."""
    tune_for_bulk(session.connection())
    create = query.into(f"preview_{uuid.uuid4().hex[:12]}", temporary=True)
    session.execute(create)
    analyze(session.connection(), create.table)
    return create.table


def _shares(session: Session, rows: Any) -> list[int]:
    """The lowest and highest share of the fee actually credited (after minimum and
    rounding), in ppm: what customers will compare."""
    share = case((rows.c.price > 0, rows.c.amount * PPM // rows.c.price), else_=rows.c.fee_ppm)
    low, high = session.execute(select(func.min(share), func.max(share))).one()
    return [int(low or 0), int(high or 0)]


def _warnings(
    session: Session,
    incident: Incident,
    policy: Policy,
    recent: list[int],
    rows: Any,
    result: Preview,
    shares: list[int],
) -> list[Warning_]:
    out: list[Warning_] = []
    low, high = shares
    contract = policy.ppm(policy.contract_percent)
    if result.credits and contract and low < contract:
        out.append(Warning_("C1", "block", (
            f"some credits ({_percent(low)} of the fee) are below the contractual SLA "
            f"credit ({_percent(contract)}); set floor = true"
        )))  # fmt: skip
    fees = sum(c["fees_minor"] for c in result.by_currency.values())
    paid = sum(c["amount_minor"] for c in result.by_currency.values())
    if fees and incident.impact in SEVERE and paid * 100 < fees * 60:
        out.append(Warning_("C2", "warn", (
            f"a severe outage compensated with {_percent(paid * PPM // fees)} of the affected "
            "fees: under 60 %, where compensation starts to satisfy"
        )))  # fmt: skip
    if high > 150 * PPM // 100:
        out.append(Warning_("C2", "warn", (
            f"credits up to {_percent(high)} of the fee: above 150 %, extra compensation "
            "stops helping and can backfire"
        )))  # fmt: skip
    if result.credits and high - low > UNIFORM_TOLERANCE:
        out.append(Warning_("C3", "warn", (
            f"not uniform: shares of the fee range from {_percent(low)} to {_percent(high)} "
            "within one incident; customers compare — say which objective rule explains it"
        )))  # fmt: skip
    if not policy.auto_apply and policy.redeem_window_days < 30:
        out.append(Warning_("C4", "warn", (
            f"redeem-by-click within {policy.redeem_window_days} days: apply automatically, "
            "or give at least 30 days (GoDaddy's 7 days drew criticism and a class action)"
        )))  # fmt: skip
    if rows is not None and recent:
        again = (
            session.scalar(
                select(func.count(distinct(rows.c.customer_id))).where(
                    rows.c.customer_id.in_(
                        select(Credit.customer_id).where(Credit.incident_id.in_(recent))
                    )
                )
            )
            or 0
        )
        if again and not policy.escalation_percent:
            out.append(Warning_("C5", "info", (
                f"{again} customers were hit by another incident in the last "
                f"{policy.repeat_days} days; consider escalation_percent or personal outreach"
            )))  # fmt: skip
    return out


def blocking(
    *,
    session: Session,
    incident: Incident,
    policy: Policy,
    name: str,
    now: dt.datetime | None = None,
    rules: Rules = DEFAULT_RULES,
) -> list[Warning_]:
    """The warnings that must stop issuance (C1), computed only when the policy could
    trigger one: a floored policy never pays below the contract, so no preview is run."""
    if policy.floor or not policy.contract_percent:
        return []
    seen = preview(
        session=session, incident=incident, policy=policy, name=name, now=now, rules=rules
    )
    return [w for w in seen.warnings if w.severity == "block"]
