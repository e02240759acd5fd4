"""The status page under a stampede, and the static export's cost.

Measured in one run, so the ratios survive a noisy machine:

* **yardstick**: a bare FastAPI ``async def`` endpoint returning cached bytes
  (the same ``summary.json`` bytes), on Uvicorn, one process;
* **amends dynamic**: ``create_app`` on Uvicorn, one process: ``/api/v2/summary.json``
  and the home page ``/en/`` (both served from the site cache, which checks
  the database's change token once a second);
* **nginx static**: nginx (1 worker) serving the static export of the same content;
* **export**: ``amends statuspage export`` of 100 components and 1,000 incidents,
  first into an empty directory, then again with nothing changed.

Load comes from Debian's ``wrk`` (``-t1 -c50``), on the same machine.

Usage::

    python benchmarks/statuspage.py [--seconds 10] [--connections 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from amends import scenario
from amends.catalog import service as catalog_service
from amends.config import Settings
from amends.db import make_engine, read_only, session_factory, unit_of_work
from amends.incidents import service as incident_service
from amends.incidents.models import ComponentStatus, IncidentStatus
from amends.migrations import upgrade
from amends.statuspage import export as site_export
from amends.statuspage import service as statuspage_service
from amends.statuspage.site import Site

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SETTINGS: dict[str, Settings] = {}
STEPS = (
    (IncidentStatus.identified, "The cause is known; a fix is being rolled out."),
    (IncidentStatus.monitoring, "The fix is live; we are watching closely."),
)


def build(url: str, components: int, incidents: int) -> None:
    """A provider with ``components`` components and ``incidents`` resolved incidents
    over the last year (three updates each), one of them still open."""
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        for key, name, group, _deps, description in scenario.COMPONENTS:
            catalog_service.save_component(
                session=session, key=key, name=name, group=group, description=description
            )
        for n in range(len(scenario.COMPONENTS), components):
            catalog_service.save_component(
                session=session,
                key=f"c{n:03d}",
                name=f"Region {n // 10} service {n % 10}",
                group=f"Region {n // 10}",
                description="Synthetic component",
            )
        keys = [c.key for c in catalog_service.list_components(session=session)]
    with unit_of_work(sessions) as session:
        for n in range(incidents):
            start = NOW - dt.timedelta(hours=8 * (incidents - n) + 3)
            status = (ComponentStatus.major_outage, ComponentStatus.partial_outage)[n % 2]
            incident = incident_service.open_incident(
                session=session,
                title=f"Incident {n}: {keys[n % len(keys)]} trouble",
                components={keys[n % len(keys)]: status},
                started_at=start,
                message="We are investigating reports of errors.",
                now=start,
            )
            for minutes, (step, message) in enumerate(STEPS, start=1):
                at = start + dt.timedelta(minutes=20 * minutes)
                incident_service.post_update(
                    session=session,
                    incident_id=incident.id,
                    status=step,
                    message=message,
                    at=at,
                    now=at,
                )
            if n != incidents - 1:
                end = start + dt.timedelta(hours=1)
                incident_service.resolve(
                    session=session,
                    incident_id=incident.id,
                    message="Resolved.",
                    resolved_at=end,
                    now=end,
                )
        session.flush()
        if incidents:
            statuspage_service.publish_postmortem(
                session=session, incident_id=1, body="What happened, and what we changed."
            )
    engine.dispose()


def export(
    url: str, directory: Path, previous: Site | None = None
) -> tuple[site_export.ExportResult, Site]:
    engine = make_engine(url)
    try:
        sessions = session_factory(read_only(engine))
        settings = Settings(database_url=url, auto_migrate=False)
        return site_export.export(
            reading=lambda: unit_of_work(sessions),
            settings=SETTINGS.setdefault(url, settings),
            directory=directory,
            previous=previous,
        )
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


UVICORN = """
import sys, uvicorn
kind, port, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if kind == "bare":
    from fastapi import FastAPI
    from fastapi.responses import Response
    body = open(arg, "rb").read()
    app = FastAPI()
    @app.get("/api/v2/summary.json")
    async def summary() -> Response:
        return Response(body, media_type="application/json")
else:
    from amends.api.app import create_app
    from amends.config import Settings
    app = create_app(Settings(database_url=arg, auto_migrate=False))
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


def uvicorn_server(kind: str, arg: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", UVICORN, kind, str(port), arg])
    wait_for(port)
    return process, port


def nginx_server(root: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  include /etc/nginx/mime.types;
  types {{ application/atom+xml atom; text/calendar ics; }}
  sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path {workdir}/body; proxy_temp_path {workdir}/proxy;
  fastcgi_temp_path {workdir}/fastcgi; uwsgi_temp_path {workdir}/uwsgi;
  scgi_temp_path {workdir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    index index.html;
  }}
}}
"""
    )
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(workdir)])
    wait_for(port)
    return process, port


def wrk(port: int, path: str, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or "Non-2xx" in out:
        raise RuntimeError(f"wrk failed on {path}:\n{out}")
    return float(match.group(1))


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--components", type=int, default=100)
    parser.add_argument("--incidents", type=int, default=1000)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install -y {tool})")
    print(f"# status page · {platform.node()} · {os.cpu_count()} cores · Python "
          f"{platform.python_version()} · {dt.date.today()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="amends-sp-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's worker (nobody) reads the export from here

        # 1. export cost at 100 components / 1,000 incidents
        big = f"sqlite:///{work / 'big.db'}"
        started = time.perf_counter()
        build(big, args.components, args.incidents)
        print(f"built {args.components} components, {args.incidents} incidents "
              f"in {time.perf_counter() - started:.1f}s")  # fmt: skip
        first, site = export(big, work / "big-site")
        again, _site = export(big, work / "big-site")
        watched, _site = export(big, work / "big-site", previous=site)
        size = sum(p.stat().st_size for p in (work / "big-site").rglob("*") if p.is_file())
        print(f"export, empty dir:   {first.total:>5} files, {size / 1e6:.1f} MB, "
              f"{first.seconds:.2f}s ({first.total / first.seconds:.0f} files/s)")  # fmt: skip
        print(f"export, no changes:  {again.total:>5} files, {len(again.written)} written, "
              f"{again.seconds:.2f}s")  # fmt: skip
        print(f"export, --watch:     {watched.total:>5} files, {len(watched.written)} written, "
              f"{watched.seconds:.2f}s (unchanged incident pages not rendered)")  # fmt: skip

        # 2. requests per second: the reference provider's page (5 components,
        # 20 incidents, one open), as DESIGN.md §7 measures it
        small = f"sqlite:///{work / 'small.db'}"
        build(small, len(scenario.COMPONENTS), 20)
        export(small, work / "site")
        summary = work / "site" / "api" / "v2" / "summary.json"
        home = work / "site" / "en" / "index.html"
        print(f"summary.json {summary.stat().st_size / 1e3:.1f} kB, "
              f"home page {home.stat().st_size / 1e3:.1f} kB")  # fmt: skip
        results: dict[str, float] = {}
        bare, port = uvicorn_server("bare", str(summary))
        try:
            results["bare FastAPI, cached bytes"] = wrk(port, "/api/v2/summary.json",
                                                        args.seconds, args.connections)  # fmt: skip
        finally:
            stop(bare)
        dynamic, port = uvicorn_server("amends", small)
        try:
            for path in ("/api/v2/summary.json", "/en/"):
                wrk(port, path, 1, 5)  # warm the cache
                results[f"amends {path}"] = wrk(port, path, args.seconds, args.connections)
        finally:
            stop(dynamic)
        nginx, port = nginx_server(work / "site", work)
        try:
            for path in ("/api/v2/summary.json", "/en/"):
                results[f"nginx static {path}"] = wrk(port, path, args.seconds, args.connections)
        finally:
            stop(nginx)
    yardstick = results["bare FastAPI, cached bytes"]
    print(f"\nwrk -t1 -c{args.connections} -d{args.seconds}s")
    for name, rps in results.items():
        print(f"  {name:<32} {rps:>9,.0f} req/s   {rps / yardstick:6.2f} x yardstick")


if __name__ == "__main__":
    main()
