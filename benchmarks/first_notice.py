"""First e-mail accepted after ``amends incident open``, at provider scale.

Builds the reference scenario (``import_impact.py``'s code: N customers,
~2 N sites, the real importer), starts an aiosmtpd sink on 127.0.0.1 that
notes when each message is accepted, then runs the real CLI in a
subprocess, as an operator would::

    amends incident open "DNS" -c dns=major_outage --started-at 2012-09-10T17:25Z --send

with the inline dispatcher sending to the sink (``AMENDS_SMTP_*``). It
prints, from the moment the process is started:

* when the CLI says the notice's rows are owed (the ledger is written and
  committed: one ``INSERT … SELECT`` per channel, or its first slice);
* when the sink accepted the first e-mail (target: ≤ 2 s);
* when the sink accepted the first 1,000;
* the CPU time (user + system) the CLI process had used when the first
  e-mail was accepted: on a shared, loaded machine, about what the wall time
  would be on an idle core.

The CLI is stopped once 1,000 are in (the full send is ``fanout.py``'s
subject), and the ledger is emptied before the next run.

With ``--api`` the same is timed through a running ``amends serve`` (its
inline worker sending to the sink): the server is started and answering
``/healthz`` before the clock starts, then ``POST /api/v1/incidents`` opens the
incident; the figures are from the request's start (when the 201 came back,
the first e-mail, the 1,000th). Each run starts its own server, stopped once
1,000 are in, so no run inherits another's backlog. Process start and
imports are then paid once, before the incident; this is the figure for an
operator (or monitoring) that has ``amends serve`` running. Yardsticks in the
same run, same interpreter and database:
``amends --help`` (process start and imports) and ``amends incident list
--json`` (start, imports, engine, one query). Each figure is the median of
``--repeat`` runs; every run opens a new incident, so every run owes the
notice to every affected customer again.

Usage::

    python benchmarks/first_notice.py                        # 1 M customers, SQLite
    python benchmarks/first_notice.py --customers 100000 --backend postgresql
    python benchmarks/first_notice.py --workdir /tmp/first --reuse --api
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from amends import scenario
from amends.catalog import importer
from amends.catalog import service as catalog_service
from amends.db import make_engine, session_factory, unit_of_work
from amends.migrations import upgrade
from import_impact import DEFAULT_POSTGRES, drop_postgres, fresh_postgres, machine

AMENDS = [str(Path(sys.executable).with_name("amends"))]  # the installed command
ENOUGH = 1000


class Stopwatch:
    """The sink's handler: accepts every message and notes when."""

    def __init__(self) -> None:
        self.accepted: list[float] = []
        self.lock = threading.Lock()
        self.enough = threading.Event()
        #: The sending process, when known: its CPU time is read at the first e-mail.
        self.pid: int | None = None
        self.cpu_at_first = float("nan")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if not self.accepted and self.pid is not None:
                self.cpu_at_first = cpu_seconds(self.pid)
            self.accepted.append(time.perf_counter())
            if len(self.accepted) >= ENOUGH:
                self.enough.set()
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.accepted.clear()
            self.enough.clear()
            self.pid = None
            self.cpu_at_first = float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc; NaN
    elsewhere). On a loaded machine this is what the wall time would shrink
    to on an idle core, give or take I/O waits."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build(url: str, customers: int, seed: int, workdir: Path) -> None:
    files = scenario.write_files(workdir, customers, seed)
    engine = make_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        for key, name, group, depends_on, description in scenario.COMPONENTS:
            catalog_service.save_component(
                session=session, key=key, name=name, group=group,
                description=description, depends_on=list(depends_on),
            )  # fmt: skip
    with unit_of_work(sessions) as session:
        importer.import_customers(session=session, path=files.customers)
    with unit_of_work(sessions) as session:
        importer.import_sites(session=session, path=files.sites)
    engine.dispose()
    print(f"  {files.customer_count:,} customers, {files.site_count:,} sites", flush=True)


def timed_command(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def open_incident(env: dict[str, str], watch: Stopwatch) -> dict[str, float]:
    """One `amends incident open --send`; seconds from start to each milestone."""
    watch.reset()
    owed: list[float] = []
    args = [
        *AMENDS, "incident", "open", "DNS outage", "-c", "dns=major_outage",
        "--started-at", scenario.OUTAGE_START.isoformat(), "--send",
    ]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True, bufsize=1)
    watch.pid = process.pid

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if "deliveries owed" in line and not owed:
                owed.append(time.perf_counter())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 600
        while not watch.enough.wait(0.1):
            if process.poll() is not None and not watch.enough.is_set():
                raise RuntimeError(f"amends exited ({process.returncode}) before 1,000 messages")
            if time.monotonic() > deadline:
                raise RuntimeError("fewer than 1,000 messages arrived in 10 minutes")
    finally:
        process.terminate()
        process.wait(30)
        reader.join(5)
    with watch.lock:
        first, thousandth = watch.accepted[0], watch.accepted[ENOUGH - 1]
    return {
        "rows owed (CLI says so)": (owed[0] - started) if owed else float("nan"),
        "first e-mail accepted": first - started,
        "1,000th e-mail accepted": thousandth - started,
        "CLI's CPU until the first e-mail": watch.cpu_at_first,
    }


def api_key(env: dict[str, str]) -> str:
    """A write key, issued as an operator would (`amends apikey create`)."""
    args = [*AMENDS, "apikey", "create", "--scope", "write", "--name", "first_notice.py"]
    done = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`amends serve` on a free port, answering /healthz (not timed)."""
    import httpx

    port = free_port()
    args = [*AMENDS, "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"amends serve exited ({server.returncode})")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.terminate()
    raise RuntimeError("amends serve did not answer /healthz within 3 minutes")


def open_via_api(env: dict[str, str], key: str, watch: Stopwatch) -> dict[str, float]:
    """One `POST /api/v1/incidents` to a running server; seconds from the
    request's start to each milestone."""
    import httpx

    server, base = start_server(env)
    try:
        watch.reset()
        body = {
            "title": "DNS outage",
            "components": {"dns": "major_outage"},
            "started_at": scenario.OUTAGE_START.isoformat(),
        }
        started = time.perf_counter()
        answer = httpx.post(
            f"{base}/api/v1/incidents",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
            timeout=600,
        )
        answered = time.perf_counter()
        answer.raise_for_status()
        if not watch.enough.wait(600):
            raise RuntimeError("fewer than 1,000 messages arrived in 10 minutes")
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(30)
    with watch.lock:
        first, thousandth = watch.accepted[0], watch.accepted[ENOUGH - 1]
    return {
        "API answered 201": answered - started,
        "first e-mail accepted": first - started,
        "1,000th e-mail accepted": thousandth - started,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def quiet_ledger(url: str) -> None:
    """Empty the ledger left by the previous run (its CLI was stopped with
    most rows pending): each run starts as the first incident would, and is
    not slowed by claims walking past another incident's backlog."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deliveries"))
        conn.execute(text("UPDATE notices SET rows_from = NULL"))
    engine.dispose()


def run(url: str, repeat: int, *, api: bool = False) -> dict[str, float]:
    watch = Stopwatch()
    port = free_port()
    controller = Controller(watch, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        **os.environ,
        "AMENDS_DATABASE_URL": url,
        "AMENDS_DISPATCH": "inline",
        "AMENDS_SMTP_HOST": "127.0.0.1",
        "AMENDS_SMTP_PORT": str(port),
        "AMENDS_SMTP_STARTTLS": "off",
        "AMENDS_SMTP_CONNECTIONS": "4",
        "AMENDS_MAIL_FROM": "status@hosting.example",
        "AMENDS_MESSAGE_ID_DOMAIN": "hosting.example",
    }
    samples: dict[str, list[float]] = {}
    key = api_key(env) if api else ""
    try:
        for _ in range(repeat):
            quiet_ledger(url)
            if api:
                figures = open_via_api(env, key, watch)
                for label, value in figures.items():
                    samples.setdefault(label, []).append(value)
                    print(f"  {label:<34} {value:8.2f} s", flush=True)
                continue
            figures = {
                "yardstick: amends --help": timed_command([*AMENDS, "--help"], env),
                "yardstick: amends incident list": timed_command(
                    [*AMENDS, "incident", "list", "--json"], env
                ),
                **open_incident(env, watch),
            }
            for label, value in figures.items():
                samples.setdefault(label, []).append(value)
                print(f"  {label:<34} {value:8.2f} s", flush=True)
    finally:
        controller.stop()
    return {label: statistics.median(values) for label, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("AMENDS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the database here")
    parser.add_argument("--reuse", action="store_true", help="use the database in --workdir")
    parser.add_argument(
        "--api", action="store_true", help="through a running `amends serve` instead of the CLI"
    )
    args = parser.parse_args()

    print(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {machine()}")
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="amends-first-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.backend == "sqlite":
        path = workdir / "first.db"
        url = f"sqlite:///{path}"
        if not (args.reuse and path.exists()):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            build(url, args.customers, args.seed, workdir)
    else:
        name = "amends_calls_first_notice"
        if args.reuse:
            from sqlalchemy.engine import make_url

            url = make_url(args.postgres_url).set(database=name).render_as_string(False)
        else:
            url = fresh_postgres(args.postgres_url, name)
            build(url, args.customers, args.seed, workdir)
    try:
        medians = run(url, args.repeat, api=args.api)
    finally:
        if args.backend == "postgresql" and not (args.workdir and args.reuse):
            drop_postgres(args.postgres_url, "amends_calls_first_notice")
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    how = "API, `amends serve`" if args.api else "CLI"
    print(f"\nMedians of {args.repeat} runs ({args.backend}, {how}, load average "
          f"{os.getloadavg()[0]:.1f} at the end)")  # fmt: skip
    for label, value in medians.items():
        print(f"  {label:<34} {value:8.2f} s")
    first = medians["first e-mail accepted"]
    start = medians.get("yardstick: amends incident list")
    ratio = f" = {first / start:.1f}× `incident list`" if start else ""
    verdict = "met" if first <= 2 else "not met"
    print(f"  first e-mail: {first:.2f} s{ratio}; target ≤ 2 s: {verdict}")


if __name__ == "__main__":
    main()
