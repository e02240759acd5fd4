"""What the composer is given: the facts, the customer, the credit, the track record.

Plain frozen dataclasses, so the composer is a pure function that a test, the
demo or the delivery flow call alike, and so the credits and availability
domains only need to fill these in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from babel.numbers import get_currency_precision, is_currency

from amends.errors import ValidationFailed
from amends.facts.kinds import CauseOwner, DataKind, Exposure

#: A text the operator wrote: one string, or one per language ("es", "en").
Text = str | Mapping[str, str]


def pick(text: Text, lang: str) -> str:
    """The operator's text in ``lang``, else English, else any language given."""
    if isinstance(text, str):
        return text
    return text.get(lang) or text.get("en") or next(iter(text.values()), "")


def _aware(value: dt.datetime | None, name: str) -> None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(f"{name} has no time zone offset", field=name)


@dataclass(frozen=True)
class NoticeFacts:
    """The incident as customers are told about it (from the incident and its facts)."""

    company: str
    title: Text
    what_failed: Text
    customer_effect: Text
    started_at: dt.datetime
    resolved_at: dt.datetime | None = None
    root_cause: Text = ""
    cause_owner: CauseOwner | None = None
    actions_taken: Sequence[Text] = ()
    actions_planned: Sequence[Text] = ()
    exposure: Exposure = Exposure.under_investigation
    exposure_signed_off_by: str | None = None
    exposed_data: Sequence[DataKind] = ()
    contact_point: str = ""
    latest_update: Text = ""
    next_update_at: dt.datetime | None = None
    status_url: str = ""
    details_url: str = ""
    postmortem_url: str = ""
    signatory: Text = ""  # a senior, named person ("Ana Ruiz, CEO"); rule S1
    ends_at: dt.datetime | None = None  # maintenance: the planned end

    def __post_init__(self) -> None:
        for name in ("started_at", "resolved_at", "next_update_at", "ends_at"):
            _aware(getattr(self, name), name)
        if self.exposure is Exposure.confirmed and not self.exposed_data:
            raise ValidationFailed(
                "a confirmed exposure names its data kinds", field="exposed_data"
            )

    @property
    def reassurance_allowed(self) -> bool:
        """Only a signed-off 'none' allows "no data was compromised" (rule N7)."""
        return self.exposure is Exposure.none and bool(self.exposure_signed_off_by)


@dataclass(frozen=True)
class Recipient:
    """The customer as the message addresses them."""

    name: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class CreditOffer:
    """This customer's compensation, as the credits domain issued it.

    ``amount_minor`` is an integer in the currency's minor units; ``months``
    says what it is worth in service ("1 month of service"), when the policy
    is expressed that way; ``redeem_url`` is the one-click link (its GET shows
    a confirmation page, never redeems), or ``None`` when it is applied
    automatically on ``available_at``.
    """

    amount_minor: int
    currency: str
    sites: Sequence[str]
    available_at: dt.datetime
    redeem_url: str | None = None
    months: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise ValidationFailed("amount_minor must be an integer", field="amount_minor")
        if self.amount_minor <= 0:
            raise ValidationFailed("a credit must be positive", field="amount_minor")
        if not is_currency(self.currency) or self.currency != self.currency.upper():
            raise ValidationFailed(f"unknown currency {self.currency!r}", field="currency")
        if not self.sites:
            raise ValidationFailed("a credit names the sites it is for", field="sites")
        if self.months is not None and self.months < 1:
            raise ValidationFailed("months must be 1 or more", field="months")
        _aware(self.available_at, "available_at")

    @property
    def amount(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-get_currency_precision(self.currency))


@dataclass(frozen=True)
class TrackRecord:
    """Measured availability (computed from outage history, never typed in)."""

    service: Text  # "our DNS"
    availability: Decimal  # percent, e.g. Decimal("99.9993")
    since: dt.datetime

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.availability <= Decimal(100):
            raise ValidationFailed("availability is a percentage", field="availability")
        _aware(self.since, "since")


@dataclass(frozen=True)
class Composed:
    """One rendered message: subject, text, HTML (e-mail), and its named blocks."""

    kind: str
    locale: str
    channel: str
    subject: str
    text: str
    html: str | None = None
    blocks: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    encoding: str | None = None  # SMS: "GSM-7" or "UCS-2"
    segments: int | None = None  # SMS

    def block(self, name: str) -> str | None:
        return next((text for key, text in self.blocks if key == name), None)
