"""The public status page: Statuspage-shaped JSON, feeds, languages, export, privacy."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

import feedparser
import icalendar
import pytest
from babel.dates import format_date
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from amends.api.app import create_app
from amends.config import Settings, StatusPageSpec
from amends.db import unit_of_work
from amends.errors import ValidationFailed
from amends.statuspage import export as site_export
from amends.statuspage import render
from amends.statuspage import service as statuspage_service
from amends.statuspage.site import Site
from tests.api_support import in_process
from tests.statuspage_support import (
    OLD_TITLE,
    OUTAGE_TITLE,
    SECRETS,
    build_world,
    resolve_outage,
)

pytestmark = pytest.mark.anyio

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)

# -- a conformance client written from Atlassian's documented v2 fields --------

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
COMPONENT_STATUSES = {
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance",
}  # fmt: skip
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}
INDICATORS = {"none", "minor", "major", "critical", "maintenance"}


def _time(value: Any, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    assert isinstance(value, str) and ISO.match(value), value


def check_page(page: dict[str, Any]) -> None:
    assert set(page) >= {"id", "name", "url", "time_zone", "updated_at"}
    assert all(isinstance(page[k], str) for k in ("id", "name", "url", "time_zone"))
    _time(page["updated_at"])


def check_component(c: dict[str, Any]) -> None:
    for key, kind in (
        ("id", str), ("name", str), ("status", str), ("position", int), ("showcase", bool),
        ("page_id", str), ("group", bool), ("only_show_if_degraded", bool),
    ):  # fmt: skip
        assert isinstance(c[key], kind), (key, c)
    assert c["status"] in COMPONENT_STATUSES
    _time(c["created_at"])
    _time(c["updated_at"])
    assert c["description"] is None or isinstance(c["description"], str)
    assert c["group_id"] is None or isinstance(c["group_id"], str)
    if c["group"]:
        assert all(isinstance(i, str) for i in c["components"])


def check_incident(i: dict[str, Any], maintenance: bool = False) -> None:
    for key in ("id", "name", "status", "impact", "shortlink", "page_id"):
        assert isinstance(i[key], str), (key, i)
    assert i["status"] in (MAINTENANCE_STATUSES if maintenance else INCIDENT_STATUSES), i
    assert i["impact"] in IMPACTS
    for key in ("created_at", "updated_at", "started_at"):
        _time(i[key])
    for key in ("monitoring_at", "resolved_at"):
        _time(i[key], nullable=True)
    if maintenance:
        _time(i["scheduled_for"])
        _time(i["scheduled_until"])
    assert i["incident_updates"], i
    for u in i["incident_updates"]:
        assert set(u) >= {"id", "status", "body", "incident_id", "created_at", "updated_at",
                          "display_at", "affected_components"}  # fmt: skip
        assert u["incident_id"] == i["id"] and isinstance(u["body"], str)
        for key in ("created_at", "updated_at", "display_at"):
            _time(u[key])
    for c in i["components"]:
        check_component(c)


def check_document(name: str, doc: dict[str, Any]) -> None:
    check_page(doc["page"])
    if "status" in doc:
        assert doc["status"]["indicator"] in INDICATORS
        assert isinstance(doc["status"]["description"], str)
    for c in doc.get("components", []):
        check_component(c)
    for i in doc.get("incidents", []):
        check_incident(i)
    for m in doc.get("scheduled_maintenances", []):
        check_incident(m, maintenance=True)
    expected = {
        "summary.json": {"page", "components", "incidents", "scheduled_maintenances", "status"},
        "status.json": {"page", "status"},
        "components.json": {"page", "components"},
    }.get(name)
    if expected:
        assert set(doc) == expected, (name, set(doc))


ENDPOINTS = (
    "summary.json", "status.json", "components.json", "incidents.json",
    "incidents/unresolved.json", "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json", "scheduled-maintenances/active.json",
)  # fmt: skip


def _world(sessions: sessionmaker[Session], **options: Any) -> dict[str, int]:
    with unit_of_work(sessions) as session:
        return build_world(session, NOW, **options)


async def test_statuspage_v2_endpoints_conform_during_and_after_an_outage(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    ids = _world(sessions)
    settings = settings.model_copy(update={"statuspage_cache_seconds": 0})
    app = create_app(settings)
    async with in_process(app) as client:
        for name in ENDPOINTS:
            response = await client.get(f"/api/v2/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"] == "application/json"
            check_document(name, response.json())
        summary = (await client.get("/api/v2/summary.json")).json()
        assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
        assert [i["name"] for i in summary["incidents"]] == [OUTAGE_TITLE]
        statuses = {c["id"]: c["status"] for c in summary["components"]}
        assert statuses["dns"] == "major_outage" and statuses["email"] == "operational"
        assert statuses["group-core"] == "major_outage"
        upcoming = (await client.get("/api/v2/scheduled-maintenances/upcoming.json")).json()
        assert [m["id"] for m in upcoming["scheduled_maintenances"]] == [str(ids["upcoming"])]
        history = (await client.get("/api/v2/incidents.json")).json()["incidents"]
        old = next(i for i in history if i["name"] == OLD_TITLE)
        assert old["status"] == "postmortem" and old["resolved_at"]

        with unit_of_work(sessions) as session:
            resolve_outage(session, ids["outage"], NOW)
        summary = (await client.get("/api/v2/summary.json")).json()
        check_document("summary.json", summary)
        assert summary["status"]["indicator"] == "none"
        assert summary["incidents"] == []
        unresolved = (await client.get("/api/v2/incidents/unresolved.json")).json()
        assert unresolved["incidents"] == []


async def test_pages_follow_accept_language_and_the_explicit_switch(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    ids = _world(sessions)
    app = create_app(settings)
    async with in_process(app) as client:
        spanish = await client.get("/", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
        assert spanish.headers["content-language"] == "es"
        assert '<html lang="es">' in spanish.text and "Incidencias activas" in spanish.text
        forced = await client.get("/?lang=en", headers={"Accept-Language": "es"})
        assert '<html lang="en">' in forced.text and "Active incidents" in forced.text
        assert "Accept-Language" in forced.headers["vary"]
        english = await client.get("/en/")
        assert OUTAGE_TITLE in english.text and 'href="../es/"' in english.text
        page = await client.get(f"/es/incidents/{ids['old']}.html")
        assert "Análisis posterior" in page.text and "We now stage updates." in page.text
        month = format_date(NOW, "LLLL yyyy", locale="es").capitalize()
        assert month in (await client.get("/es/history.html")).text
        assert (await client.get("/en/incidents/999999.html")).status_code == 404


@given(st.text(max_size=200))
def test_any_accept_language_header_picks_a_language_we_have(header: str) -> None:
    assert render.negotiate(header, "es") in render.LANGUAGES


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["en", "es", "fr", "es-AR", "en-GB", "de-DE", "*"]),
            st.integers(1, 1000),
        ),
        max_size=5,
    )
)
def test_negotiation_prefers_the_highest_quality_language_we_have(
    choices: list[tuple[str, int]],
) -> None:
    header = ",".join(f"{tag};q={q / 1000:.3f}" for tag, q in choices)
    ours = [(q, tag[:2]) for tag, q in choices if tag[:2] in render.LANGUAGES]
    expected = max(ours, key=lambda pair: pair[0])[0] if ours else None
    chosen = render.negotiate(header, "en")
    if expected is None:
        assert chosen == "en"
    else:
        assert any(q == expected and tag == chosen for q, tag in ours)


def test_language_negotiation() -> None:
    assert render.negotiate("es-MX,es;q=0.9") == "es"
    assert render.negotiate("fr-FR,en;q=0.5") == "en"
    assert render.negotiate("de") == "en"
    assert render.negotiate(None, "es") == "es"
    assert render.negotiate("en;q=0.1,es;q=0.8") == "es"


async def test_atom_and_rss_feeds_parse_with_feedparser_and_calendar_with_icalendar(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    ids = _world(sessions)
    app = create_app(settings)
    async with in_process(app) as client:
        atom = feedparser.parse((await client.get("/history.atom")).content)
        rss = feedparser.parse((await client.get("/history.rss")).content)
        ics = (await client.get("/maintenance.ics")).content
        badge = await client.get("/badges/dns.svg")
        uptime_badge = await client.get("/badges/dns-uptime.svg")
    assert not atom.bozo and atom.version == "atom10"
    assert not rss.bozo and rss.version.startswith("rss")
    for feed in (atom, rss):
        titles = {e.title for e in feed.entries}
        assert {OUTAGE_TITLE, OLD_TITLE, "Database upgrade"} <= titles
        outage = next(e for e in feed.entries if e.title == OUTAGE_TITLE)
        assert outage.link.endswith(f"/en/incidents/{ids['outage']}.html")
    old = next(e for e in atom.entries if e.title == OLD_TITLE)
    assert "Queues drained." in old.content[0].value
    calendar = icalendar.Calendar.from_ical(ics)
    events = list(calendar.walk("VEVENT"))
    assert [str(e["summary"]) for e in events] == ["Database upgrade"]
    assert events[0].decoded("dtend") - events[0].decoded("dtstart") == dt.timedelta(hours=2)
    assert badge.headers["content-type"] == "image/svg+xml"
    assert b"major outage" in badge.content
    assert re.search(rb"\d+\.\d\d%", uptime_badge.content)


def test_uptime_bars_weigh_the_outage_on_its_day(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    now = dt.datetime(2030, 5, 10, 12, 0, tzinfo=dt.UTC)
    with unit_of_work(sessions) as session:
        build_world(session, now, personal=False)
        snap = statuspage_service.snapshot(session=session, settings=settings, now=now)
    dns = next(c for c in snap.components if c.key == "dns")
    email = next(c for c in snap.components if c.key == "email")
    assert len(dns.bars) == 90 and dns.bars[-1].day == now.date()
    # two hours of major outage in the twelve hours elapsed today
    assert dns.bars[-1].availability == pytest.approx(1 - 2 / 12)
    assert dns.bars[-1].incident_ids and dns.bars[-2].incident_ids == []
    # three hours of partial outage (weight 0.5) ten days ago, across midnight-free hours
    ten_days = email.bars[-11]
    assert ten_days.worst.value == "partial_outage"
    assert ten_days.availability == pytest.approx(1 - 0.5 * 3 / 24)
    # Web hosting needs DNS: down with it today, though no incident named it
    # (the same measure as credits and the track record); domains do not.
    hosting = next(c for c in snap.components if c.key == "web-hosting")
    domains = next(c for c in snap.components if c.key == "domains")
    assert hosting.bars[-1].availability == pytest.approx(1 - 2 / 12)
    assert domains.bars[-1].availability == 1.0


def test_postmortem_needs_a_resolved_incident(
    sessions: sessionmaker[Session],
) -> None:
    ids = _world(sessions)
    with unit_of_work(sessions) as session, pytest.raises(ValidationFailed):
        statuspage_service.publish_postmortem(
            session=session, incident_id=ids["outage"], body="too early"
        )


def _export(settings: Settings, sessions: sessionmaker[Session], out: Path) -> Any:
    return site_export.export(
        reading=lambda: unit_of_work(sessions), settings=settings, directory=out
    )[0]


def test_export_writes_the_whole_site_and_is_idempotent(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = _world(sessions)
    out = tmp_path / "site"

    def load() -> Site:
        # a fixed clock: today's availability moves with time during an outage
        with unit_of_work(sessions) as session:
            return Site.load(session=session, settings=settings, now=NOW)

    first = site_export.export_site(load(), out)
    for path in (
        "index.html", "en/index.html", "es/index.html", "en/history.html",
        f"es/incidents/{ids['old']}.html", "api/v2/summary.json", "history.atom",
        "history.rss", "maintenance.ics", "badges/dns.svg", "assets/status.css",
        "assets/local-time.js",
    ):  # fmt: skip
        assert (out / path).is_file(), path
    assert first.unchanged == 0 and len(first.written) == first.total
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    before = load()
    second = site_export.export_site(before, out)
    assert second.written == [] and second.unchanged == first.total
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes

    with unit_of_work(sessions) as session:
        resolve_outage(session, ids["outage"], NOW + dt.timedelta(seconds=1))
    after = load()
    third = site_export.export_site(after, out, previous=before)
    assert "api/v2/summary.json" in third.written
    assert f"en/incidents/{ids['outage']}.html" in third.written
    assert "assets/status.css" not in third.written
    # the old incident's page was skipped without rendering, and is still right
    old_page = f"en/incidents/{ids['old']}.html"
    assert old_page not in third.written
    assert after.render(old_page) == (out / old_page).read_bytes()
    assert not any(p.name.startswith(site_export.TEMP_PREFIX) for p in out.rglob("*"))


def test_export_readers_never_see_a_partial_file(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """A reader polling the export while it is rewritten over and over only
    ever reads complete documents, and never sees a temporary file's name."""
    _world(sessions, personal=False)
    with unit_of_work(sessions) as session:
        site = Site.load(session=session, settings=settings)
    out = tmp_path / "site"
    site_export.export_site(site, out)
    target = out / "api" / "v2" / "summary.json"
    big = out / "en" / "index.html"
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            if not data.endswith(b"}}"):
                problems.append(f"truncated summary: {len(data)} bytes")
            if not big.read_bytes().rstrip().endswith(b"</html>"):
                problems.append("truncated page")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(150):
            doc = json.loads(target.read_bytes())
            doc["page"]["name"] = f"run {n} " + "x" * (n * 97 % 5000)
            site_export.write_atomically(target, json.dumps(doc).encode())
            html = big.read_bytes().replace(
                b"</html>", b"<!-- " + b"y" * (n * 131) + b" --></html>"
            )
            site_export.write_atomically(big, html)
            listing = [p.name for p in target.parent.iterdir()]
            assert set(listing) <= {
                "summary.json",
                "status.json",
                "components.json",
                "incidents.json",
                "incidents",
                "scheduled-maintenances.json",
                "scheduled-maintenances",
            }
    finally:
        stop.set()
        reader.join()
    assert problems == []


async def test_no_personal_data_anywhere_in_pages_or_export(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = _world(sessions)
    out = tmp_path / "site"
    result = _export(settings, sessions, out)
    assert result.total > 20
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            for secret in SECRETS:
                assert secret.lower().encode() not in data, (path, secret)
    app = create_app(settings)
    async with in_process(app) as client:
        for url in ("/", "/es/", "/en/history.html", f"/en/incidents/{ids['outage']}.html",
                    *(f"/api/v2/{e}" for e in ENDPOINTS)):  # fmt: skip
            body = (await client.get(url)).text.lower()
            assert not any(s.lower() in body for s in SECRETS), url


async def test_several_pages_show_only_their_components(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    _world(sessions, personal=False)
    mail_page = StatusPageSpec(slug="mail", name="Mail status", components=["email"])
    settings = settings.model_copy(update={"statuspage_pages": [mail_page]})
    app = create_app(settings)
    async with in_process(app) as client:
        summary = (await client.get("/pages/mail/api/v2/summary.json")).json()
        check_document("summary.json", summary)
        assert [c["id"] for c in summary["components"] if not c["group"]] == ["email"]
        assert summary["status"]["indicator"] == "none" and summary["incidents"] == []
        assert summary["page"]["id"] == "mail" and summary["page"]["name"] == "Mail status"
        home = await client.get("/pages/mail/", headers={"Accept-Language": "es"})
        assert "Mail status" in home.text and OUTAGE_TITLE not in home.text
        assert 'href="../../assets/status.css"' in home.text
        assert (await client.get("/pages/nope/api/v2/summary.json")).status_code == 404


async def test_customisation_from_settings(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _world(sessions, personal=False)
    css = tmp_path / "brand.css"
    css.write_text("body { font-family: serif; }")
    settings = settings.model_copy(
        update={
            "statuspage_name": "Acme Hosting status",
            "statuspage_logo_url": "https://acme.example/logo.svg",
            "statuspage_colours": {"accent": "#123456"},
            "statuspage_footer": "Acme Hosting S.L.",
            "statuspage_css_file": css,
        }
    )
    app = create_app(settings)
    async with in_process(app) as client:
        home = (await client.get("/en/")).text
        assert "Acme Hosting status" in home and "https://acme.example/logo.svg" in home
        assert "--accent:#123456" in home and "Acme Hosting S.L." in home
        assert 'href="../assets/custom.css"' in home
        assert (await client.get("/assets/custom.css")).text == css.read_text()


def test_the_demo_leaves_the_2012_incident_and_its_postmortem_on_the_page(
    sqlite_url: str, tmp_path: Path
) -> None:
    from amends import demo
    from amends.db import make_engine, session_factory

    engine = make_engine(sqlite_url)
    try:
        result = demo.run(engine, workdir=tmp_path, customers=50, seed=3)
        with unit_of_work(session_factory(engine)) as session:
            site = Site.load(session=session, settings=Settings(database_url=sqlite_url))
    finally:
        engine.dispose()
    page = site.render(f"en/incidents/{result.incident_id}.html")
    assert page is not None
    text = page.decode()
    assert "Intermittent outage of websites, e-mail and DNS" in text
    assert "Postmortem" in text and "corrupted the data tables" in text
    assert (
        text.count('<li>\n    <h4><span class="pill') == 4
    )  # opened, identified, monitoring, resolved
    history = site.render("es/history.html")
    assert history is not None and "Septiembre 2012" in history.decode()
    summary = json.loads(site.render("api/v2/incidents.json") or b"{}")
    assert summary["incidents"][0]["status"] == "postmortem"


def test_watch_rewrites_the_export_after_an_incident_changes(
    settings: Settings, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ids = _world(sessions, personal=False)
    out = tmp_path / "site"
    stop = threading.Event()
    exports: list[site_export.ExportResult] = []
    watcher = threading.Thread(
        target=site_export.watch,
        kwargs={
            "reading": lambda: unit_of_work(sessions),
            "settings": settings,
            "directory": out,
            "interval": 0.1,
            "on_export": exports.append,
            "should_stop": stop.is_set,
        },
    )
    watcher.start()
    try:
        summary = out / "api" / "v2" / "summary.json"
        deadline = dt.datetime.now() + dt.timedelta(seconds=30)
        while not exports and dt.datetime.now() < deadline:
            stop.wait(0.05)
        assert json.loads(summary.read_bytes())["status"]["indicator"] == "critical"
        with unit_of_work(sessions) as session:
            resolve_outage(session, ids["outage"], NOW + dt.timedelta(seconds=1))
        while len(exports) < 2 and dt.datetime.now() < deadline:
            stop.wait(0.05)
        assert json.loads(summary.read_bytes())["status"]["indicator"] == "none"
        assert "api/v2/summary.json" in exports[1].written
    finally:
        stop.set()
        watcher.join(10)
    assert not watcher.is_alive()


def test_cli_export_and_postmortem(sqlite_url: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from amends.cli import app
    from amends.db import make_engine, session_factory

    engine = make_engine(sqlite_url)
    with unit_of_work(session_factory(engine)) as session:
        ids = build_world(session, NOW, personal=False)
    engine.dispose()
    runner = CliRunner()
    env = {"AMENDS_DATABASE_URL": sqlite_url}
    text = tmp_path / "pm.txt"
    text.write_text("Root cause: a tired router.")
    done = runner.invoke(
        app, ["statuspage", "postmortem", str(ids["old"]), "-f", str(text)], env=env
    )
    assert done.exit_code == 0, done.output
    refused = runner.invoke(
        app, ["statuspage", "postmortem", str(ids["outage"]), "-f", str(text)], env=env
    )
    assert refused.exit_code == 1 and "validation_failed" in refused.output
    out = tmp_path / "site"
    exported = runner.invoke(app, ["statuspage", "export", str(out)], env=env)
    assert exported.exit_code == 0 and "written" in exported.output, exported.output
    assert "a tired router" in (out / "en" / "incidents" / f"{ids['old']}.html").read_text()
