"""One row's rules, without a database: the parsers in ``catalog.records``.

Property tests: whatever text arrives, a parser returns a normalised value or
raises ``ValueError`` (which pydantic turns into a problem naming the field),
never another exception that would abort a whole import.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import phonenumbers
import pytest
from babel import localedata
from babel.numbers import get_currency_precision
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from amends.catalog.records import (
    MAX_PRICE_MINOR,
    CustomerRecord,
    SiteRecord,
    normalise_email,
    normalise_locale,
    normalise_phone,
    parse_time,
    to_minor_units,
)

FAST = settings(max_examples=60, deadline=None)
E164 = re.compile(r"\+[1-9][0-9]{1,14}")

# -- parse_time -------------------------------------------------------------

offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: dt.timedelta(minutes=m))


@FAST
@given(naive=st.datetimes(), offset=offsets, zulu=st.booleans())
@example(naive=dt.datetime(9999, 12, 31, 23, 59), offset=dt.timedelta(hours=-5), zulu=False)
@example(naive=dt.datetime(1, 1, 1, 0, 0), offset=dt.timedelta(hours=5), zulu=False)
def test_parse_time_keeps_the_instant_and_stores_utc(
    naive: dt.datetime, offset: dt.timedelta, zulu: bool
) -> None:
    written = naive.replace(tzinfo=dt.timezone(offset)).isoformat()
    if zulu and not offset:
        written = naive.isoformat() + "Z"
    try:
        instant = naive - offset
    except OverflowError:  # the instant in UTC falls outside years 1-9999
        with pytest.raises(ValueError, match="out of range"):
            parse_time(written)
        return
    parsed = parse_time(written)
    assert parsed.tzinfo is dt.UTC
    assert parsed.replace(tzinfo=None) == instant


@FAST
@given(naive=st.datetimes())
def test_parse_time_refuses_a_time_without_offset(naive: dt.datetime) -> None:
    with pytest.raises(ValueError, match="no offset"):
        parse_time(naive.isoformat())
    with pytest.raises(ValueError, match="no offset"):
        parse_time(naive)


@FAST
@given(st.text(max_size=40))
@example("2012-09-10")
@example("2012-09-10T17:25:00+25:00")
def test_parse_time_never_fails_with_anything_but_value_error(text: str) -> None:
    try:
        parsed = parse_time(text)
    except ValueError:
        return
    assert parsed.tzinfo is dt.UTC


# -- to_minor_units ---------------------------------------------------------

PRECISION = {"JPY": 0, "KRW": 0, "EUR": 2, "USD": 2, "BHD": 3, "KWD": 3}


def test_the_currency_precisions_come_from_babel() -> None:
    assert {c: get_currency_precision(c) for c in PRECISION} == PRECISION


def _decimal_text(minor: int, digits: int, padding: int = 0) -> str:
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**digits)
    fraction = f"{part:0{digits}d}" + "0" * padding
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


@FAST
@given(
    currency=st.sampled_from(sorted(PRECISION)),
    minor=st.integers(-(10**12), 10**12),
    padding=st.integers(0, 3),
)
def test_to_minor_units_is_exact_for_every_precision(
    currency: str, minor: int, padding: int
) -> None:
    digits = PRECISION[currency]
    assert to_minor_units(_decimal_text(minor, digits, padding), currency) == minor
    assert to_minor_units(f" {minor} ", currency) == minor * 10**digits


@FAST
@given(
    currency=st.sampled_from(sorted(PRECISION)),
    minor=st.integers(0, 10**9),
    extra=st.integers(1, 9),
)
def test_to_minor_units_refuses_more_decimals_than_the_currency_has(
    currency: str, minor: int, extra: int
) -> None:
    digits = PRECISION[currency]
    text = _decimal_text(minor * 10 + extra, digits + 1)
    with pytest.raises(ValueError, match=f"more than {digits} decimals for {currency}"):
        to_minor_units(text, currency)


@FAST
@given(text=st.text(max_size=30), currency=st.sampled_from(sorted(PRECISION)))
@example(text="sNaN", currency="EUR")
@example(text="NaN", currency="EUR")
@example(text="-Infinity", currency="JPY")
@example(text="1e999999999", currency="BHD")
@example(text="0E+999999", currency="EUR")
def test_to_minor_units_never_fails_with_anything_but_value_error(text: str, currency: str) -> None:
    try:
        minor = to_minor_units(text, currency)
    except ValueError:
        return
    assert isinstance(minor, int)
    assert Decimal(text.strip()) == Decimal(minor).scaleb(-PRECISION[currency])


def test_prices_that_no_column_could_hold_are_refused_by_the_record() -> None:
    with pytest.raises(ValueError, match="not a number"):
        to_minor_units("Infinity", "EUR")
    with pytest.raises(ValueError, match="too large"):
        to_minor_units("1e20", "EUR")
    row = _site(monthly_price_minor=None, monthly_price="10000000000000.01")
    assert _error_fields(SiteRecord, row) == {"monthly_price": "10000000000000.01 is too large"}
    row = _site(monthly_price_minor=None, monthly_price="10000000000000.00")
    assert SiteRecord.model_validate(row).price_minor == MAX_PRICE_MINOR
    assert _error_fields(SiteRecord, _site(monthly_price_minor=str(MAX_PRICE_MINOR + 1))) == {
        "monthly_price_minor": "Input should be less than or equal to 1000000000000000"
    }


# -- phone, e-mail, locale --------------------------------------------------

regions = st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS))
Fmt = phonenumbers.PhoneNumberFormat


@FAST
@given(region=regions, style=st.sampled_from([Fmt.E164, Fmt.INTERNATIONAL, Fmt.RFC3966]))
def test_phone_numbers_in_any_international_form_become_e164(region: str, style: int) -> None:
    number = phonenumbers.example_number(region)
    written = phonenumbers.format_number(number, style).removeprefix("tel:")
    e164 = phonenumbers.format_number(number, Fmt.E164)
    assert normalise_phone(written) == e164
    assert normalise_phone(f"  {e164} ") == e164
    assert normalise_phone(e164) == e164  # idempotent


@FAST
@given(region=regions)
def test_phone_numbers_without_country_code_are_refused(region: str) -> None:
    number = phonenumbers.example_number(region)
    national = re.sub(r"\D", "", phonenumbers.format_number(number, Fmt.NATIONAL))
    with pytest.raises(ValueError, match="international form"):
        normalise_phone(national)


@FAST
@given(st.text(max_size=24) | st.from_regex(r"\+[0-9 ]{1,20}", fullmatch=True))
def test_phone_normalisation_returns_e164_or_value_error(text: str) -> None:
    try:
        phone = normalise_phone(text)
    except ValueError:
        return
    assert phone is None or E164.fullmatch(phone)


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("ana@example.com", "ana@example.com"),
        ("Ana.Perez@EXAMPLE.Com", "Ana.Perez@example.com"),
        ("lucía@correo.es", "lucía@correo.es"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_email_addresses_are_normalised(written: str | None, stored: str | None) -> None:
    assert normalise_email(written) == stored


@pytest.mark.parametrize("written", ["ana", "ana@", "@example.com", "ana@@example.com", "a b@x.es"])
def test_invalid_email_addresses_are_refused(written: str) -> None:
    with pytest.raises(ValueError, match="not a valid e-mail address"):
        normalise_email(written)


@FAST
@given(name=st.sampled_from(sorted(localedata.locale_identifiers())))
def test_every_babel_locale_is_known_in_either_spelling(name: str) -> None:
    assert normalise_locale(name) == name
    assert normalise_locale(name.replace("_", "-")) == name


@FAST
@given(st.text(max_size=30))
@example("en_US@a-very-long-modifier")
def test_locales_are_normalised_or_refused(text: str) -> None:
    try:
        name = normalise_locale(text)
    except ValueError:
        return
    assert len(name) <= 16  # the column's width
    assert normalise_locale(name) == name


# -- whole records: every error names a field -------------------------------


def _customer(**fields: Any) -> dict[str, Any]:
    return {"external_id": "C1", "name": "Ana", "email": "ana@example.com", **fields}


def _site(**fields: Any) -> dict[str, Any]:
    row = {
        "external_id": "S1", "customer": "C1", "domain": "ana.example.es", "plan": "deluxe",
        "currency": "EUR", "monthly_price_minor": "799",
        "started_at": "2011-03-01T00:00:00+01:00",
    }  # fmt: skip
    row.update(fields)
    return {k: v for k, v in row.items() if v is not None}


def _error_fields(model: type[CustomerRecord | SiteRecord], row: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(row)
    return {
        ".".join(str(p) for p in e["loc"]): e["msg"].split(", ", 1)[-1].split(" (")[0]
        for e in caught.value.errors()
    }


@pytest.mark.parametrize(
    ("row", "errors"),
    [
        (_customer(channels="sms"),
         {"channels": "channel 'sms' or 'voice' chosen but no phone given"}),
        (_customer(email=None), {"channels": "channel 'email' chosen but no email given"}),
        (_customer(email="nope", channels="email"), {"email": "not a valid e-mail address"}),
        (_customer(name=None), {"name": "Input should be a valid string"}),
        (_customer(external_id=None), {"external_id": "Input should be a valid string"}),
        (_customer(name=True), {"name": "Input should be a valid string"}),
        (_customer(name="   "), {"name": "String should have at least 1 character"}),
        (_customer(tier=" "), {"tier": "String should have at least 1 character"}),
        (_customer(channels="email;fax"), {"channels": "unknown channel 'fax'"}),
        (_customer(locale="en_US@toolongmodifier"),
         {"locale": "unknown locale 'en_US@toolongmodifier'"}),
        (_customer(timezone="Mars/Olympus"), {"timezone": "unknown time zone 'Mars/Olympus'"}),
        (_customer(nickname="x"), {"nickname": "Extra inputs are not permitted"}),
    ],
)  # fmt: skip
def test_customer_errors_name_their_field(row: dict[str, Any], errors: dict[str, str]) -> None:
    found = _error_fields(CustomerRecord, row)
    assert found.keys() == errors.keys()
    for name, message in errors.items():
        assert found[name].startswith(message), found


@pytest.mark.parametrize(
    ("row", "errors"),
    [
        (_site(monthly_price_minor="-1"),
         {"monthly_price_minor": "Input should be greater than or equal to 0"}),
        (_site(monthly_price_minor=None, monthly_price="-0.01"),
         {"monthly_price": "monthly_price must not be negative"}),
        (_site(monthly_price_minor=None),
         {"monthly_price": "give monthly_price_minor or monthly_price"}),
        (_site(monthly_price="7.98"),
         {"monthly_price": "monthly_price and monthly_price_minor disagree"}),
        (_site(monthly_price_minor=None, monthly_price="7.999"),
         {"monthly_price": "7.999 has more than 2 decimals for EUR"}),
        (_site(monthly_price_minor=None, monthly_price="NaN"),
         {"monthly_price": "not a number: 'NaN'"}),
        (_site(currency="EURO"), {"currency": "unknown ISO 4217 currency 'EURO'"}),
        (_site(state="cancelled"), {"ended_at": "a cancelled site needs ended_at"}),
        (_site(ended_at="2011-02-28T22:59:59Z"), {"ended_at": "ended_at is before started_at"}),
        (_site(started_at="2011-03-01 00:00"),
         {"started_at": "time '2011-03-01 00:00' has no offset"}),
        (_site(started_at="9999-12-31T23:00:00-05:00"),
         {"started_at": "time '9999-12-31T23:00:00-05:00' is out of range"}),
        (_site(domain=" "), {"domain": "String should have at least 1 character"}),
        (_site(customer=None, plan=None), {"customer": "Field required", "plan": "Field required"}),
    ],
)  # fmt: skip
def test_site_errors_name_their_field(row: dict[str, Any], errors: dict[str, str]) -> None:
    found = _error_fields(SiteRecord, row)
    assert found.keys() == errors.keys()
    for name, message in errors.items():
        assert found[name].startswith(message), found


def test_an_invalid_field_is_not_blamed_twice() -> None:
    """A bad phone is the phone's problem, not also the sms channel's."""
    row = _customer(phone="612345678", channels="sms")
    assert _error_fields(CustomerRecord, row).keys() == {"phone"}
    assert _error_fields(SiteRecord, _site(currency="XXY", monthly_price="1.5")).keys() == {
        "currency"
    }


def test_records_normalise_what_they_keep() -> None:
    customer = CustomerRecord.model_validate(
        _customer(
            external_id=" C1 ", name=" Ana\n", tier=" gold ", locale="es-MX",
            phone="+34 612 34 56 78", channels="sms, email;email", opt_out=["voice"],
        )
    )  # fmt: skip
    assert (customer.external_id, customer.name, customer.tier, customer.locale) == (
        "C1", "Ana", "gold", "es_MX",
    )  # fmt: skip
    assert (customer.phone, customer.channels, customer.opt_out) == (
        "+34612345678", ["email", "sms"], ["voice"],
    )  # fmt: skip
    site = SiteRecord.model_validate(
        _site(
            external_id="7", domain=" ana.es ", monthly_price_minor="", monthly_price="1.234",
            currency="bhd", components="dns, email;dns", ended_at="",
        )
    )  # fmt: skip
    assert (site.external_id, site.domain, site.currency, site.price_minor) == (
        "7", "ana.es", "BHD", 1234,
    )  # fmt: skip
    assert site.components == ["dns", "email"] and site.ended_at is None
    assert site.started_at == dt.datetime(2011, 2, 28, 23, tzinfo=dt.UTC)
    assert CustomerRecord.model_validate(_customer(external_id=123)).external_id == "123"
