"""Accept plainly valid import rows without the full record models.

Why this exists: validating a customer with :class:`CustomerRecord` costs
~110 µs (e-mail ~45 µs, phone ~34 µs, the model itself the rest), so five
million customers would need ~9 CPU-minutes before the database sees a row.
Almost every row of a real export is plainly valid and shaped alike: an ASCII
address at a handful of domains, a ``+<digits>`` phone, a known locale. For
such rows the same libraries give the same answer far more cheaply:

* e-mail: email-validator judges the *domain* once per distinct domain (the
  expensive part: IDNA, special-use names) and a strict ASCII dot-atom local
  part needs no judging: the library would accept it unchanged;
* phone: a ``+<digits>`` string skips phonenumbers' general parser (which
  looks for extensions, letters, national prefixes), and its validity rule
  runs on the library's own metadata as one regular expression per length
  (``_region_rule``) rather than up to eleven in a row;
* locale, time zone, currency, channels: set lookups, cached.

Anything unusual — a quoted or Unicode local part, a number whose digits a
national prefix might eat, a blank required field, any value that is not a
string — makes these functions return ``None`` and the row goes to the record
models, which also word every error. So the models stay the only judges of
what is refused; this module may only say "valid, and here it is, exactly as
the model would give it", and tests/test_fastcheck.py holds it to that.
Measured: see docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneMetadata

from amends.catalog.models import CHANNELS, SiteState
from amends.catalog.records import (
    MAX_PRICE_MINOR,
    _currencies,
    _timezones,
    normalise_locale,
)

_LOCAL_PART = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_DIGITS = re.compile(r"[0-9]{1,16}")
_STATES = frozenset(state.value for state in SiteState)

CustomerValues = tuple[
    str, str, str | None, str | None, str, str, str, frozenset[str], frozenset[str]
]
"""external_id, name, email, phone, locale, timezone, tier, channels, opt_out."""

SiteValues = tuple[
    str, str, str, str, int, str, str, tuple[str, ...], dt.datetime, dt.datetime | None
]
"""external_id, customer, domain, plan, monthly_price_minor, currency, state,
components (sorted), started_at, ended_at."""


@functools.lru_cache(maxsize=1 << 16)
def _email_domain(domain: str) -> str | None:
    """The domain as email-validator normalises it, or None if it refuses it."""
    try:
        return validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def email(value: str) -> str | None:
    """The normalised address if it is plainly valid, else None."""
    local, at, domain = value.rpartition("@")
    if not at or len(value) > 200 or len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        return None
    normal_domain = _email_domain(domain)
    return None if normal_domain is None else f"{local}@{normal_domain}"


@functools.cache
def _country(digits: str) -> tuple[int, re.Pattern[str] | None] | None:
    """(country code, the national-prefix pattern the parser would try to strip)."""
    for size in (1, 2, 3):
        code = int(digits[:size])
        if phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code):
            main = phonenumbers.region_code_for_country_code(code)
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, main)
            prefix = metadata.national_prefix_for_parsing if metadata else None
            return code, re.compile(prefix) if prefix else None
    return None


_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
          "uan", "voicemail", "fixed_line", "mobile")  # fmt: skip


@functools.cache
def _region_rule(code: int, region: str) -> Callable[[str], bool]:
    """phonenumbers' "is this national number of some known type here", as two
    regular expressions per length instead of up to eleven tries in a row.

    Same metadata, same rule: the general pattern and length must match, and
    then the pattern (and length) of at least one number type; mobile only
    counts when its pattern differs from fixed line's (the library's rule).
    """
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None or metadata.general_desc is None:
        return lambda _nsn: False
    general = metadata.general_desc
    names = _TYPES[:-1] if metadata.same_mobile_and_fixed_line_pattern else _TYPES
    types = [d for d in (getattr(metadata, n) for n in names) if d and d.national_number_pattern]
    by_length: dict[int, re.Pattern[str]] = {}
    for length in range(1, 18):
        if general.possible_length and length not in general.possible_length:
            continue
        fits = [d.national_number_pattern for d in types
                if not d.possible_length or length in d.possible_length]  # fmt: skip
        if fits and general.national_number_pattern:
            by_length[length] = re.compile("|".join(f"(?:{p})" for p in fits))
    whole = re.compile(general.national_number_pattern or "(?!)")

    def valid(nsn: str) -> bool:
        pattern = by_length.get(len(nsn))
        return bool(pattern and whole.fullmatch(nsn) and pattern.fullmatch(nsn))

    return valid


@functools.cache
def _leading(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _valid(code: int, nsn: str) -> bool:
    """``phonenumbers.is_valid_number`` for +``code`` ``nsn``: the region is
    the first of the code's regions whose leading digits match (or, having
    none, whose rule accepts the number), as the library picks it."""
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if _leading(metadata.leading_digits).match(nsn):
                return _region_rule(code, region)(nsn)
        elif _region_rule(code, region)(nsn):
            return True
    return False


def phone(value: str) -> str | None:
    """``value`` itself if it is a valid E.164 number that parses to itself."""
    if not _E164.fullmatch(value):
        return None
    digits = value[1:]
    country = _country(digits[:3])
    if country is None:
        return None
    code, national_prefix = country
    national = digits[len(str(code)) :]
    if national.startswith("0") or (national_prefix and national_prefix.match(national)):
        return None  # the parser might strip or keep digits here: let it decide
    return value if _valid(code, national) else None


@functools.lru_cache(maxsize=1024)
def _locale(value: str) -> str | None:
    try:
        return normalise_locale(value)
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def _channels(value: str) -> frozenset[str] | None:
    names = frozenset(n.strip() for n in value.replace(",", ";").split(";") if n.strip())
    return names if names <= set(CHANNELS) else None


def _text(values: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = values.get(name)
    if type(value) is not str:
        return None
    value = value.strip()
    return value if 0 < len(value) <= limit else None


def customer(values: Mapping[str, Any]) -> CustomerValues | None:
    """The row as :class:`CustomerRecord` would give it, if plainly valid."""
    if not values.keys() <= _CUSTOMER_FIELDS:
        return None
    external_id = _text(values, "external_id", 128)
    name = _text(values, "name", 300)
    raw_email, raw_phone = values.get("email", ""), values.get("phone", "")
    locale, zone = values.get("locale", "en"), values.get("timezone", "UTC")
    tier = _text(values, "tier", 32) if "tier" in values else "standard"
    channels = values.get("channels", "email")
    # (a channels column left blank means "none", not the default)
    opt_out = values.get("opt_out", "")
    strings = (raw_email, raw_phone, locale, zone, channels, opt_out)
    if (
        external_id is None
        or name is None
        or tier is None
        or any(type(v) is not str for v in strings)
    ):
        return None
    mail = email(raw_email) if raw_email else None
    number = phone(raw_phone) if raw_phone else None
    if (raw_email and mail is None) or (raw_phone and number is None):
        return None
    locale_name = _locale(locale)
    chosen, refused = _channels(channels), _channels(opt_out)
    if locale_name is None or locale != locale.strip() or zone not in _timezones():
        return None
    if chosen is None or refused is None or ("email" in chosen and mail is None):
        return None
    if ("sms" in chosen or "voice" in chosen) and number is None:
        return None
    return (external_id, name, mail, number, locale_name, zone, tier, chosen, refused)


_CUSTOMER_FIELDS = frozenset(
    ("external_id", "name", "email", "phone", "locale", "timezone", "tier", "channels", "opt_out")
)
_SITE_FIELDS = frozenset(
    ("external_id", "customer", "domain", "plan", "currency", "monthly_price_minor",
     "monthly_price", "state", "components", "started_at", "ended_at")
)  # fmt: skip


def _moment(value: str) -> dt.datetime | None:
    """As :func:`records.parse_time`, or None where it would refuse."""
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return None if moment.tzinfo is None else moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def site(values: Mapping[str, Any], components: Mapping[str, int]) -> SiteValues | None:
    """The row as :class:`SiteRecord` would give it, if plainly valid and its
    components all exist (``components``: key → id)."""
    if not values.keys() <= _SITE_FIELDS or values.get("monthly_price"):
        return None
    external_id = _text(values, "external_id", 128)
    customer_id = _text(values, "customer", 128)
    domain, plan = _text(values, "domain", 253), _text(values, "plan", 64)
    price, currency = values.get("monthly_price_minor"), values.get("currency")
    state, keys = values.get("state", "active"), values.get("components", "")
    started, ended = values.get("started_at"), values.get("ended_at", "")
    strings = (price, currency, state, keys, started, ended)
    if None in (external_id, customer_id, domain, plan) or any(type(v) is not str for v in strings):
        return None
    if not _DIGITS.fullmatch(price):
        return None
    minor = int(price)
    if minor > MAX_PRICE_MINOR or currency not in _currencies() or state not in _STATES:
        return None
    names = tuple(sorted({k.strip() for k in keys.replace(",", ";").split(";") if k.strip()}))
    start = _moment(started)
    end = _moment(ended) if ended else None
    if start is None or (ended and end is None) or any(k not in components for k in names):
        return None
    if (end is not None and end < start) or (state == "cancelled" and end is None):
        return None
    return (external_id, customer_id, domain, plan, minor, currency, state, names, start, end)
