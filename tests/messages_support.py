"""Builders and hypothesis strategies for composer tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

from amends.facts.kinds import CauseOwner, DataKind, Exposure
from amends.messages.inputs import CreditOffer, NoticeFacts, Recipient, TrackRecord

T0 = dt.datetime(2012, 9, 10, 17, 25, tzinfo=dt.UTC)  # 10:25 in Arizona
SIX_HOURS = dt.timedelta(hours=6)


def godaddy_facts(**overrides: object) -> NoticeFacts:
    """The 2012 outage as its facts were known two days later."""
    fields: dict[str, object] = {
        "company": "GoDaddy",
        "title": {"en": "DNS outage of 10 September", "es": "caída del DNS del 10 de septiembre"},
        "what_failed": {"en": "our DNS", "es": "nuestro DNS"},
        "customer_effect": {
            "en": "your websites and e-mail were unreachable, on and off, for about six hours",
            "es": "sus sitios web y su correo estuvieron inaccesibles, de forma intermitente, "
            "durante unas seis horas",
        },
        "started_at": T0,
        "resolved_at": T0 + SIX_HOURS,
        "root_cause": {
            "en": "a series of internal network events corrupted the data tables of our routers",
            "es": "una serie de eventos en nuestra red interna corrompió las tablas de datos "
            "de nuestros routers",
        },
        "cause_owner": CauseOwner.internal,
        "actions_taken": [
            {"en": "we restored the router tables", "es": "restauramos las tablas de los routers"}
        ],
        "actions_planned": [
            {
                "en": "check every router table change before it is applied",
                "es": "comprobar cada cambio en las tablas de los routers antes de aplicarlo",
            }
        ],
        "exposure": Exposure.none,
        "exposure_signed_off_by": "Ana Pérez (CISO)",
        "contact_point": "privacy@godaddy.example",
        "status_url": "https://status.godaddy.example/incidents/2012-09-10",
        "details_url": "https://gd.example/m/7Qx2",
        "signatory": "Scott Wagner, CEO",
    }
    fields.update(overrides)
    return NoticeFacts(**fields)  # type: ignore[arg-type]


def credit(sites: list[str], **overrides: object) -> CreditOffer:
    fields: dict[str, object] = {
        "amount_minor": 1299 * len(sites),
        "currency": "USD",
        "sites": sites,
        "available_at": T0 + dt.timedelta(days=2, hours=7),
        "redeem_url": "https://gd.example/r/3fZk9q",
        "months": 1,
    }
    fields.update(overrides)
    return CreditOffer(**fields)  # type: ignore[arg-type]


DNS_RECORD = TrackRecord(
    {"en": "our DNS", "es": "nuestro DNS"},
    Decimal("99.99931"),
    dt.datetime(2008, 1, 1, tzinfo=dt.UTC),
)

NAMES = st.sampled_from(
    ["Ana", "José Álvarez", "Zoë", "Seán O'Brien", "Ñuño", "Łukasz", "李雷", "<b>Bob</b> & Co", ""]
)
ZONES = st.sampled_from(
    ["UTC", "America/Phoenix", "Europe/Madrid", "America/Mexico_City", "Asia/Tokyo", "Pacific/Apia"]
)
LOCALES = st.sampled_from(["en", "es", "es_MX", "en_GB", "es-AR"])
DOMAINS = st.lists(
    st.from_regex(r"[a-z]{1,20}(-[a-z0-9]{1,10})?\.(com|es|mx|co\.uk)", fullmatch=True),
    max_size=12,
    unique=True,
)
SAFE_EFFECT = st.sampled_from(
    [
        {"en": "your websites did not load", "es": "sus sitios web no cargaban"},
        {"en": "e-mail was not delivered", "es": "el correo no se entregaba"},
        "",
    ]
)
SAFE_CAUSE = st.sampled_from(
    [
        {
            "en": "a configuration change of ours broke DNS",
            "es": "un cambio de configuración nuestro rompió el DNS",
        },
        {
            "en": "a disk in our storage cluster filled up",
            "es": "se llenó un disco de nuestro clúster",
        },
    ]
)
MOMENTS = st.datetimes(
    min_value=dt.datetime(2005, 1, 1), max_value=dt.datetime(2035, 1, 1), timezones=st.just(dt.UTC)
)


@st.composite
def facts(draw: st.DrawFn, exposure: Exposure | None = None) -> NoticeFacts:
    exposure = exposure or draw(st.sampled_from(list(Exposure)))
    signed = draw(st.sampled_from([None, "Ana Pérez"])) if exposure is Exposure.none else None
    kinds = (
        draw(st.lists(st.sampled_from(list(DataKind)), min_size=1, max_size=3, unique=True))
        if exposure is Exposure.confirmed
        else []
    )
    start = draw(MOMENTS)
    return godaddy_facts(
        customer_effect=draw(SAFE_EFFECT),
        root_cause=draw(SAFE_CAUSE),
        cause_owner=draw(st.sampled_from([*CauseOwner, None])),
        started_at=start,
        resolved_at=start + dt.timedelta(minutes=draw(st.integers(1, 5000))),
        next_update_at=start + dt.timedelta(minutes=30),
        ends_at=start + dt.timedelta(hours=2),
        exposure=exposure,
        exposure_signed_off_by=signed,
        exposed_data=kinds,
        actions_planned=draw(st.sampled_from([[], godaddy_facts().actions_planned])),
        company=draw(st.sampled_from(["GoDaddy", "Hostería Núñez S.L.", "A" * 60])),
    )


@st.composite
def credits(draw: st.DrawFn, sites: list[str]) -> CreditOffer | None:
    if not sites or draw(st.booleans()) is False:
        return None
    return CreditOffer(
        amount_minor=draw(st.integers(1, 10**9)),
        currency=draw(st.sampled_from(["USD", "EUR", "MXN", "JPY", "GBP", "ARS"])),
        sites=sites,
        available_at=draw(MOMENTS),
        redeem_url=draw(st.sampled_from([None, "https://gd.example/r/3fZk9qLm"])),
        months=draw(st.sampled_from([None, 1, 2, 3, 12])),
    )


RECIPIENTS = st.builds(Recipient, name=NAMES, timezone=ZONES)
TRACK = st.one_of(
    st.none(),
    st.builds(
        TrackRecord,
        service=st.just({"en": "our DNS", "es": "nuestro DNS"}),
        availability=st.decimals(min_value=Decimal("90"), max_value=Decimal("100"), places=5),
        since=st.just(dt.datetime(2008, 1, 1, tzinfo=dt.UTC)),
    ),
)
