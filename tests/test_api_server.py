"""The API as operators run it: ``amends serve`` in its own process, spoken to over TCP.

In-process tests cannot catch what only a real server does: the CLI wiring,
Uvicorn's own error handling, chunked streaming of the export over a socket.
"""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import CliRunner

from amends.api.app import API_PREFIX, create_app
from amends.api.auth import Reader
from amends.catalog import service as catalog_service
from amends.config import Settings
from amends.db import make_engine, session_factory
from amends.impact import export as impact_export
from amends.incidents import service as incident_service
from tests import factories

STARTUP_SECONDS = 30

PATHS = {
    "/bounces",
    "/incidents/{incident_id}/apology",
    "/audit",
    "/incidents/{incident_id}/facts",
    "/incidents/{incident_id}/exposure",
    "/components",
    "/components/{key}",
    "/status",
    "/customers",
    "/customers/{external_id}",
    "/customers/{external_id}/opt-out/{channel}",
    "/subscribers",
    "/subscribers/{subscriber_id}",
    "/incidents",
    "/incidents/{incident_id}",
    "/incidents/{incident_id}/updates",
    "/incidents/{incident_id}/resolve",
    "/incidents/{incident_id}/cadence",
    "/incidents/{incident_id}/impact",
    "/incidents/{incident_id}/impact/export",
    "/incidents/{incident_id}/deliveries",
    "/incidents/{incident_id}/deliveries/pause",
    "/incidents/{incident_id}/deliveries/resume",
    "/incidents/{incident_id}/drafts",
    "/incidents/{incident_id}/drafts/{draft_id}",
    "/incidents/{incident_id}/drafts/{draft_id}/versions",
    "/incidents/{incident_id}/drafts/{draft_id}/request",
    "/incidents/{incident_id}/drafts/{draft_id}/preview",
    "/incidents/{incident_id}/drafts/{draft_id}/send",
    "/incidents/{incident_id}/drafts/{draft_id}/discard",
    "/maintenance",
    "/intake/alertmanager",
    "/intake/events",
    "/intake/rules",
    "/intake/drafts",
    "/intake/drafts/{draft_id}",
    "/intake/drafts/{draft_id}/publish",
    "/intake/drafts/{draft_id}/discard",
    "/apikeys",
    "/apikeys/{prefix}",
    "/components/{key}/availability",
    "/credit-policies",
    "/incidents/{incident_id}/credits",
    "/incidents/{incident_id}/credits/preview",
    "/incidents/{incident_id}/credits/report",
    "/credits",
    "/credits/applied",
    "/credits/export.csv",
    "/credits/webhooks",
    "/credits/webhooks/{endpoint_id}",
    "/credits/webhooks/{endpoint_id}/enable",
    "/account-managers",
    "/incidents/{incident_id}/calls",
    "/calls/{assignment_id}/outcome",
    "/incidents/{incident_id}/report",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(base: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert alive(), "the server stopped while starting"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"no answer from {base} within {STARTUP_SECONDS}s")


def _cli_key(settings: Settings, scope: str) -> str:
    from amends.cli import app as cli

    result = CliRunner().invoke(
        cli, ["--database-url", settings.database_url, "apikey", "create", "--scope", scope]
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``amends serve`` on a free port; yields its base URL."""
    port = _free_port()
    log = (tmp_path / "serve.log").open("w+")
    command = [sys.executable, "-c", "from amends.cli import main; main()"]
    args = ["--database-url", settings.database_url, "serve", "--port", str(port)]
    process = subprocess.Popen([*command, *args], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, lambda: process.poll() is None)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.seek(0)
        output = log.read()
        log.close()
        assert "Traceback" not in output, output


def test_amends_serve_over_http(settings: Settings, served: str) -> None:
    write = {"Authorization": f"Bearer {_cli_key(settings, 'write')}"}
    api = f"{served}{API_PREFIX}"
    with httpx.Client(base_url=api, timeout=10) as http:
        spec = http.get("/openapi.json").json()
        assert {p.removeprefix(API_PREFIX) for p in spec["paths"]} == PATHS | {
            "/healthz",
            "/metrics",
        }

        assert http.get("/components").status_code == 200, "public"
        denied = http.get("/customers")
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "unauthorized"
        assert http.get("/nowhere").json()["error"]["code"] == "not_found"

        assert http.put("/components/dns", json={"name": "DNS"}, headers=write).status_code == 200
        assert (
            http.put("/components/email", json={"depends_on": ["dns"]}, headers=write).status_code
            == 200
        )
        customer = {"external_id": "C1", "name": "Núñez", "email": "n@example.es", "locale": "es"}
        assert http.post("/customers", json=customer, headers=write).status_code == 200
        engine = make_engine(settings.database_url)
        try:
            with session_factory(engine).begin() as session:
                owner = catalog_service.get_customer(session=session, external_id="C1")
                factories.site(session, owner, ["email"])
        finally:
            engine.dispose()

        opened = http.post(
            "/incidents",
            json={
                "title": "DNS",
                "components": {"dns": "major_outage"},
                "started_at": factories.T0.isoformat(),
            },
            headers=write,
        )
        assert opened.status_code == 201, opened.text
        iid = opened.json()["id"]
        resolved = http.post(
            f"/incidents/{iid}/resolve",
            json={"message": "Back", "resolved_at": "2012-09-10T23:25:00Z"},
            headers=write,
        )
        assert resolved.json()["status"] == "resolved"
        late = http.post(
            f"/incidents/{iid}/updates",
            json={"status": "identified", "message": "x"},
            headers=write,
        )
        assert (late.status_code, late.json()["error"]["code"]) == (409, "invalid_transition")

        with http.stream("GET", f"/incidents/{iid}/impact/export?format=jsonl", headers=write) as r:
            assert r.status_code == 200
            assert r.headers["transfer-encoding"] == "chunked"
            exported = r.read().decode()

    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            incident = incident_service.get_incident(session=session, incident_id=iid)
            expected = io.StringIO()
            impact_export.export(session=session, incident=incident, out=expected, fmt="jsonl")
    finally:
        engine.dispose()
    assert exported == expected.getvalue()
    assert '"customer_name": "Núñez"' in exported


@pytest.fixture
def failing_server(settings: Settings) -> Iterator[str]:
    """Uvicorn in a thread serving the real app plus one route that is a bug."""
    app: FastAPI = create_app(settings)

    @app.get(f"{API_PREFIX}/_test/bug", dependencies=[Reader])
    def bug() -> None:
        raise KeyError("internal detail: password=hunter2")

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, thread.is_alive)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_a_real_servers_500_is_json_without_traceback(
    settings: Settings, failing_server: str
) -> None:
    key = _cli_key(settings, "read")
    response = httpx.get(f"{failing_server}{API_PREFIX}/_test/bug", headers={"X-API-Key": key})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert (error["code"], error["message"], error["field"]) == ("internal", "internal error", None)
    assert len(error["id"]) == 32
    for leak in ("hunter2", "Traceback", "KeyError", ".py"):
        assert leak not in response.text
