"""What one customer or site looks like on the way in, validated.

Shared by the importer and the API so a row is judged the same way wherever it
comes from. Validation uses the libraries that know the rules: email-validator
for addresses, phonenumbers for E.164, Babel for locales and currencies,
zoneinfo for time zones. They are imported by the functions that use them,
not with this module: ``parse_time`` and the models are on the path of
``amends incident open``, which should not pay for them (first_notice.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal, DecimalException
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from amends.catalog.models import CHANNELS, SiteState

LOCALE_LENGTH = 16  # customers.locale
MAX_PRICE_MINOR = 10**15  # far above any real price, far below BIGINT's limit


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.cache
def _currencies() -> frozenset[str]:
    from babel.numbers import list_currencies

    return frozenset(list_currencies())


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def normalise_email(value: Any) -> str | None:
    value = _blank_to_none(value)
    if value is None:
        return None
    from email_validator import EmailNotValidError, validate_email

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
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number in international form (+<country><number>)") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.cache
def normalise_locale(value: str) -> str:
    """Babel's spelling of a locale (``es-MX`` → ``es_MX``); unknown ones refused.

    Babel accepts any ``@modifier``, so the length is checked too: the column
    holds 16 characters and a longer name is no locale anyone uses.
    """
    from babel import Locale, UnknownLocaleError

    try:
        name = str(Locale.parse(str(value).replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown locale {value!r}") from None
    if len(name) > LOCALE_LENGTH:
        raise ValueError(f"unknown locale {value!r}")
    return name


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
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00 is after year 9999 in UTC
        raise ValueError(f"time {value!r} is out of range") from None


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


def _stripped(value: Any) -> Any:
    """Text without surrounding blanks. A JSON number stands for its digits (an
    id may be written 123); anything else (null, true, a list) is left for
    pydantic to refuse rather than turned into ``'None'`` or ``'True'``."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


OptionalMoment = Annotated[dt.datetime | None, BeforeValidator(_optional_time)]
Text = Annotated[str, Field(min_length=1, max_length=300), BeforeValidator(_stripped)]
ExternalId = Annotated[str, Field(min_length=1, max_length=128), BeforeValidator(_stripped)]
Tier = Annotated[str, Field(min_length=1, max_length=32), BeforeValidator(_stripped)]
Domain = Annotated[str, Field(min_length=1, max_length=253), BeforeValidator(_stripped)]
Plan = Annotated[str, Field(min_length=1, max_length=64), BeforeValidator(_stripped)]


class CustomerRecord(BaseModel):
    """One customer as the provider's systems describe them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    external_id: ExternalId
    name: Text
    email: Email = None
    phone: Phone = None
    locale: LocaleName = "en"
    timezone: TimeZone = "UTC"
    tier: Tier = "standard"
    channels: Channels = Field(default_factory=lambda: ["email"], validate_default=True)
    opt_out: Channels = Field(default_factory=list)

    @field_validator("channels")
    @classmethod
    def _reachable(cls, channels: list[str], info: ValidationInfo) -> list[str]:
        """A chosen channel needs its address. Judged on ``channels`` (declared
        after ``email`` and ``phone``) so the error names a field; an address
        that was itself invalid is already reported and not blamed twice."""
        if "email" in channels and "email" in info.data and info.data["email"] is None:
            raise ValueError("channel 'email' chosen but no email given")
        if {"sms", "voice"} & set(channels) and "phone" in info.data and info.data["phone"] is None:
            raise ValueError("channel 'sms' or 'voice' chosen but no phone given")
        return channels


def to_minor_units(amount: Any, currency: str) -> int:
    """'9.99' EUR → 999; refuses more decimals than the currency has."""
    try:
        value = Decimal(str(amount).strip())
    except DecimalException:
        raise ValueError(f"not a number: {amount!r}") from None
    if not value.is_finite():  # NaN, sNaN, Infinity: Decimal parses them
        raise ValueError(f"not a number: {amount!r}")
    if not value:
        return 0
    from babel.numbers import get_currency_precision

    digits = get_currency_precision(currency)
    if value.adjusted() + digits > 18:  # 1e999999: too large to scale, let alone store
        raise ValueError(f"{amount} is too large")
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
    domain: Domain
    plan: Plan
    currency: Currency
    monthly_price_minor: Annotated[int | None, Field(ge=0, le=MAX_PRICE_MINOR)] = None
    monthly_price: Annotated[
        str | None, BeforeValidator(_blank_to_none), Field(validate_default=True)
    ] = None
    state: SiteState = SiteState.active
    components: Names = Field(default_factory=list)
    started_at: Moment
    ended_at: Annotated[OptionalMoment, Field(validate_default=True)] = None

    @model_validator(mode="before")
    @classmethod
    def _blank_optionals(cls, data: Any) -> Any:
        if isinstance(data, dict) and _blank_to_none(data.get("monthly_price_minor")) is None:
            data = {**data, "monthly_price_minor": None}
        return data

    # Rules over several fields are checked on the last of them (pydantic
    # validates in declaration order and ``info.data`` holds the earlier ones
    # that passed), so every error names a field; a field that already failed
    # is skipped rather than reported twice.

    @field_validator("monthly_price")
    @classmethod
    def _price(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "currency" not in info.data or "monthly_price_minor" not in info.data:
            return value
        given = info.data["monthly_price_minor"]
        if value is None:
            if given is None:
                raise ValueError("give monthly_price_minor or monthly_price")
            return value
        minor = to_minor_units(value, info.data["currency"])
        if minor < 0:
            raise ValueError("monthly_price must not be negative")
        if minor > MAX_PRICE_MINOR:
            raise ValueError(f"{value} is too large")
        if given is not None and given != minor:
            raise ValueError("monthly_price and monthly_price_minor disagree")
        return value

    @field_validator("ended_at")
    @classmethod
    def _ended(cls, value: dt.datetime | None, info: ValidationInfo) -> dt.datetime | None:
        started = info.data.get("started_at")
        if value is not None and started is not None and value < started:
            raise ValueError("ended_at is before started_at")
        if value is None and info.data.get("state") is SiteState.cancelled:
            raise ValueError("a cancelled site needs ended_at (when its service stopped)")
        return value

    @model_validator(mode="after")
    def _minor_units(self) -> SiteRecord:
        if self.monthly_price is not None:
            minor = to_minor_units(self.monthly_price, self.currency)
            object.__setattr__(self, "monthly_price_minor", minor)
        return self

    @property
    def price_minor(self) -> int:
        assert self.monthly_price_minor is not None
        return self.monthly_price_minor
