"""Credits at provider scale: issuing them, and the redemption POST under load.

Builds the reference scenario (the same steps as ``import_impact.py``: N
customers, ~2 N sites, the 10 September 2012 DNS outage), then on SQLite and
PostgreSQL:

* **issue**: one month per active/published affected site (the 2012 policy,
  redeem-by-click variant so the credits can be redeemed below), timed; then
  issued again (must add nothing) and previewed;
* **yardsticks** (same run, same database): ``INSERT … SELECT`` of the same
  affected (site, customer) pairs into an unindexed table — the cost of
  finding and writing that many rows; and ``INSERT … SELECT`` of the credits
  just issued into an unindexed copy of ``credits`` — the cost of writing
  the same rows with nothing computed, checked or indexed. Issuance is
  reported as a ratio to the copy;
* a billing endpoint is registered first, so issuance writes its
  ``credit.issued`` outbox events as it would in production;
* **redemption**: ``amends serve`` (one Uvicorn worker, own process) on that
  database; an httpx async load generator POSTs to N distinct links, C at a
  time; throughput and p50/p99 latency, against a bare FastAPI POST endpoint
  measured by the same generator in the same run.

Usage::

    python benchmarks/credits.py                          # 1 M customers, both databases
    python benchmarks/credits.py --scale 0.2 --statements # 1/5 of the reference, each SQL timed
    python benchmarks/credits.py --customers 5000000 --backend postgresql
    python benchmarks/credits.py --workdir /tmp/b --keep  # keep files and databases
    python benchmarks/credits.py --workdir /tmp/b --reuse # skip the build, reuse them
    python benchmarks/credits.py --backend postgresql --parallel-workers 1  # one parallel worker
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, column, event, func, inspect, select, table, text

sys.path.insert(0, str(Path(__file__).parent))
import import_impact
from amends import impact, scenario
from amends.credits import issuance, policies, preview, redemption, webhooks
from amends.credits.models import Credit, CreditWebhookEvent
from amends.db import make_engine, session_factory, unit_of_work
from amends.incidents import service as incident_service
from amends.incidents.models import Incident
from amends.migrations import upgrade

DATABASE = "amends_bench_credits"
CLICK_POLICY = (
    policies.GODADDY_2012.replace('"godaddy-2012"', '"godaddy-2012-click"')
    .replace("auto_apply = true", "auto_apply = false")
    .replace("available_after_days = 7", "available_after_days = 0")
)


#: The reference scenario (DESIGN.md §6): 5 M customers, ~10 M sites, ~6 M credits.
REFERENCE_CUSTOMERS = 5_000_000
STATEMENTS = False  # --statements: print each SQL statement's time (from 10 ms)


def timed(label: str, figures: dict[str, float], action: Any) -> Any:
    started = time.perf_counter()
    result = action()
    figures[label] = time.perf_counter() - started
    load = os.getloadavg()[0]
    print(f"  {label:<34} {figures[label]:8.2f} s   (load {load:.1f})", flush=True)
    return result


def _started(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    conn.info.setdefault("started", []).append(time.perf_counter())


def _finished(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    took = time.perf_counter() - conn.info["started"].pop()
    if STATEMENTS and took >= 0.01:
        print(f"    {took:8.3f} s  {' '.join(statement.split())[:150]}", flush=True)


def watched(url: str) -> Engine:
    """An engine that times its statements (printed with ``--statements``)."""
    engine = make_engine(url)
    event.listen(engine, "before_cursor_execute", _started)
    event.listen(engine, "after_cursor_execute", _finished)
    return engine


def build(url: str, files: scenario.ScenarioFiles, figures: dict[str, float]) -> None:
    import_impact.run_backend(url, files, figures, reimport=False)


def has_scenario(url: str) -> bool:
    engine = make_engine(url)
    try:
        if "incidents" not in inspect(engine).get_table_names():
            return False
        upgrade(engine)
        with engine.connect() as conn:
            return bool(conn.scalar(select(func.count()).select_from(Incident)))
    except Exception as exc:  # rebuilt below: say why, a rebuild takes minutes
        print(f"  no scenario to reuse: {str(exc).splitlines()[0]}", flush=True)
        return False
    finally:
        engine.dispose()


def clear_credits(url: str) -> None:
    """Empty the credit tables for a rerun (PostgreSQL: TRUNCATE, so no dead
    rows of the previous run slow the next one)."""
    tables = [
        "credit_webhook_events", "billing_endpoints", "credit_events", "redemption_links",
        "credits", "credit_policies",
    ]  # fmt: skip
    engine = make_engine(url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)}"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))
    engine.dispose()


def parallel_workers(url: str, workers: int | None) -> None:
    """PostgreSQL: the benchmark database's ``max_parallel_workers_per_gather``
    (None: the server's), as an operator sets it for amends' database
    (``ALTER DATABASE``; docs/architecture.md, PostgreSQL settings)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        name = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        if workers is None:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" RESET max_parallel_workers_per_gather')
        else:
            conn.exec_driver_sql(
                f'ALTER DATABASE "{name}" SET max_parallel_workers_per_gather = {int(workers)}'
            )
        shown = "the server's" if workers is None else workers
        print(f"  max_parallel_workers_per_gather for this database: {shown}")
    engine.dispose()


def issue(url: str, figures: dict[str, float]) -> tuple[int, int]:
    engine = watched(url)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        webhooks.add_endpoint(session=session, url="http://127.0.0.1:9/billing")
    with unit_of_work(sessions) as session:
        incident_id = session.scalar(select(func.max(Incident.id)))
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        row = policies.save(session=session, document=CLICK_POLICY)
        policy = policies.load(row)
        windows = impact.failure_windows(session=session, incident=incident)

        def yardstick() -> int:
            yard = table("yard", column("site_id"), column("customer_id"))
            session.execute(
                text("CREATE TEMPORARY TABLE yard (site_id bigint, customer_id bigint)")
            )
            pairs = impact.affected_sites(windows)
            done = session.execute(
                yard.insert().from_select(["site_id", "customer_id"], pairs),
                execution_options={"preserve_rowcount": True},
            )
            return int(done.rowcount)

        timed("yardstick (insert pairs, no index)", figures, yardstick)
        result = timed(
            "issue credits",
            figures,
            lambda: issuance.issue(
                session=session, incident=incident, policy_row=row, policy=policy,
                actor="bench",
            ),
        )  # fmt: skip
    with unit_of_work(sessions) as session:
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        again = timed(
            "issue again (no-op)",
            figures,
            lambda: issuance.issue(
                session=session, incident=incident, policy_row=row, policy=policy,
                actor="bench",
            ),
        )  # fmt: skip
        assert again.created == 0, again
        events = session.scalar(select(func.count()).select_from(CreditWebhookEvent))
        print(f"  credit.issued events: {events:,}")

        def copy() -> int:
            session.execute(text(
                "CREATE TEMPORARY TABLE credits_copy AS SELECT * FROM credits WHERE 1 = 0"
            ))  # fmt: skip
            done = session.execute(
                text("INSERT INTO credits_copy SELECT * FROM credits WHERE incident_id = :i"),
                {"i": incident_id},
                execution_options={"preserve_rowcount": True},
            )
            return int(done.rowcount)

        copied = timed("yardstick (copy the credits)", figures, copy)
        assert copied == result.created, (copied, result.created)
        seen = timed(
            "preview",
            figures,
            lambda: preview.preview(
                session=session, incident=incident, policy=policy, name=row.key
            ),
        )
        print(f"  credits: {result.created:,}; preview {seen.by_currency}")
    engine.dispose()
    return result.created, incident_id


# -- redemption under load -------------------------------------------------------

BARE_APP = textwrap.dedent(
    """
    from fastapi import FastAPI, Form, Response
    app = FastAPI()

    @app.post("/r/{token}")
    def bare(token: str, csrf: str = Form("")) -> Response:
        return Response(b"<p>ok</p>", media_type="text/html")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *args, "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env={**os.environ, **env},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


async def hammer(
    base: str, tokens: list[str], concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    """POST each link once, ``concurrency`` at a time: wall time, latencies, statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        queue.put_nowait(token)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                token = queue.get_nowait()
                value = secrets.token_urlsafe(32)  # the page's double-submit value
                started = time.perf_counter()
                answer = await client.post(
                    f"/r/{token}", data={"csrf": value}, headers={"Cookie": f"amends_csrf={value}"}
                )
                latencies.append(time.perf_counter() - started)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def redemption_load(
    url: str, incident_id: int, links: int, concurrency: int, figures: dict[str, float]
) -> None:
    engine = make_engine(url)
    with unit_of_work(session_factory(engine)) as session:
        customers = session.scalars(
            select(Credit.customer_id).where(Credit.incident_id == incident_id)
            .group_by(Credit.customer_id).order_by(Credit.customer_id).limit(links)
        ).all()  # fmt: skip
        tokens = list(
            redemption.issue_links(
                session=session, incident_id=incident_id, customer_ids=customers
            ).values()
        )
    engine.dispose()
    env = {
        "AMENDS_DATABASE_URL": url,
        "AMENDS_REDEEM_RATE_PER_IP": "1000000000",
        "AMENDS_REDEEM_RATE_PER_TOKEN": "1000",
    }
    bare_dir = Path(tempfile.mkdtemp(prefix="amends-bare-"))
    (bare_dir / "bare_app.py").write_text(BARE_APP)
    for label, args, extra, batch in (
        ("bare FastAPI POST", ["bare_app:app", "--app-dir", str(bare_dir)], {}, tokens),
        ("redeem POST", ["amends.api.app:create_app_from_env", "--factory"], env, tokens),
        (
            "redeem POST again (already)",
            ["amends.api.app:create_app_from_env", "--factory"],
            env,
            tokens,
        ),
    ):
        port = free_port()
        server = start_server(args, extra, port)
        try:
            wall, latencies, statuses = asyncio.run(
                hammer(f"http://127.0.0.1:{port}", batch, concurrency)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        rate = len(batch) / wall
        figures[f"{label} req/s"] = rate
        figures[f"{label} p99 ms"] = p(latencies, 99) * 1000
        print(
            f"  {label:<34} {rate:8.0f} req/s  p50 {p(latencies, 50) * 1000:6.1f} ms  "
            f"p99 {p(latencies, 99) * 1000:6.1f} ms  statuses {statuses}",
            flush=True,
        )
    engine = make_engine(url)
    with engine.connect() as conn:
        redeemed = conn.scalar(
            text("SELECT count(DISTINCT customer_id) FROM credits WHERE state = 'redeemed'")
        )
    engine.dispose()
    assert redeemed == len(tokens), (redeemed, len(tokens))
    print(f"  customers redeemed: {redeemed:,} of {len(tokens):,} links (each exactly once)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--scale", type=float, default=None,
        help=f"fraction of the reference scenario ({REFERENCE_CUSTOMERS:,} customers); "
        "overrides --customers",
    )  # fmt: skip
    parser.add_argument(
        "--statements",
        action="store_true",
        help="print each statement taking 10 ms or more, with its time",
    )
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("AMENDS_BENCH_POSTGRES_URL", import_impact.DEFAULT_POSTGRES),
    )
    parser.add_argument(
        "--database", default=DATABASE, help="PostgreSQL database name prefix (+ _CUSTOMERS)"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep generated files here")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse databases kept by --keep")
    parser.add_argument("--links", type=int, default=2000, help="redemption links to POST")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-redeem", action="store_true", help="skip the redemption load")
    parser.add_argument(
        "--parallel-workers", type=int, default=None,
        help="PostgreSQL: max_parallel_workers_per_gather for the benchmark database "
        "(default: the server's; 1 leaves the leader a core on a 2-core machine)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.scale is not None:
        args.customers = round(REFERENCE_CUSTOMERS * args.scale)
    global STATEMENTS
    STATEMENTS = args.statements

    print(f"{dt.date.today()} · {import_impact.machine()} · load {os.getloadavg()}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="amends-bench-credits-"))
    workdir.mkdir(parents=True, exist_ok=True)
    files: scenario.ScenarioFiles | None = None
    results: dict[str, dict[str, float]] = {}
    targets = []
    if args.backend in ("sqlite", "both"):
        targets.append(("sqlite", f"sqlite:///{workdir / f'credits-{args.customers}.db'}"))
    if args.backend in ("postgresql", "both"):
        from sqlalchemy.engine import make_url

        name = f"{args.database}_{args.customers}"
        url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
        targets.append(("postgresql", url))
    for backend, url in targets:
        print(backend)
        figures: dict[str, float] = {}
        results[backend] = figures
        if args.reuse and has_scenario(url):
            print("  reusing the scenario already built")
            clear_credits(url)
        else:
            if files is None:
                files = scenario.write_files(workdir, args.customers, args.seed)
                print(
                    f"  {files.customer_count:,} customers, {files.site_count:,} sites in {workdir}"
                )
            if backend == "postgresql":
                import_impact.fresh_postgres(args.postgres_url, url.rsplit("/", 1)[1])
            else:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{url.split('///', 1)[1]}{suffix}").unlink(missing_ok=True)
            build(url, files, figures)
        if backend == "postgresql":
            parallel_workers(url, args.parallel_workers)
        created, incident_id = issue(url, figures)
        figures["credits"] = created
        if not args.no_redeem:
            redemption_load(url, incident_id, args.links, args.concurrency, figures)
        if not args.keep:
            if backend == "postgresql":
                import_impact.drop_postgres(args.postgres_url, url.rsplit("/", 1)[1])
            else:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{url.split('///', 1)[1]}{suffix}").unlink(missing_ok=True)

    print("\nSummary")
    for backend, got in results.items():
        issue_s = got["issue credits"]
        yard = got["yardstick (insert pairs, no index)"]
        copy = got["yardstick (copy the credits)"]
        post, bare = got.get("redeem POST req/s", 0.0), got.get("bare FastAPI POST req/s", 1.0)
        reference = 6_000_000 * issue_s / got["credits"]
        print(
            f"  {backend}: {int(got['credits']):,} credits issued in {issue_s:.1f} s "
            f"({got['credits'] / issue_s:,.0f}/s; {issue_s / copy:.1f}× the copy yardstick "
            f"{copy:.1f} s, {issue_s / yard:.1f}× the pairs yardstick {yard:.1f} s; "
            f"linear to 6 M credits: {reference:.0f} s); "
            f"re-issue {got['issue again (no-op)']:.1f} s"
        )
        if post:
            print(
                f"    redeem POST {post:.0f} req/s p99 {got.get('redeem POST p99 ms', 0.0):.0f} ms "
                f"({post / bare:.0%} of bare FastAPI {bare:.0f})"
            )


if __name__ == "__main__":
    main()
