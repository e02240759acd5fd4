"""Catalogs, and the customer's locale for dates, money, numbers and lists.

Message strings are English gettext msgids; each other language is a
``locale/<lang>/LC_MESSAGES/amends.po`` catalog shipped in the package. The
``.po`` is compiled in memory on first use (Babel's own compiler), so a
``pip install`` carries everything and a translator only ever edits a ``.po``.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_percent, get_currency_precision
from babel.support import NullTranslations, Translations

from amends.errors import ValidationFailed

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "amends"
#: Sites named in a message before "and N more".
SITES_SHOWN = 3


@functools.cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of a base language; English (the msgids) needs none."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def languages() -> list[str]:
    """Languages with a catalog, plus English."""
    return sorted({"en", *(p.name for p in LOCALE_DIR.iterdir() if p.is_dir())})


class Speaker:
    """Everything locale-dependent for one message: text, dates, money, lists."""

    def __init__(self, locale: str, timezone: str) -> None:
        try:
            self.locale = Locale.parse(locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            raise ValidationFailed(f"unknown locale {locale!r}", field="locale") from None
        if self.locale.language not in languages():
            raise ValidationFailed(
                f"no messages in {self.locale.language!r} (have: {', '.join(languages())})",
                field="locale",
            )
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(f"unknown time zone {timezone!r}", field="timezone") from None
        self._t = translations(self.locale.language)

    @property
    def lang(self) -> str:
        return str(self.locale.language)

    def _(self, message: str, **values: object) -> str:
        text = self._t.gettext(message)
        return text % values if values else text

    def n_(self, singular: str, plural: str, n: int, **values: object) -> str:
        return self._t.ngettext(singular, plural, n) % {"num": n, **values}

    def when(self, moment: dt.datetime) -> str:
        """Date and time in the customer's zone: 'September 10, 2012, 10:25 AM MST'."""
        local = moment.astimezone(self.zone)
        time = format_time(local, "short", locale=self.locale)
        # The hour as shown picks the form: Spanish says "a la 1:25" but "a las 13:25".
        shown = re.match(r"\d+", time)
        return self.n_(
            "%(date)s, %(time)s %(zone)s",
            "%(date)s, %(time)s %(zone)s",
            int(shown.group()) if shown else 0,
            date=format_date(local, "long", locale=self.locale),
            time=time,
            zone=format_datetime(local, "zzz", locale=self.locale),
        )

    def day(self, moment: dt.datetime) -> str:
        return format_date(moment.astimezone(self.zone), "long", locale=self.locale)

    def date(self, day: dt.date) -> str:
        """A calendar date (no zone to convert: 'since 1 January 2008')."""
        return format_date(day, "long", locale=self.locale)

    def money(self, amount_minor: int, currency: str) -> str:
        digits = get_currency_precision(currency)
        return format_currency(Decimal(amount_minor).scaleb(-digits), currency, locale=self.locale)

    def percent(self, value: Decimal, places: int = 3) -> str:
        """A percentage floored to ``places``: a measured 99.9996 is quoted as 99.999 %,
        never rounded up to a figure that was not achieved."""
        floored = value.quantize(Decimal(1).scaleb(-places), ROUND_FLOOR)
        return format_percent(floored / 100, locale=self.locale, decimal_quantization=False)

    def items(self, values: Sequence[str]) -> str:
        return format_list(list(values), locale=self.locale)

    def sites(self, domains: Sequence[str], shown: int = SITES_SHOWN) -> str:
        """'a.com, b.com, c.com and 4 more' / 'a.com, b.com, c.com y 4 más'."""
        if len(domains) <= shown + 1:
            return self.items(domains)
        rest = len(domains) - shown
        return self.items([*domains[:shown], self.n_("%(num)d more", "%(num)d more", rest)])
