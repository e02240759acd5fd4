"""E-mail fan-out: personalised notices through the real EmailChannel to Postfix's smtp-sink.

Every recipient gets a distinct name, address and list of affected sites, in
Spanish or English (two variants), rendered at full size (~1.1 KB of text and
~1.4 KB of HTML, ~3 KB on the wire). The channel is used exactly as the
dispatcher uses it: ``EmailChannel(settings).send(batch)`` with batches of
1,000, one channel per process, ``--processes`` processes.

Yardsticks measured in the same run against the same sink:

* ceiling (RFC 2920): a raw pipelined SMTP loop on one connection in one
  process with pre-built bytes (one message's bytes, reused), as a correct
  client pipelines: one write carries a message's body, its dot and the next
  message's MAIL, RCPT and DATA, then the loop waits for the 354 before the
  next body (RFC 2920 §3.1: DATA is the last command of a group). What one
  core of Python can push at smtp-sink with no MIME and no bookkeeping while
  speaking SMTP correctly;
* blind stream (not a client: an upper bound of the wire): the same bytes in
  windows of 100 messages written without waiting for any 354, while a thread
  counts the replies;
* naive: ``email.message.EmailMessage`` built per recipient and sent with
  ``aiosmtplib`` over one persistent connection;
* library pool (why smtp.py exists): the same pre-built MIME as the channel,
  sent with ``aiosmtplib`` over ``--connections`` persistent connections in
  one process, next to the channel in one process.

Usage::

    python benchmarks/fanout.py                      # 1,000,000 messages
    python benchmarks/fanout.py --messages 100000 --naive 2000

smtp-sink (Debian package postfix) is started on a free port unless
``--sink HOST:PORT`` names a running one.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from amends.config import Settings
from amends.delivery.channels import Message, Outcome
from amends.delivery.channels.email import EmailChannel

FIRST = ["José", "María", "Ana", "Łukasz", "Zoë", "John", "Ñuño", "Chloé", "Émile", "Sofía"]
LAST = ["Muñoz", "García", "Smith", "Ibáñez", "O'Brien", "Núñez", "Brontë", "Peña", "Lee"]
WORDS = ["tienda", "blog", "studio", "panaderia", "clinic", "shop", "academia", "hotel"]
SUBJECT = {
    "es": "Incidencia en curso: correo y alojamiento web afectados — lo estamos arreglando",
    "en": "Outage in progress: e-mail and web hosting affected — we are on it",
}
TEXT = {
    "es": (
        "Hola {name}:\n\n"
        "Desde las 14:05 (hora de Madrid) una avería en nuestro centro de datos de Madrid\n"
        "afecta al correo y al alojamiento web. Estos sitios suyos están afectados:\n\n"
        "{sites}\n\n"
        "Qué sabemos: un fallo de alimentación ha dejado sin servicio a parte de los\n"
        "servidores. Qué hacemos: estamos trasladando el servicio a otra sala; le\n"
        "escribiremos cada 30 minutos hasta que todo funcione, y cuando termine le\n"
        "explicaremos qué pasó y qué compensación le corresponde.\n\n"
        "Puede seguir la incidencia en https://status.hosting.example/i/42\n\n"
        ".No responda a este mensaje: nadie lo lee. Para cualquier duda, escríbanos\n"
        "desde su panel de cliente.\n\n"
        "Un saludo,\nEl equipo de Hosting Ejemplo\n"
    ),
    "en": (
        "Hello {name},\n\n"
        "Since 13:05 UTC a failure in our Madrid data centre has affected e-mail and\n"
        "web hosting. These sites of yours are affected:\n\n"
        "{sites}\n\n"
        "What we know: a power failure took part of the servers down. What we are\n"
        "doing: moving the service to another hall; we will write every 30 minutes\n"
        "until everything works, and afterwards explain what happened and what\n"
        "compensation you are owed.\n\n"
        "Follow the incident at https://status.hosting.example/i/42\n\n"
        ".Please do not reply to this message: nobody reads it. For any question,\n"
        "write to us from your customer panel.\n\n"
        "Regards,\nThe Example Hosting team\n"
    ),
}
HTML = (
    '<!doctype html><html lang="{locale}"><head><meta charset="utf-8"></head>'
    '<body style="font-family:sans-serif;max-width:40em;margin:auto">\n'
    "<h1>{subject}</h1>\n<p>{greeting}</p>\n<ul>\n{sites}\n</ul>\n"
    "<p>{body}</p>\n"
    '<p><a href="https://status.hosting.example/i/42">status.hosting.example/i/42</a></p>\n'
    '<p style="color:#666;font-size:small">{footer}</p>\n</body></html>\n'
)


def recipient(i: int) -> Message:
    """A distinct, fully personalised message for customer ``i``."""
    locale = "en" if i % 3 == 0 else "es"
    name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}"
    sites = [f"{WORDS[(i + k) % len(WORDS)]}-{i}-{k}.example.es" for k in range(1 + i % 4)]
    text = TEXT[locale].format(name=name, sites="\n".join(f"  - {s}" for s in sites))
    paragraphs = text.split("\n\n")
    html = HTML.format(
        locale=locale,
        subject=SUBJECT[locale],
        greeting=paragraphs[0],
        sites="\n".join(f"<li><a href='https://{s}'>{s}</a></li>" for s in sites),
        body=" ".join(paragraphs[3:5]).replace("\n", " "),
        footer=" ".join(paragraphs[5:]).replace("\n", " "),
    )
    return Message(
        delivery_id=i,
        key=f"inc-42.cust-{i}.n1",
        address=f"customer.{i}@mail-{i % 97}.example.com",
        locale=locale,
        name=name,
        subject=SUBJECT[locale],
        text=text,
        html=html,
        variant=locale,
        unsubscribe_url=f"https://status.hosting.example/u/{i:x}{(i * 2654435761) % 2**32:08x}",
    )


def settings(host: str, port: int, connections: int) -> Settings:
    return Settings(
        smtp_host=host,
        smtp_port=port,
        smtp_starttls="off",
        smtp_connections=connections,
        mail_from="avisos@hosting.example",
        mail_from_name="Hosting Ejemplo — Avisos",
        message_id_domain="hosting.example",
        unsubscribe_mailto="baja@hosting.example",
    )


# --- the channel, one process per core -------------------------------------------------


def _channel_worker(
    host: str, port: int, connections: int, ids: range, start: mp.Event, out: mp.Queue
) -> None:
    async def run() -> tuple[int, float]:
        channel = EmailChannel(settings(host, port, connections))
        await channel.send([recipient(ids.start)])  # connect before the clock starts
        start.wait()
        began = os.times()
        sent = 0
        for first in range(ids.start, ids.stop, 1000):
            batch = [recipient(i) for i in range(first, min(first + 1000, ids.stop))]
            results = await channel.send(batch)
            sent += sum(r.outcome is Outcome.SENT for r in results)
        ended = os.times()
        await channel.close()
        return sent, (ended.user - began.user) + (ended.system - began.system)

    out.put(asyncio.run(run()))


def channel_rate(
    host: str, port: int, messages: int, processes: int, connections: int
) -> tuple[float, float]:
    """(messages a second, client CPU seconds a message) for the channel in N processes."""
    start, out = mp.Event(), mp.Queue()
    share = messages // processes
    workers = [
        mp.Process(
            target=_channel_worker,
            args=(host, port, connections, range(p * share, (p + 1) * share), start, out),
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # every worker connected and warm
    began = time.perf_counter()
    start.set()
    answers = [out.get() for _ in workers]
    elapsed = time.perf_counter() - began
    sent = sum(n for n, _ in answers)
    cpu = sum(c for _, c in answers)
    for worker in workers:
        worker.join()
    if sent != share * processes:
        raise SystemExit(f"only {sent} of {share * processes} messages were accepted")
    return sent / elapsed, cpu / sent


# --- yardsticks ------------------------------------------------------------------------


def _envelope() -> bytes:
    return b"MAIL FROM:<avisos@hosting.example>\r\nRCPT TO:<customer@example.com>\r\nDATA\r\n"


def ceiling_rate(host: str, port: int, messages: int, data: bytes) -> float:
    """Raw pipelined SMTP as RFC 2920 allows it, pre-built bytes, one connection.

    Each write is ``body . MAIL RCPT DATA`` (the previous message's body and dot,
    then the next envelope); then the loop reads until that envelope's 354.
    """
    body = data.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    step = body + _envelope()
    with socket.create_connection((host, port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        replies = sock.makefile("rb")
        replies.readline()
        sock.sendall(b"EHLO bench\r\n")
        while replies.readline()[3:4] == b"-":
            pass
        began = time.perf_counter()
        sock.sendall(_envelope())
        for i in range(messages):
            while not (line := replies.readline()).startswith(b"354"):
                if not line or line[:1] in b"45":
                    raise ConnectionError(f"smtp-sink answered {line!r}")
            sock.sendall(step if i + 1 < messages else body)
        if not replies.readline().startswith(b"250"):  # the last dot's reply
            raise ConnectionError("smtp-sink did not accept the last message")
        elapsed = time.perf_counter() - began
        sock.sendall(b"QUIT\r\n")
    return messages / elapsed


def blind_rate(host: str, port: int, messages: int, data: bytes, window: int = 100) -> float:
    """Raw SMTP bytes streamed without waiting for any 354 (not a correct client).

    One thread writes windows of messages, another counts the replies, so
    both directions stream (at most 4 windows unanswered).
    """
    one = _envelope() + data.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    chunk, windows = one * window, messages // window
    room = threading.Semaphore(4)
    with socket.create_connection((host, port)) as sock:
        handshake = sock.makefile("rb")  # nothing follows the EHLO reply until we send
        handshake.readline()
        sock.sendall(b"EHLO bench\r\n")
        while handshake.readline()[3:4] == b"-":
            pass

        def count_replies() -> None:
            lines, per_window = 0, 4 * window  # 250 MAIL, 250 RCPT, 354, 250 after the dot
            while lines < windows * per_window:
                received = sock.recv(1 << 16)
                if not received:
                    raise ConnectionError("smtp-sink closed the connection")
                before, lines = lines, lines + received.count(b"\n")
                for _ in range(lines // per_window - before // per_window):
                    room.release()

        reader = threading.Thread(target=count_replies)
        began = time.perf_counter()
        reader.start()
        for _ in range(windows):
            room.acquire()
            sock.sendall(chunk)
        reader.join()
        elapsed = time.perf_counter() - began
        sock.sendall(b"QUIT\r\n")
    return windows * window / elapsed


def naive_rate(host: str, port: int, messages: int) -> float:
    """EmailMessage per recipient + aiosmtplib, one persistent connection."""

    async def run() -> float:
        smtp = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False)
        await smtp.connect()
        began = time.perf_counter()
        for i in range(messages):
            m = recipient(i)
            mail = EmailMessage()
            mail["From"] = "Hosting Ejemplo — Avisos <avisos@hosting.example>"
            mail["To"] = f"{m.name} <{m.address}>"
            mail["Subject"] = m.subject
            mail["Message-ID"] = f"<{m.key}@hosting.example>"
            mail["List-Unsubscribe"] = f"<{m.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            mail.set_content(m.text)
            mail.add_alternative(m.html or "", subtype="html")
            await smtp.send_message(mail)
        elapsed = time.perf_counter() - began
        await smtp.quit()
        return messages / elapsed

    return asyncio.run(run())


def library_pool_rate(host: str, port: int, messages: int, connections: int) -> float:
    """The channel's pre-built MIME, sent with aiosmtplib over N connections, one process."""
    channel = EmailChannel(settings(host, port, connections))

    async def run() -> float:
        clients = [aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) for _ in range(8)]
        await asyncio.gather(*(c.connect() for c in clients[:connections]))
        queue = list(range(messages))
        queue.reverse()

        async def work(client: aiosmtplib.SMTP) -> None:
            while queue:
                m = recipient(queue.pop())
                await client.sendmail("avisos@hosting.example", [m.address], channel.render(m))

        began = time.perf_counter()
        await asyncio.gather(*(work(c) for c in clients[:connections]))
        elapsed = time.perf_counter() - began
        await asyncio.gather(*(c.quit() for c in clients[:connections]))
        return messages / elapsed

    return asyncio.run(run())


@contextmanager
def smtp_sink(where: str | None) -> Iterator[tuple[str, int, int | None]]:
    if where:
        host, _, port = where.rpartition(":")
        yield host, int(port), None
        return
    binary = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    sink = subprocess.Popen([binary, *user, f"127.0.0.1:{port}", "1000"])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield "127.0.0.1", port, sink.pid
    finally:
        sink.terminate()
        sink.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--connections", type=int, default=8, help="per process")
    parser.add_argument("--ceiling", type=int, default=200_000, help="messages for the ceiling")
    parser.add_argument("--naive", type=int, default=5_000, help="messages for the naive path")
    parser.add_argument("--library", type=int, default=30_000, help="aiosmtplib pool messages")
    parser.add_argument("--sink", help="HOST:PORT of a running sink (default: start smtp-sink)")
    args = parser.parse_args()

    sample = EmailChannel(settings("127.0.0.1", 25, 1)).render(recipient(1))
    print(
        f"fan-out to smtp-sink — {platform.python_version()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}; message size {len(sample):,} bytes"
    )
    with smtp_sink(args.sink) as (host, port, sink_pid):
        figures: dict[str, float] = {}
        figures["ceiling"] = ceiling_rate(host, port, args.ceiling, sample)
        print(f"  ceiling (RFC 2920 pipelining, 1 conn)   {figures['ceiling']:>10,.0f} msg/s")
        figures["blind"] = blind_rate(host, port, args.ceiling, sample)
        print(f"  blind stream (no 354 waits, 1 conn)     {figures['blind']:>10,.0f} msg/s")
        figures["naive"] = naive_rate(host, port, args.naive)
        print(f"  naive (EmailMessage + aiosmtplib)       {figures['naive']:>10,.0f} msg/s")
        figures["library"] = library_pool_rate(host, port, args.library, args.connections)
        print(
            f"  aiosmtplib x{args.connections} conns, our MIME, 1 proc  "
            f"{figures['library']:>10,.0f} msg/s"
        )
        single = min(args.messages, args.library)
        figures["one"], _ = channel_rate(host, port, single, 1, args.connections)
        print(
            f"  EmailChannel, 1 proc x {args.connections} conns        "
            f"{figures['one']:>10,.0f} msg/s  ({single:,} messages)"
        )
        sink_before = _cpu_seconds(sink_pid)
        figures["channel"], client_cpu = channel_rate(
            host, port, args.messages, args.processes, args.connections
        )
        sink_cpu = (_cpu_seconds(sink_pid) - sink_before) / args.messages
        print(
            f"  EmailChannel, {args.processes} procs x {args.connections} conns       "
            f"{figures['channel']:>10,.0f} msg/s  ({args.messages:,} messages)"
        )
    print(
        f"  vs ceiling {figures['channel'] / figures['ceiling']:.0%} (target >= 50 %; "
        f"vs blind stream {figures['channel'] / figures['blind']:.0%}), "
        f"vs naive {figures['channel'] / figures['naive']:.1f}x (target >= 10x), "
        f"target 5,000 msg/s: {'met' if figures['channel'] >= 5000 else 'NOT met'}"
    )
    print(
        f"  channel vs aiosmtplib pool, one process each: "
        f"{figures['one'] / figures['library']:.1f}x"
    )
    if sink_pid:
        both = client_cpu + sink_cpu
        print(
            f"  CPU a message: sender {client_cpu * 1e6:.0f} us (rendering the personalised "
            f"text, MIME, SMTP), smtp-sink {sink_cpu * 1e6:.0f} us; "
            f"2 idle cores would carry ~{2 / both:,.0f} msg/s"
        )
    print(f"  load after: {os.getloadavg()[0]:.2f}")


def _cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
