"""The reference scenario: a 2012 hosting provider and its customers, synthesised.

DESIGN.md §6: components DNS, web hosting, e-mail, domains and website builder;
N customers with 1–3 sites each (≈ 2 N sites), Spanish and English, 60 % of
sites on the provider's DNS. Deterministic for a given seed, so the demo and
the benchmarks see the same data every time. Writes the provider's export
files (CSV, optionally gzipped) that ``amends import`` reads — the demo goes
through the same import path a real provider would.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

OUTAGE_START = dt.datetime(2012, 9, 10, 17, 25, tzinfo=dt.UTC)
OUTAGE_END = dt.datetime(2012, 9, 10, 23, 25, tzinfo=dt.UTC)

#: key, name, group, depends on, description
COMPONENTS = (
    ("dns", "DNS", "Infrastructure", (), "Name servers for customer domains"),
    ("web-hosting", "Web hosting", "Hosting", ("dns",), "Shared and managed website hosting"),
    ("email", "E-mail", "Hosting", ("dns",), "Mailboxes, IMAP/POP and SMTP"),
    ("domains", "Domain registration", "Infrastructure", (), "Registration and renewals"),
    ("website-builder", "Website builder", "Hosting", ("web-hosting",), "Drag-and-drop sites"),
)

CUSTOMER_FIELDS = (
    "external_id",
    "name",
    "email",
    "phone",
    "locale",
    "timezone",
    "tier",
    "channels",
    "opt_out",
)
SITE_FIELDS = (
    "external_id",
    "customer",
    "domain",
    "plan",
    "monthly_price_minor",
    "currency",
    "state",
    "components",
    "started_at",
    "ended_at",
)

_GIVEN = {
    "es": (
        "Lucía",
        "Martín",
        "Sofía",
        "Hugo",
        "Carmen",
        "José",
        "Begoña",
        "Íñigo",
        "Nuria",
        "Álvaro",
        "Pilar",
        "Raúl",
    ),
    "en": (
        "Olivia",
        "James",
        "Emma",
        "Liam",
        "Ava",
        "Noah",
        "Grace",
        "Ethan",
        "Chloe",
        "Mason",
        "Zoë",
        "Renée",
    ),
}
_FAMILY = {
    "es": (
        "García",
        "Fernández",
        "López",
        "Martínez",
        "Sánchez",
        "Pérez",
        "Gómez",
        "Núñez",
        "Muñoz",
        "Jiménez",
        "Ibáñez",
        "Domínguez",
    ),
    "en": (
        "Smith",
        "Johnson",
        "Brown",
        "Taylor",
        "Wilson",
        "Davies",
        "Evans",
        "O'Brien",
        "Walker",
        "Wright",
        "Robinson",
        "Thompson",
    ),
}
_ZONES = {
    "es": ("Europe/Madrid", "America/Mexico_City", "America/Bogota"),
    "en": ("America/Los_Angeles", "America/New_York", "America/Chicago", "Europe/London"),
}
_PLANS = (("economy", 499), ("deluxe", 799), ("ultimate", 1299), ("business", 2499))
_TIERS = (("standard", 0.85), ("premium", 0.12), ("enterprise", 0.03))


@dataclass(frozen=True)
class ScenarioFiles:
    customers: Path
    sites: Path
    customer_count: int
    site_count: int


def _ascii(name: str) -> str:
    """Lucía → lucia: the local part of the synthetic addresses stays ASCII."""
    return unicodedata.normalize("NFKD", name.lower()).encode("ascii", "ignore").decode()


def _tier(rng: random.Random) -> str:
    roll = rng.random()
    for name, share in _TIERS:
        if roll < share:
            return name
        roll -= share
    return _TIERS[0][0]


def customer_rows(count: int, seed: int) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed)
    for n in range(1, count + 1):
        locale = "es" if rng.random() < 0.5 else "en"
        given, family = rng.choice(_GIVEN[locale]), rng.choice(_FAMILY[locale])
        has_phone = rng.random() < 0.7
        phone = (
            (
                f"+346{rng.randrange(10_000_000, 99_999_999)}"
                if locale == "es"
                else f"+1212{rng.randrange(2_000_000, 9_999_999)}"
            )
            if has_phone
            else ""
        )
        channels = "email;sms" if has_phone and rng.random() < 0.5 else "email"
        opt_out = "sms" if "sms" in channels and rng.random() < 0.05 else ""
        yield (
            f"C{n:08d}",
            f"{given} {family}",
            f"{_ascii(given)}.{n}@example.com",
            phone,
            locale,
            rng.choice(_ZONES[locale]),
            _tier(rng),
            channels,
            opt_out,
        )


def _site_components(rng: random.Random) -> str:
    if rng.random() >= 0.6:  # 40 %: registration only, DNS elsewhere
        return "domains"
    parts = ["dns", "web-hosting"]
    if rng.random() < 0.5:
        parts.append("email")
    if rng.random() < 0.2:
        parts.append("website-builder")
    return ";".join(parts)


def _site_dates(rng: random.Random) -> tuple[str, str, str]:
    """Mostly live sites; a few cancelled before, during or after the outage,
    a few created while it was going on."""
    roll = rng.random()
    started = OUTAGE_START - dt.timedelta(days=rng.randrange(1, 4 * 365))
    if roll < 0.03:
        ended = OUTAGE_START - dt.timedelta(days=rng.randrange(0, 30), hours=1)
        started = min(started, ended - dt.timedelta(days=1))
        return "cancelled", started.isoformat(), ended.isoformat()
    if roll < 0.04:
        return "cancelled", started.isoformat(), (OUTAGE_START + dt.timedelta(hours=2)).isoformat()
    if roll < 0.045:
        return "active", (OUTAGE_START + dt.timedelta(hours=1)).isoformat(), ""
    if roll < 0.06:
        return "suspended", started.isoformat(), ""
    return ("published" if rng.random() < 0.8 else "active"), started.isoformat(), ""


def site_rows(customers: int, seed: int) -> Iterator[tuple[object, ...]]:
    rng = random.Random(seed + 1)
    n = 0
    for c in range(1, customers + 1):
        currency = "EUR" if rng.random() < 0.5 else "USD"
        for _ in range(rng.choice((1, 2, 2, 3))):
            n += 1
            plan, price = rng.choice(_PLANS)
            state, started, ended = _site_dates(rng)
            yield (
                f"S{n:09d}",
                f"C{c:08d}",
                f"site{n}.example.{'es' if currency == 'EUR' else 'com'}",
                plan,
                price,
                currency,
                state,
                _site_components(rng),
                started,
                ended,
            )


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1)
    return path.open("w", encoding="utf-8", newline="")


def _write(path: Path, fields: tuple[str, ...], rows: Iterator[tuple[object, ...]]) -> int:
    count = 0
    with _open(path) as out:
        writer = csv.writer(out)
        writer.writerow(fields)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def write_files(directory: Path, customers: int, seed: int, gz: bool = False) -> ScenarioFiles:
    """Write ``customers.csv`` and ``sites.csv`` (``.gz`` with ``gz``) for the scenario."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".csv.gz" if gz else ".csv"
    customers_path = directory / f"customers{suffix}"
    sites_path = directory / f"sites{suffix}"
    customer_count = _write(customers_path, CUSTOMER_FIELDS, customer_rows(customers, seed))
    site_count = _write(sites_path, SITE_FIELDS, site_rows(customers, seed))
    return ScenarioFiles(customers_path, sites_path, customer_count, site_count)
