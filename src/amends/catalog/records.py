"""What one customer or site looks like on the way in, validated.

Shared by the importer and the API so a row is judged the same way wherever it
comes from. Validation uses the libraries that know the rules: email-validator
for addresses, phonenumbers for E.164, Babel for locales and currencies,
zoneinfo for time zones.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_precision, list_currencies
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from amends.catalog.models import CHANNELS, SiteState


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def normalise_email(value: Any) -> str | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    try:
        return validate_email(str(value), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from None


def normalise_phone(value: Any) -> str | None:
    """E.164 only: a number without its country code cannot be dialled by SMS gateways."""
    value = _blank_to_none(value)
    if value is None:
        return None
    text = str(value).strip()
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number in international form (+<country><number>)") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.cache
def normalise_locale(value: str) -> str:
    try:
        return str(Locale.parse(str(value).replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown locale {value!r}") from None


def _locale(value: Any) -> str:
    return normalise_locale(str(value).strip())


def _timezone(value: Any) -> str:
    text = str(value).strip()
    if text not in _timezones():
        raise ValueError(f"unknown time zone {text!r} (use an IANA name such as Europe/Madrid)")
    return text


def _currency(value: Any) -> str:
    text = str(value).strip().upper()
    if text not in _currencies():
        raise ValueError(f"unknown ISO 4217 currency {value!r}")
    return text


def _name_list(value: Any) -> list[str]:
    """A list from JSON, or a ``;``/``,`` separated string from CSV."""
    value = _blank_to_none(value)
    if value is None:
        return []
    if isinstance(value, str):
        items = value.replace(",", ";").split(";")
    elif isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        raise ValueError("expected a list or a ';'-separated string")
    return sorted({item.strip() for item in items if item.strip()})


def _channels(value: Any) -> list[str]:
    names = _name_list(value)
    unknown = [n for n in names if n not in CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel {unknown[0]!r} (known: {', '.join(CHANNELS)})")
    return names


def parse_time(value: Any) -> dt.datetime:
    """An ISO 8601 time with an offset; naive times are refused, not guessed."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no offset (write e.g. 2012-09-10T17:25:00+00:00)")
    return moment.astimezone(dt.UTC)


Email = Annotated[str | None, BeforeValidator(normalise_email)]
Phone = Annotated[str | None, BeforeValidator(normalise_phone)]
LocaleName = Annotated[str, BeforeValidator(_locale)]
TimeZone = Annotated[str, BeforeValidator(_timezone)]
Currency = Annotated[str, BeforeValidator(_currency)]
Channels = Annotated[list[str], BeforeValidator(_channels)]
Names = Annotated[list[str], BeforeValidator(_name_list)]
Moment = Annotated[dt.datetime, BeforeValidator(parse_time)]


def _optional_time(value: Any) -> dt.datetime | None:
    return None if _blank_to_none(value) is None else parse_time(value)


def _stripped(value: Any) -> str:
    return str(value).strip()


OptionalMoment = Annotated[dt.datetime | None, BeforeValidator(_optional_time)]
Text = Annotated[str, Field(min_length=1, max_length=300), BeforeValidator(_stripped)]
ExternalId = Annotated[str, Field(min_length=1, max_length=128), BeforeValidator(_stripped)]


class CustomerRecord(BaseModel):
    """One customer as the provider's systems describe them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    external_id: ExternalId
    name: Text
    email: Email = None
    phone: Phone = None
    locale: LocaleName = "en"
    timezone: TimeZone = "UTC"
    tier: Annotated[str, Field(min_length=1, max_length=32)] = "standard"
    channels: Channels = Field(default_factory=lambda: ["email"])
    opt_out: Channels = Field(default_factory=list)

    @model_validator(mode="after")
    def _reachable(self) -> CustomerRecord:
        if "email" in self.channels and self.email is None:
            raise ValueError("channel 'email' chosen but no email given")
        if {"sms", "voice"} & set(self.channels) and self.phone is None:
            raise ValueError("channel 'sms' or 'voice' chosen but no phone given")
        return self


def to_minor_units(amount: Any, currency: str) -> int:
    """'9.99' EUR → 999; refuses more decimals than the currency has."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {amount!r}") from None
    digits = get_currency_precision(currency)
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} has more than {digits} decimals for {currency}")
    return int(minor)


class SiteRecord(BaseModel):
    """One site of a customer. Give the price either in minor units
    (``monthly_price_minor``) or as a decimal (``monthly_price``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    external_id: ExternalId
    customer: ExternalId
    domain: Annotated[str, Field(min_length=1, max_length=253)]
    plan: Annotated[str, Field(min_length=1, max_length=64)]
    currency: Currency
    monthly_price_minor: Annotated[int | None, Field(ge=0, le=10**15)] = None
    monthly_price: Annotated[str | None, BeforeValidator(_blank_to_none)] = None
    state: SiteState = SiteState.active
    components: Names = Field(default_factory=list)
    started_at: Moment
    ended_at: OptionalMoment = None

    @model_validator(mode="before")
    @classmethod
    def _blank_optionals(cls, data: Any) -> Any:
        if isinstance(data, dict) and _blank_to_none(data.get("monthly_price_minor")) is None:
            data = {**data, "monthly_price_minor": None}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> SiteRecord:
        if self.monthly_price is not None:
            minor = to_minor_units(self.monthly_price, self.currency)
            if minor < 0:
                raise ValueError("monthly_price must not be negative")
            if self.monthly_price_minor is not None and self.monthly_price_minor != minor:
                raise ValueError("monthly_price and monthly_price_minor disagree")
            object.__setattr__(self, "monthly_price_minor", minor)
        if self.monthly_price_minor is None:
            raise ValueError("give monthly_price_minor or monthly_price")
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        if self.state is SiteState.cancelled and self.ended_at is None:
            raise ValueError("a cancelled site needs ended_at (when its service stopped)")
        return self

    @property
    def price_minor(self) -> int:
        assert self.monthly_price_minor is not None
        return self.monthly_price_minor
