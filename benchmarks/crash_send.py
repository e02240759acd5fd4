"""Crash test: a sender killed with SIGKILL at random points, restarted, repeatedly.

Builds a ledger of ``--messages`` deliveries (one customer, one site, one
e-mail row each), starts a receiving HTTP endpoint on 127.0.0.1 in this
process (tests/delivery_support.py: it counts every message key it accepts),
then ``--kills`` times: starts a sender process (inline dispatch, the real
code), lets it run for a random while and kills it with SIGKILL. A last
sender runs to the end. Then it checks:

* every ledger row ended ``sent`` or ``failed`` (none pending or leased);
* zero lost: every row marked sent was received at least once;
* duplicates (keys received more than once) against the in-flight window,
  ``chunk × lanes`` messages per kill: a sender dies after the endpoint
  accepted a chunk and before the ledger recorded it; that chunk is resent
  once its lease expires.

Prints a JSON summary (the last line). Usage::

    python benchmarks/crash_send.py --messages 100000 --kills 10
    python benchmarks/crash_send.py --child --database-url URL --endpoint URL   # the sender
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from tests.delivery_support import HttpChannel, Receiver  # noqa: E402

from amends import flows  # noqa: E402
from amends.catalog import service as catalog_service  # noqa: E402
from amends.config import Settings  # noqa: E402
from amends.db import make_engine, session_factory, unit_of_work  # noqa: E402
from amends.delivery import dispatch  # noqa: E402
from amends.delivery.channels.base import Channel  # noqa: E402
from amends.delivery.models import Delivery  # noqa: E402
from amends.incidents.models import ComponentStatus  # noqa: E402
from amends.migrations import upgrade  # noqa: E402

CHUNK, LANES, LEASE = 100, 2, 2.0


def build(url: str, messages: int) -> None:
    """``messages`` customers with one DNS site each, and a DNS outage: one row each."""
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(session_factory(engine)) as session:
        catalog_service.save_component(session=session, key="dns", name="DNS")
        conn = session.connection()
        dns = conn.scalar(text("SELECT id FROM components WHERE key = 'dns'"))
        stamp = "2020-01-01 00:00:00.000000"
        now = "2026-01-01 00:00:00.000000"
        if engine.dialect.name == "postgresql":
            stamp, now = "2020-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"
        customers = [
            (i, f"c{i}", f"Customer {i}", f"c{i}@example.com", "en", "UTC", "standard",
             True, False, False, False, False, False, now, now)
            for i in range(1, messages + 1)
        ]  # fmt: skip
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        conn.exec_driver_sql(
            "INSERT INTO customers (id, external_id, name, email, locale, timezone, tier, "
            "notify_email, notify_sms, notify_voice, opt_out_email, opt_out_sms, opt_out_voice, "
            "created_at, updated_at) VALUES (" + ", ".join([mark] * 15) + ")",
            customers,
        )
        conn.exec_driver_sql(
            "INSERT INTO sites (id, external_id, customer_id, domain, plan, monthly_price_minor, "
            "currency, state, service_started_at, updated_at) VALUES ("
            + ", ".join([mark] * 10)
            + ")",
            [
                (i, f"s{i}", i, f"site{i}.example", "basic", 999, "EUR", "active", stamp, now)
                for i in range(1, messages + 1)
            ],
        )
        conn.exec_driver_sql(
            f"INSERT INTO site_components (site_id, component_id) VALUES ({mark}, {mark})",
            [(i, dns) for i in range(1, messages + 1)],
        )
    with unit_of_work(session_factory(engine)) as session:
        flows.open_incident(
            session=session, title="DNS down", components={"dns": ComponentStatus.major_outage}
        )
    engine.dispose()


class SmtpReceiver:
    """An aiosmtpd server on 127.0.0.1 that counts the Message-IDs (= ledger
    keys) it accepted: the crash test through real SMTP and the e-mail channel."""

    def __init__(self) -> None:
        from collections import Counter

        from aiosmtpd.controller import Controller

        self.keys: Counter[str] = Counter()
        receiver = self

        class Handler:
            async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
                content: bytes = envelope.original_content or envelope.content
                start = content.find(b"Message-ID: <") + len(b"Message-ID: <")
                receiver.keys[content[start : content.index(b"@", start)].decode()] += 1
                return "250 2.0.0 queued"

        port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.url = f"smtp://127.0.0.1:{port}"

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child(url: str, endpoint: str) -> None:
    """The sender: inline dispatch until nothing is due."""
    engine = make_engine(url)
    settings = Settings(database_url=url, auto_migrate=False)
    channel: Channel
    if endpoint.startswith("smtp://"):
        host, port = endpoint.removeprefix("smtp://").split(":")
        settings = settings.model_copy(
            update={"smtp_host": host, "smtp_port": int(port), "smtp_starttls": "off"}
        )
        channel = dispatch.make_channel("email", settings)  # the real EmailChannel
    else:
        channel = HttpChannel(endpoint)
    dispatcher = dispatch.Dispatcher(
        engine=engine,
        settings=settings,
        channels={"email": channel},
        policy=dispatch.Policy(
            batch_size=1000,
            chunk_size=CHUNK,
            lease_seconds=LEASE,
            backoff_base=0.5,  # temporary failures come due again within the run
            backoff_cap=2.0,
        ),
    )

    async def run() -> None:
        await dispatcher.open()
        print("sending", flush=True)  # the parent's kill clock starts now
        try:
            await dispatcher.drain(lanes=LANES)
        finally:
            await dispatcher.close()

    asyncio.run(run())


def spawn(url: str, endpoint: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "--child", "--database-url", url, "--endpoint", endpoint]
    sender = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    assert sender.stdout is not None
    sender.stdout.readline()  # "sending", or EOF if it died
    return sender


def _outstanding(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        owed = conn.scalar(select(func.count()).where(Delivery.state.in_(["pending", "sending"])))
    engine.dispose()
    return int(owed or 0)


def ledger_states(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
        sent_keys = [
            f"{n}.{i}"
            for i, n in conn.execute(
                select(Delivery.id, Delivery.notice_id).where(Delivery.state == "sent")
            )
        ]
    engine.dispose()
    return {"states": {str(k): v for k, v in found}, "sent_keys": sent_keys}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument(
        "--smtp", action="store_true", help="send through the e-mail channel to an SMTP server"
    )
    parser.add_argument("--child", action="store_true")
    parser.add_argument(
        "--max-run", type=float, default=3.0, help="longest life of a sender once sending (s)"
    )
    args = parser.parse_args()
    if args.child:
        child(args.database_url, args.endpoint)
        return
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="amends-crash-"))
    url = args.database_url or f"sqlite:///{workdir / 'crash.db'}"
    started = time.perf_counter()
    build(url, args.messages)
    print(
        f"built {args.messages:,} deliveries in {time.perf_counter() - started:.1f} s", flush=True
    )
    kills = 0
    with SmtpReceiver() if args.smtp else Receiver() as receiver:
        started = time.perf_counter()
        for n in range(args.kills):
            sender = spawn(url, receiver.url)
            delay = rng.uniform(0.05, args.max_run)
            try:
                sender.wait(timeout=delay)
                print(f"run {n + 1}: finished before its kill at {delay:.2f} s", flush=True)
            except subprocess.TimeoutExpired:
                os.kill(sender.pid, signal.SIGKILL)
                sender.wait()
                kills += 1
                received = sum(receiver.keys.values())
                print(f"run {n + 1}: SIGKILL at {delay:.2f} s; {received:,} received", flush=True)
        time.sleep(LEASE + 0.5)  # the last victim's leases expire
        for _ in range(5):  # a last sender, again while retries are still coming due
            final = spawn(url, receiver.url)
            if final.wait() != 0:
                raise SystemExit("the final sender failed")
            if not _outstanding(url):
                break
            time.sleep(LEASE)
        elapsed = time.perf_counter() - started
        received = dict(receiver.keys)
    found = ledger_states(url)
    states: dict[str, int] = found["states"]  # type: ignore[assignment]
    sent_keys: list[str] = found["sent_keys"]  # type: ignore[assignment]
    lost = [k for k in sent_keys if k not in received]
    duplicates = sum(c - 1 for c in received.values())
    summary = {
        "channel": "email over SMTP (aiosmtpd)" if args.smtp else "HTTP test endpoint",
        "messages": args.messages,
        "kills": kills,
        "states": states,
        "unfinished": states.get("pending", 0) + states.get("sending", 0),
        "lost": len(lost),
        "received_unique": len(received),
        "duplicates": duplicates,
        "window_per_kill": CHUNK * LANES,
        "duplicate_bound": kills * CHUNK * LANES,
        "seconds": round(elapsed, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
