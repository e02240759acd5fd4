"""Who is hit, over HTTP: the summary, and the export streamed as CSV or JSONL.

The export must be byte for byte what the service (and so ``amends impact
--export``) writes for the same incident.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

import anyio
import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from amends.api import streaming
from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.catalog.models import SiteState
from amends.config import Settings
from amends.db import unit_of_work
from amends.impact import export as impact_export
from amends.impact import summary as impact_summary
from amends.incidents import service as incident_service
from tests import factories
from tests.api_support import API, error_of, in_process, issue_key

pytestmark = pytest.mark.anyio

T0 = factories.T0
SITES = 120


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The 2012 provider: many sites on DNS-dependent services, a few that must not count."""
    app = create_app(settings)
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        for n in range(SITES):
            owner = factories.customer(
                session,
                name=f"Cliente «{n}», S.L.",  # commas, quotes and accents survive both formats
                locale="es" if n % 3 else "en",
                tier="premium" if n % 5 == 0 else "standard",
                phone="+34612345678" if n % 2 else None,
                channels="email;sms" if n % 2 else "email",
            )
            factories.site(session, owner, ["web-hosting", "email"] if n % 4 else ["dns"])
        spared = factories.customer(session, name="Domains only")
        factories.site(session, spared, ["domains"])
        gone = factories.customer(session, name="Left before")
        factories.site(
            session,
            gone,
            ["dns"],
            state=SiteState.cancelled,
            ended=T0 - dt.timedelta(days=30),
        )
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app, key=issue_key(app, Scope.write)) as client:
        yield client


async def _resolved_outage(client: httpx.AsyncClient) -> int:
    """A finished incident: its windows no longer move with the clock."""
    opened = await client.post(
        f"{API}/incidents",
        json={"title": "DNS", "components": {"dns": "major_outage"}, "started_at": T0.isoformat()},
    )
    iid: int = opened.json()["id"]
    resolved = await client.post(
        f"{API}/incidents/{iid}/resolve",
        json={"message": "Back", "resolved_at": (T0 + dt.timedelta(hours=6)).isoformat()},
    )
    assert resolved.status_code == 200, resolved.text
    return iid


def _service_export(app: FastAPI, incident_id: int, fmt: str) -> str:
    out = io.StringIO(newline="")
    with app.state.sessions() as session:
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        impact_export.export(session=session, incident=incident, out=out, fmt=fmt)  # type: ignore[arg-type]
    return out.getvalue()


async def test_summary_counts_who_is_hit(app: FastAPI, client: httpx.AsyncClient) -> None:
    iid = await _resolved_outage(client)
    response = await client.get(f"{API}/incidents/{iid}/impact")
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["sites"], summary["customers"], summary["ongoing"]) == (SITES, SITES, False)
    assert summary["window_start"] == "2012-09-10T17:25:00Z"
    assert summary["window_end"] == "2012-09-10T23:25:00Z"
    assert summary["by_component"] == {"dns": SITES // 4, "email": 90, "web-hosting": 90}
    assert summary["by_tier"] == {"premium": SITES // 5, "standard": SITES - SITES // 5}
    assert summary["by_channel"]["sms"] == SITES // 2
    with app.state.sessions() as session:
        incident = incident_service.get_incident(session=session, incident_id=iid)
        expected = impact_summary.summarize(session=session, incident=incident)
    assert summary == expected.model_dump(mode="json")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_is_what_the_service_and_the_cli_write(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient, tmp_path: Path, fmt: str
) -> None:
    from amends.cli import app as cli

    iid = await _resolved_outage(client)
    response = await client.get(f"{API}/incidents/{iid}/impact/export", params={"format": fmt})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        {"csv": "text/csv", "jsonl": "application/x-ndjson"}[fmt]
    )
    assert response.headers["content-disposition"] == (
        f'attachment; filename="incident-{iid}-impact.{fmt}"'
    )
    body = response.content.decode("utf-8")
    assert body == _service_export(app, iid, fmt)

    exported = tmp_path / f"affected.{fmt}"
    result = CliRunner().invoke(
        cli,
        [
            "--database-url",
            settings.database_url,
            "impact",
            str(iid),
            "--export",
            str(exported),
            "--format",
            fmt,
        ],
    )
    assert result.exit_code == 0, result.output
    assert exported.read_bytes() == response.content

    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(body)))
    else:
        rows = [json.loads(line) for line in body.splitlines()]
    assert len(rows) == SITES
    assert {r["customer_name"] for r in rows} >= {"Cliente «0», S.L."}
    assert "Domains only" not in body and "Left before" not in body


async def test_export_defaults_to_csv(client: httpx.AsyncClient) -> None:
    iid = await _resolved_outage(client)
    async with client.stream("GET", f"{API}/incidents/{iid}/impact/export") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        first = (await response.aread()).decode().splitlines()[0]
    assert first.split(",") == list(impact_export.EXPORT_FIELDS)


async def test_export_errors_are_json_before_the_stream_starts(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    error_of(await client.get(f"{API}/incidents/404/impact/export"), 404, "not_found")
    error_of(await client.get(f"{API}/incidents/404/impact"), 404, "not_found")
    iid = await _resolved_outage(client)
    bad = await client.get(f"{API}/incidents/{iid}/impact/export", params={"format": "xlsx"})
    assert error_of(bad, 422, "validation_failed")["field"] == "format"
    async with in_process(app) as anonymous:
        response = await anonymous.get(f"{API}/incidents/{iid}/impact/export")
    error_of(response, 401, "unauthorized")
    assert "Cliente" not in response.text


async def test_a_read_key_may_export(app: FastAPI, client: httpx.AsyncClient) -> None:
    iid = await _resolved_outage(client)
    async with in_process(app, key=issue_key(app, Scope.read)) as reader:
        assert (await reader.get(f"{API}/incidents/{iid}/impact/export")).status_code == 200


# -- streaming: a writer turned into an iterator -------------------------------------


def test_stream_writes_yields_everything_in_bounded_chunks() -> None:
    line = "x" * 99 + "\n"

    def produce(out: TextIO) -> int:
        for _ in range(3000):  # 300,000 characters: several chunks
            out.write(line)
        return 3000

    chunks = list(streaming.stream_writes(produce, name="test-export"))
    assert b"".join(chunks) == (line * 3000).encode()
    assert len(chunks) > 1
    assert all(len(c) < streaming.CHUNK_CHARS + len(line) for c in chunks)


def test_stream_writes_reraises_the_writers_error_mid_stream() -> None:
    def produce(out: TextIO) -> None:
        out.write("a" * streaming.CHUNK_CHARS)
        raise RuntimeError("database went away")

    stream = streaming.stream_writes(produce, name="test-failing")
    assert next(stream) == b"a" * streaming.CHUNK_CHARS
    with pytest.raises(RuntimeError, match="database went away"):
        next(stream)


def test_stream_writes_stops_the_writer_when_the_reader_leaves() -> None:
    stopped = threading.Event()

    def produce(out: TextIO) -> None:
        try:
            while True:  # an endless export: only the reader leaving ends it
                out.write("y" * 1024)
        finally:
            stopped.set()

    stream = streaming.stream_writes(produce, name="test-abandoned")
    next(stream)
    stream.close()  # what Starlette does when the client disconnects
    assert stopped.wait(timeout=5), "the writer thread kept running"


async def test_a_slow_export_does_not_hold_up_writers(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: an export streams for as long as its client reads, which may be
    minutes. It must not hold the writer lock meanwhile, or every incident
    update during the outage would wait for the download (then fail)."""
    app = create_app(Settings(database_url=sqlite_url, auto_migrate=False))
    with unit_of_work(app.state.sessions) as session:
        factories.hosting_catalog(session)
        factories.site(session, factories.customer(session), ["dns"])
    exporting, resume = threading.Event(), threading.Event()
    real_export = impact_export.export

    def paused_export(**kwargs: object) -> int:
        """Inside the export's transaction, as if its client had stopped reading."""
        written = real_export(**kwargs)  # type: ignore[arg-type]
        exporting.set()
        resume.wait(timeout=10)
        return written

    monkeypatch.setattr(impact_export, "export", paused_export)

    async def write_meanwhile() -> None:
        assert await anyio.to_thread.run_sync(exporting.wait, 10)
        try:
            writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=1)
            writer.isolation_level = None
            try:
                writer.execute("BEGIN IMMEDIATE")  # what every amends writer does
                writer.execute("UPDATE components SET description = 'busy' WHERE key = 'dns'")
                writer.execute("COMMIT")
            finally:
                writer.close()
        finally:
            resume.set()

    async with in_process(app, key=issue_key(app, Scope.read)) as client:
        iid = await _resolved_outage_via_service(app)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write_meanwhile)
            response = await client.get(f"{API}/incidents/{iid}/impact/export")
    assert response.status_code == 200
    assert response.text.count("\n") == 2  # header and the one site


async def _resolved_outage_via_service(app: FastAPI) -> int:
    with unit_of_work(app.state.sessions) as session:
        incident = incident_service.open_incident(
            session=session, title="DNS", components={"dns": "major_outage"}, started_at=T0
        )
        incident_service.resolve(
            session=session,
            incident_id=incident.id,
            message="Back",
            resolved_at=T0 + dt.timedelta(hours=1),
        )
        return incident.id
