"""Credit policies: declarative TOML documents, validated, stored as versions.

A policy says how much each affected site gets and when::

    key = "godaddy-2012"
    kind = "flat"                 # flat | tiered | pro_rata
    months = 1                    # flat: months of the site's monthly price
    states = ["active", "published"]
    contract_percent = 5          # the contractual SLA credit: the floor (rule C1)
    cap_percent = 150             # never more than this share of the fee (C2)
    available_after_days = 7
    auto_apply = true             # credited without a click (C4)

    [[tiers]]                     # tiered: uptime strictly below ``below`` → ``percent``
    below = "99.99"
    percent = 10

TOML floats are read as ``Decimal`` (``parse_float``), so ``99.99`` means
exactly 99.99. Saving the same document twice keeps one version; a changed
document becomes the next version, and credits point at the version used.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from amends.catalog.models import SiteState
from amends.credits.models import CreditPolicy
from amends.credits.policy_lines import line_of
from amends.errors import NotFound, ValidationFailed

PPM = 1_000_000


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    below: Decimal = Field(gt=0, le=100, description="uptime % strictly below this …")
    percent: Decimal = Field(ge=0, le=1000, description="… earns this % of the monthly fee")


class Policy(BaseModel):
    """The validated document. Percentages are of the site's monthly price."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    kind: Literal["flat", "tiered", "pro_rata"]
    description: str = ""
    months: Decimal = Field(default=Decimal(1), ge=0, le=24)
    tiers: list[Tier] = Field(default_factory=list)
    multiplier: Decimal = Field(default=Decimal(1), ge=0, le=1000)
    states: list[SiteState] = Field(default_factory=lambda: [SiteState.active, SiteState.published])
    plans: list[str] = Field(default_factory=list, description="empty: every plan")
    customer_tiers: list[str] = Field(default_factory=list, description="empty: every tier")
    contract_percent: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    floor: bool = True
    cap_percent: Decimal | None = Field(default=None, ge=0, le=1000)
    minimum_minor: int = Field(default=0, ge=0)
    rounding: Literal["half_up", "down", "up"] = "half_up"
    escalation_percent: Decimal = Field(default=Decimal(0), ge=0, le=1000)
    repeat_days: int = Field(default=90, ge=1, le=3660)
    available_after_days: int = Field(default=0, ge=0, le=366)
    expires_after_days: int | None = Field(default=None, ge=1)
    auto_apply: bool = True
    redeem_window_days: int = Field(default=30, ge=1, le=3660)

    @model_validator(mode="after")
    def _tiers_fit_kind(self) -> Policy:
        if self.kind == "tiered" and not self.tiers:
            raise ValueError("a tiered policy needs [[tiers]]")
        bounds = [t.below for t in self.tiers]
        if len(set(bounds)) != len(bounds):
            raise ValueError("two tiers share the same 'below'")
        return self

    def tier_percent(self, uptime: Decimal) -> Decimal:
        """Half-open lookup: the lowest ``below`` that ``uptime`` is strictly under."""
        for tier in sorted(self.tiers, key=lambda t: t.below):
            if uptime < tier.below:
                return tier.percent
        return Decimal(0)

    @staticmethod
    def ppm(percent: Decimal) -> int:
        """A percentage of the fee as integer millionths (exact to 0.0001 %)."""
        return int(percent * PPM / 100)


class PolicyInvalid(ValidationFailed):
    """A policy document refused: each problem with its field and, when the document
    has one for it, its line (``problems``: (line or None, field, message))."""

    def __init__(self, source: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.problems = problems
        said = "; ".join(_said(line, field, message) for line, field, message in problems)
        super().__init__(f"{source}: {said}", field=problems[0][1])


def _said(line: int | None, field: str, message: str) -> str:
    where = f"line {line}: " if line else ""
    return f"{where}{field}: {message}" if field != "policy" else f"{where}{message}"


_TOML_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")


def parse(document: str, *, source: str = "policy") -> Policy:
    """Read and validate a TOML policy; errors name the document, the field and the line."""
    try:
        data = tomllib.loads(document, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        text = str(exc)
        at = _TOML_AT.search(text)
        line = int(at.group(1)) if at else None
        raise PolicyInvalid(
            source, [(line, "policy", f"not valid TOML: {_TOML_AT.sub('', text)}")]
        ) from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "policy"
            line = line_of(document, error["loc"]) if error["loc"] else None
            problems.append((line, where, str(error["msg"])))
        raise PolicyInvalid(source, problems) from None


def save(*, session: Session, document: str, source: str = "policy") -> CreditPolicy:
    """Store ``document`` as the next version of its key (or return the identical one)."""
    policy = parse(document, source=source)
    digest = hashlib.sha256(document.encode()).hexdigest()
    same = session.scalar(
        select(CreditPolicy).where(CreditPolicy.key == policy.key, CreditPolicy.digest == digest)
    )
    if same is not None:
        return same
    latest = session.scalar(
        select(func.max(CreditPolicy.version)).where(CreditPolicy.key == policy.key)
    )
    row = CreditPolicy(
        key=policy.key,
        version=(latest or 0) + 1,
        kind=policy.kind,
        document=document,
        digest=digest,
    )
    session.add(row)
    session.flush()
    return row


def get(*, session: Session, name: str) -> CreditPolicy:
    """``key`` (its latest version) or ``key@version``."""
    key, _, version = name.partition("@")
    query = select(CreditPolicy).where(CreditPolicy.key == key)
    if version:
        if not version.isdigit():
            raise ValidationFailed(f"policy {name!r}: version must be a number", field="policy")
        query = query.where(CreditPolicy.version == int(version))
    row = session.scalar(query.order_by(CreditPolicy.version.desc()).limit(1))
    if row is None:
        raise NotFound(f"no credit policy {name!r}", field="policy")
    return row


def choose(*, session: Session, name: str) -> CreditPolicy:
    """A stored policy by name, or a built-in one (stored on first use)."""
    try:
        return get(session=session, name=name)
    except NotFound:
        if name in BUILTIN:
            return save(session=session, document=BUILTIN[name], source=name)
        raise


def peek(*, session: Session, name: str) -> tuple[Policy, str]:
    """The policy ``name`` means and its label, without storing anything (for previews:
    a GET must not write)."""
    try:
        row = get(session=session, name=name)
    except NotFound:
        if name in BUILTIN:
            return parse(BUILTIN[name], source=name), f"{name} (built-in)"
        raise
    return load(row), f"{row.key}@{row.version}"


def load(row: CreditPolicy) -> Policy:
    return parse(row.document, source=f"{row.key}@{row.version}")


def list_policies(*, session: Session) -> list[CreditPolicy]:
    query = select(CreditPolicy).order_by(CreditPolicy.key, CreditPolicy.version)
    return list(session.scalars(query))


GODADDY_2012 = """\
# GoDaddy, 12 September 2012: "a credit equal to 1 month of service for each of
# your active/published sites … available within the next 7 days".
# Applied automatically (rule C4): the link only shows the credit.
key = "godaddy-2012"
kind = "flat"
description = "One month of service for each active or published site"
months = 1
states = ["active", "published"]
contract_percent = 5
cap_percent = 150
available_after_days = 7
auto_apply = true
redeem_window_days = 30
"""

GODADDY_2012_CLICK = """\
# GoDaddy, 12 September 2012, as written: "… available within the next 7 days …
# click the button below to redeem". Redeem-by-click, but with a 30-day window
# once the credit is available (rule C4: GoDaddy's 7 days drew criticism).
key = "godaddy-2012-click"
kind = "flat"
description = "One month of service for each active or published site, redeemed by a click"
months = 1
states = ["active", "published"]
contract_percent = 5
cap_percent = 150
available_after_days = 7
auto_apply = false
redeem_window_days = 30
"""

AWS_EC2 = """\
# AWS EC2 region-level SLA: <99.99 → 10 %, <99.0 → 30 %, <95.0 → 100 % of the month's fee.
key = "aws-ec2"
kind = "tiered"
description = "AWS EC2 style: share of the month's fee by measured availability"
auto_apply = true

[[tiers]]
below = 99.99
percent = 10

[[tiers]]
below = 99.0
percent = 30

[[tiers]]
below = 95.0
percent = 100
"""

#: Policies every installation has: the founding documents' own, and a cloud SLA table.
BUILTIN = {
    "godaddy-2012": GODADDY_2012,
    "godaddy-2012-click": GODADDY_2012_CLICK,
    "aws-ec2": AWS_EC2,
}
