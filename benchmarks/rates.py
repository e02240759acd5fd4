"""SMS and voice dispatch hold the configured rate: 95–100 %, never above.

Sends N SMS (Twilio Messages API) and N calls (Calls API) through the real
channels to a local server that checks each request as Twilio would, and
measures *at the server* (where a carrier counts): the achieved rate as a
percentage of the configured one, and the most requests that arrived in any
one-second window (sliding, to the microsecond).

In the same run, the same channel is driven with the two ways of using the
``aiolimiter`` library as yardsticks: ``AsyncLimiter(rate, 1)`` (a bucket of
one second) and ``AsyncLimiter(1, 1/rate)`` (one message per interval).

Usage::

    python benchmarks/rates.py                      # 10, 50, 100 /s, 5 s each
    python benchmarks/rates.py --rates 1 10 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import datetime as dt
import json
import multiprocessing
import multiprocessing.connection
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from aiolimiter import AsyncLimiter
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.provider_servers import TWILIO_PATH

from amends.config import Settings
from amends.delivery.channels.base import Channel, Message, Outcome
from amends.delivery.channels.sms import SmsChannel
from amends.delivery.channels.voice import VoiceChannel
from amends.delivery.ratelimit import RateLimiter, reset_limiters

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "bench-token"


class AiolimiterAdapter:
    """aiolimiter behind the methods the channels call."""

    def __init__(self, limiter: AsyncLimiter) -> None:
        self.limiter = limiter

    async def acquire(self, *, reports_end: bool = False) -> None:
        await self.limiter.acquire()

    def finished(self, slot: object) -> None:  # aiolimiter does not look at request ends
        pass

    def pause(self, seconds: float) -> None:  # aiolimiter has no pause
        pass


def window_stats(times: list[float], rate: float) -> tuple[float, int]:
    """(achieved % of rate, most arrivals in any 1-s window)."""
    times = sorted(times)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    most = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    return 100 * achieved / rate, most


async def _serve_async(conn: multiprocessing.connection.Connection) -> None:
    """A minimal asyncio HTTP/1.1 server (keep-alive) that stamps each request the
    moment its bytes are read: one thread, so no GIL hand-offs between handler
    threads bunch arrivals together the way a threaded server does under load."""
    expected_auth = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    times: list[float] = []
    rejected = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal rejected
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                at = time.perf_counter()
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                form = parse_qs(body.decode())
                ok = (
                    method == "POST"
                    and TWILIO_PATH.match(path) is not None
                    and headers.get("authorization") == expected_auth
                    and "To" in form
                    and ("Body" in form or "Twiml" in form)
                )
                if ok:
                    times.append(at)
                    payload = json.dumps({"sid": "SM" + uuid.uuid4().hex}).encode()
                    status = "201 Created"
                else:
                    rejected += 1
                    payload, status = b"{}", "400 Bad Request"
                writer.write(
                    f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
                    f"content-length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn.send(f"http://127.0.0.1:{port}")
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command == "stop":
            break
        if command == "reset":
            times.clear()
            conn.send(None)
        elif command == "times":
            conn.send((list(times), rejected))
    server.close()


def serve(conn: multiprocessing.connection.Connection) -> None:
    """The stand-in Twilio, in a process of its own so it does not share a GIL with the sender."""
    asyncio.run(_serve_async(conn))


class Remote:
    def __init__(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=serve, args=(child,), daemon=True)
        self.process.start()
        self.url: str = self.conn.recv()

    def call(self, command: str) -> object:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(5)


def run_one(
    server: Remote, kind: str, rate: float, n: int, make_limiter: Callable[[], object]
) -> tuple[float, int, int, int]:
    reset_limiters()
    settings = Settings(
        twilio_account_sid=SID,
        twilio_auth_token=SecretStr(TOKEN),
        twilio_from="+34910000000",
        twilio_base_url=server.url,
        sms_per_second=rate,
        voice_per_second=rate,
    )
    channel: Channel
    if kind == "sms":
        channel = SmsChannel(settings)
        target = channel.adapter  # the Twilio adapter holds the limiter
    else:
        channel = target = VoiceChannel(settings)
    target.limiter = make_limiter()  # type: ignore[attr-defined]
    messages = [
        Message(i, f"k{i}", f"+346{i:08d}", "es", "El DNS está caído; lo estamos arreglando.")
        for i in range(n)
    ]
    server.call("reset")
    departures: list[float] = []
    limiter = target.limiter  # type: ignore[attr-defined]
    acquire = limiter.acquire

    async def timed_acquire(**options: bool) -> object:
        slot = await acquire(**options)
        departures.append(time.perf_counter())
        return slot

    limiter.acquire = timed_acquire

    async def go() -> list[Outcome]:
        try:
            return [r.outcome for r in await channel.send(messages)]
        finally:
            await channel.close()

    outcomes = asyncio.run(go())
    sent = sum(o is Outcome.SENT for o in outcomes)
    arrivals, rejected = server.call("times")  # type: ignore[misc]
    if rejected:
        raise SystemExit(f"the stand-in Twilio rejected {rejected} requests")
    percent, most = window_stats(arrivals, rate)
    _, most_sent = window_stats(departures, rate)
    return percent, most, most_sent, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[10, 50, 100])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    args = parser.parse_args()

    print(f"# {dt.date.today()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    print(
        "| channel | limiter | configured /s | messages | sent | achieved at the server |"
        " most in any 1 s, at the server | most in any 1 s, leaving |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    limiters: list[tuple[str, Callable[[float], object]]] = [
        ("amends RateLimiter", lambda r: RateLimiter(r)),
        ("aiolimiter (r, 1 s)", lambda r: AiolimiterAdapter(AsyncLimiter(r, 1))),
        ("aiolimiter (1, 1/r s)", lambda r: AiolimiterAdapter(AsyncLimiter(1, 1 / r))),
    ]
    server = Remote()
    try:
        for kind in ("sms", "voice"):
            for rate in args.rates:
                n = int(rate * args.seconds) + 1
                for name, make in limiters:
                    if kind == "voice" and name != "amends RateLimiter":
                        continue  # the yardsticks once (SMS) are enough
                    percent, most, most_sent, sent = run_one(
                        server, kind, rate, n, lambda make=make, rate=rate: make(rate)
                    )
                    flag = "" if 95 <= percent <= 100 and most <= rate else " ✗"
                    print(
                        f"| {kind} | {name} | {rate:g} | {n} | {sent} | {percent:.1f} %{flag} |"
                        f" {most} | {most_sent} |"
                    )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
