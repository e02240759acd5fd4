"""The import fast path may only accept what the record models accept, and
must give exactly what they give; it must also actually take the common rows
(or it would be dead weight)."""

from __future__ import annotations

import string
from typing import Any

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from amends import scenario
from amends.catalog import fastcheck
from amends.catalog.records import CustomerRecord, SiteRecord, normalise_email, normalise_phone

COMPONENTS = {"dns": 1, "web-hosting": 2, "email": 3}

local_chars = string.ascii_letters + string.digits + "._+-!#'\"éñ@ "
addresses = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(local_chars, min_size=0, max_size=70),
    st.sampled_from(
        ["example.com", "EXAMPLE.com", "correo.es", "bücher.de", "localhost", "a..b",
         "xn--bcher-kva.de", "-bad.com", "123", "x.invalid", "mail.example.org", ""]
    ),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(addresses)
@example("Ana.Perez+news@Example.COM")
@example("a..b@example.com")
@example(".a@example.com")
def test_email_fast_path_agrees_with_email_validator(value: str) -> None:
    fast = fastcheck.email(value)
    if fast is not None:
        assert normalise_email(value) == fast


def test_email_fast_path_takes_plain_addresses() -> None:
    assert fastcheck.email("jose.2@Example.com") == "jose.2@example.com"
    assert fastcheck.email("josé@example.com") is None  # Unicode: the model decides


phones = st.one_of(
    st.from_regex(r"\+[0-9]{5,16}", fullmatch=True),
    st.builds(
        lambda code, rest: f"+{code}{rest}",
        st.sampled_from([1, 7, 33, 34, 39, 44, 52, 54, 55, 61, 86, 91, 212, 598]),
        st.from_regex(r"[0-9]{4,12}", fullmatch=True),
    ),
)


@settings(max_examples=600, deadline=None)
@given(phones)
@example("+34618382886")
@example("+12125550100")
@example("+390612345678")  # Italy keeps its leading zero
@example("+78001234567")  # Russia: 8 is also its national prefix
def test_phone_fast_path_agrees_with_phonenumbers(value: str) -> None:
    fast = fastcheck.phone(value)
    if fast is not None:
        assert normalise_phone(value) == fast


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_phone_fast_path_on_every_region_example(region: str) -> None:
    number = phonenumbers.example_number(region)
    if number is None:
        return
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    fast = fastcheck.phone(e164)
    assert fast is None or fast == normalise_phone(e164)


def test_phone_fast_path_takes_most_example_numbers() -> None:
    taken = total = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if number is None:
            continue
        total += 1
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        taken += fastcheck.phone(e164) == e164
    assert taken / total > 0.8


def _model_customer(values: dict[str, Any]) -> tuple[Any, ...] | None:
    try:
        r = CustomerRecord.model_validate(values)
    except ValidationError:
        return None
    return (r.external_id, r.name, r.email, r.phone, r.locale, r.timezone, r.tier,
            frozenset(r.channels), frozenset(r.opt_out))  # fmt: skip


cells = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "email", "sms;voice", "x"]))
customer_rows = st.fixed_dictionaries(
    {
        "external_id": st.sampled_from(["C1", " C1 ", "", "x" * 129]),
        "name": st.sampled_from(["Ana", "  Núñez ", "", " "]),
    },
    optional={
        "email": st.sampled_from(["ana@example.com", "bad@", "", " ana@example.com"]),
        "phone": st.sampled_from(["+34618382886", "+3461838", "", "0034618382886"]),
        "locale": st.sampled_from(["es", "en", "es-MX", "es_MX", " es", "xx", ""]),
        "timezone": st.sampled_from(["Europe/Madrid", "UTC", "Mars/Base", " UTC"]),
        "tier": st.sampled_from(["standard", " enterprise ", "", "t" * 33]),
        "channels": st.sampled_from(["email", "email;sms", "", "voice", "fax", "email,sms"]),
        "opt_out": st.sampled_from(["", "sms", "email;voice", "pigeon"]),
        "surprise": cells,
    },
)


@settings(max_examples=500, deadline=None)
@given(customer_rows)
def test_customer_fast_path_agrees_with_the_model(values: dict[str, Any]) -> None:
    fast = fastcheck.customer(values)
    if fast is not None:
        assert _model_customer(values) == fast


def _model_site(values: dict[str, Any]) -> tuple[Any, ...] | None:
    try:
        r = SiteRecord.model_validate(values)
    except ValidationError:
        return None
    if any(key not in COMPONENTS for key in r.components):
        return None
    return (r.external_id, r.customer, r.domain, r.plan, r.price_minor, r.currency,
            r.state.value, tuple(r.components), r.started_at, r.ended_at)  # fmt: skip


site_rows = st.fixed_dictionaries(
    {
        "external_id": st.sampled_from(["S1", " S1", ""]),
        "customer": st.sampled_from(["C1", ""]),
        "domain": st.sampled_from(["a.example.com", "", " b.example.com"]),
        "plan": st.sampled_from(["deluxe", ""]),
        "currency": st.sampled_from(["USD", "EUR", "usd", "JPY", "XXX!"]),
        "started_at": st.sampled_from(
            ["2010-08-16T17:25:00+00:00", "2010-08-16T17:25:00Z", "2010-08-16T17:25:00",
             "2010-08-16T19:25:00+02:00", "yesterday", "9999-12-31T23:00:00-05:00"]
        ),
    },
    optional={
        "monthly_price_minor": st.sampled_from(["799", "0", "-1", "7.99", "", "0799", "1" * 17]),
        "monthly_price": st.sampled_from(["7.99", ""]),
        "state": st.sampled_from(["active", "published", "suspended", "cancelled", "gone", ""]),
        "components": st.sampled_from(["dns;web-hosting", "", "email", "dns,email", "ftp"]),
        "ended_at": st.sampled_from(["", "2012-09-10T17:25:00+00:00", "2001-01-01T00:00:00Z"]),
    },
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(site_rows)
def test_site_fast_path_agrees_with_the_model(values: dict[str, Any]) -> None:
    fast = fastcheck.site(values, COMPONENTS)
    if fast is not None:
        assert _model_site(values) == fast


def test_the_fast_path_takes_the_reference_scenario() -> None:
    """Every generated row is plainly valid, so none should need the models."""
    header = scenario.CUSTOMER_FIELDS
    customers = [
        dict(zip(header, map(str, row), strict=True)) for row in scenario.customer_rows(300, 7)
    ]
    assert all(fastcheck.customer(row) == _model_customer(row) for row in customers)
    components = {key: i for i, (key, *_rest) in enumerate(scenario.COMPONENTS)}
    header = scenario.SITE_FIELDS
    for row in scenario.site_rows(300, 7):
        values = dict(zip(header, ("" if v is None else str(v) for v in row), strict=True))
        assert fastcheck.site(values, components) is not None, values


CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@settings(max_examples=3000, deadline=None)
@given(st.sampled_from(CODES), st.from_regex(r"[1-9][0-9]{1,13}", fullmatch=True))
@example(1, "2125550100")  # NANPA: the region is picked by leading digits
@example(1, "4165550100")  # Canada
@example(44, "7624123456")  # Isle of Man shares +44 with GB
@example(7, "7012345678")  # Kazakhstan shares +7 with Russia
@example(800, "12345678")  # a non-geographic code
def test_validity_rule_is_phonenumbers_own(code: int, national: str) -> None:
    """Both ways: the fast rule accepts exactly what phonenumbers accepts."""
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
    assert fastcheck._valid(code, national) == phonenumbers.is_valid_number(number)


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_validity_rule_on_every_type_of_example_number(region: str) -> None:
    for kind in phonenumbers.PhoneNumberType.values():
        number = phonenumbers.example_number_for_type(region, kind)
        if number is None or number.italian_leading_zero:
            continue
        national = str(number.national_number)
        assert fastcheck._valid(number.country_code, national) == phonenumbers.is_valid_number(
            number
        ), (region, kind, national)
