"""A small pipelined SMTP client (RFC 5321 + RFC 2920 PIPELINING) with a connection pool.

Why not aiosmtplib or smtplib: neither pipelines, so each message costs four
round trips and ~0.5 ms of client CPU; measured in the same run they reach
~1-2 k msg/s where this client reaches the 5 k msg/s target
(docs/benchmarks.md, "E-mail fan-out"). This module is deliberately only
what a notice sender needs: EHLO, STARTTLS, AUTH PLAIN/LOGIN, and
transactions of one sender, one recipient and one body.

A transaction is pipelined the way RFC 2920 allows: ``MAIL``, ``RCPT`` and
``DATA`` go out together; the body waits for the 354 and then travels in the
same write as the next message's ``MAIL``/``RCPT``/``DATA``. So each message
costs one round trip on one of N connections and one write.

Every message gets a :class:`Reply`: the server's answer to its RCPT (if that
failed) or to its final dot. ``code == 0`` means the connection failed before
the server answered: the message may or may not have been accepted.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

TlsMode = Literal["required", "opportunistic", "off", "implicit"]
_QUEUED = re.compile(r"(?:queued as\s+|\bid=)<?([A-Za-z0-9][\w.@-]*)", re.IGNORECASE)
_IDLE_PROBE_SECONDS = 5.0
_XTEXT_SAFE = re.compile(r"[!-*,-<>-~]*")  # "!".."~" without "+" and "="


class SmtpError(Exception):
    """The session cannot continue (bad answer to EHLO/STARTTLS/AUTH, 421, protocol error)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer from the server; code 0: no answer (connection failed)."""

    code: int
    text: str

    @property
    def queue_id(self) -> str | None:
        """The relay's id for the accepted message (Postfix: ``queued as 4Xyz``)."""
        found = _QUEUED.search(self.text)
        return found.group(1) if found else None

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.code else self.text


@dataclass(frozen=True, slots=True)
class Envelope:
    """What one transaction carries: sender, one recipient, the message (CRLF, not stuffed)."""

    sender: str
    recipient: str
    data: bytes
    envelope_id: str | None = None  # DSN ENVID (RFC 3461): bounces name the message by it


@dataclass(slots=True)
class SmtpConfig:
    host: str
    port: int
    tls: TlsMode = "opportunistic"
    ssl_context: ssl.SSLContext | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 60.0
    helo_name: str = "localhost"
    connections: int = 8


def xtext(value: str) -> str:
    """RFC 3461 xtext: printable ASCII except "+" and "=", the rest as +XX."""
    if _XTEXT_SAFE.fullmatch(value):
        return value
    return "".join(
        c if "!" <= c <= "~" and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode())
        for c in value
    )


def stuff(data: bytes) -> bytes:
    """The body as DATA carries it: dots doubled at line starts, ending CRLF "." CRLF."""
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    data = data.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data + b".\r\n"


@dataclass(slots=True)
class _Txn:
    index: int
    failure: Reply | None = None


def _parse(lines: list[bytes]) -> Reply:
    """One reply from its lines (CR LF or LF, the last without a hyphen after the code)."""
    last = lines[-1]
    try:
        code = int(last[:3])
    except ValueError:
        raise SmtpError(f"not an SMTP reply: {last[:80]!r}") from None
    if len(lines) == 1:
        text = last[4:].rstrip().decode("utf-8", "replace")
    else:
        text = "\n".join(raw[4:].rstrip().decode("utf-8", "replace") for raw in lines)
    if code == 421:
        raise SmtpError(f"server is closing the session: {code} {text}", code)
    return Reply(code, text)


class SmtpConnection:
    """One SMTP session, reused for many transactions."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.extensions: dict[str, str] = {}
        self.last_used = 0.0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._rest = b""  # bytes read past the last reply
        self.inflight: list[int] = []  # body sent, final answer not yet read: fate unknown
        self.unsent: list[int] = []  # taken from the queue, body not sent: safe to send again

    @property
    def pipelining(self) -> bool:
        return "pipelining" in self.extensions

    async def connect(self) -> None:
        """Open, greet, secure and authenticate, as configured."""
        cfg = self.config
        context = None if cfg.tls == "off" else (cfg.ssl_context or ssl.create_default_context())
        implicit = cfg.tls == "implicit"
        async with asyncio.timeout(cfg.timeout):
            self._reader, self._writer = await asyncio.open_connection(
                cfg.host, cfg.port, ssl=context if implicit else None, limit=1 << 20
            )
            self._expect(await self._reply(), 220, "greeting")
            await self._ehlo()
            if cfg.tls in ("required", "opportunistic") and not implicit:
                if "starttls" in self.extensions:
                    self._expect(await self._command(b"STARTTLS\r\n"), 220, "STARTTLS")
                    self._rest = b""  # nothing read before TLS may be trusted after it
                    assert context is not None
                    await self._writer.start_tls(context, server_hostname=cfg.host)
                    await self._ehlo()
                elif cfg.tls == "required":
                    raise SmtpError(f"{cfg.host}:{cfg.port} does not offer STARTTLS")
            if cfg.username:
                await self._login()
        self.last_used = time.monotonic()

    async def _ehlo(self) -> None:
        reply = await self._command(f"EHLO {self.config.helo_name}\r\n".encode("ascii"))
        self._expect(reply, 250, "EHLO")
        self.extensions = {}
        for line in reply.text.split("\n")[1:]:
            word, _, rest = line.strip().partition(" ")
            self.extensions[word.lower()] = rest

    async def _login(self) -> None:
        cfg = self.config
        secure = self._writer is not None and self._writer.get_extra_info("sslcontext")
        if not secure and cfg.tls != "off":
            raise SmtpError("refusing to send the SMTP password without TLS (smtp_starttls=off?)")
        mechanisms = self.extensions.get("auth", "").upper().split()
        user, password = (cfg.username or "").encode(), (cfg.password or "").encode()
        if "PLAIN" in mechanisms or not mechanisms:
            token = base64.b64encode(b"\0" + user + b"\0" + password)
            reply = await self._command(b"AUTH PLAIN " + token + b"\r\n")
        elif "LOGIN" in mechanisms:
            self._expect(await self._command(b"AUTH LOGIN\r\n"), 334, "AUTH LOGIN")
            self._expect(await self._command(base64.b64encode(user) + b"\r\n"), 334, "AUTH")
            reply = await self._command(base64.b64encode(password) + b"\r\n")
        else:
            raise SmtpError(f"no AUTH mechanism we speak among {mechanisms}")
        self._expect(reply, 235, "AUTH")

    def _expect(self, reply: Reply, code: int, what: str) -> None:
        if reply.code != code:
            raise SmtpError(f"{what}: {reply}", reply.code)

    async def _command(self, line: bytes) -> Reply:
        assert self._writer is not None
        self._writer.write(line)
        await self._writer.drain()
        return await self._reply()

    async def _reply(self) -> Reply:
        return (await self._replies(1))[0]

    async def _replies(self, count: int) -> list[Reply]:
        """The next ``count`` replies, read in as few reads as the server allows.

        A pipelined group's answers usually arrive in one segment; reading
        them with one ``read`` rather than a ``readline`` each is a third of
        this client's CPU per message.
        """
        assert self._reader is not None
        replies: list[Reply] = []
        lines: list[bytes] = []  # the reply being read, across reads
        data = self._rest
        while True:
            start = 0
            while (end := data.find(b"\n", start)) >= 0:
                line = data[start:end]
                start = end + 1
                lines.append(line)
                if line[3:4] != b"-":
                    replies.append(_parse(lines))
                    lines = []
                    if len(replies) == count:
                        self._rest = data[start:]
                        return replies
            data = data[start:]
            chunk = await self._reader.read(1 << 16)
            if not chunk:
                raise ConnectionResetError("the SMTP server closed the connection")
            data += chunk

    async def usable(self) -> bool:
        """After a pause, make sure the relay has not dropped us (NOOP)."""
        if self._writer is None or self._writer.is_closing():
            return False
        if time.monotonic() - self.last_used < _IDLE_PROBE_SECONDS:
            return True
        try:
            async with asyncio.timeout(self.config.timeout):
                return (await self._command(b"NOOP\r\n")).code == 250
        except (OSError, SmtpError, TimeoutError):
            return False

    async def transact(
        self, queue: deque[int], envelopes: Sequence[Envelope], replies: list[Reply | None]
    ) -> None:
        """Send messages taken from ``queue`` until it is empty, pipelined.

        Writes each message's final reply into ``replies``. On an exception
        the indices in :attr:`inflight` and :attr:`unsent` have no reply yet.
        """
        assert self._writer is not None
        body: bytes | None = None  # the previous message, waiting to follow its 354
        previous = -1
        dirty = False  # a transaction was left open by a refused recipient: RSET first
        self.inflight, self.unsent = [], []
        timeout = self.config.timeout
        while queue or body is not None:
            out: list[bytes] = []
            expect: list[tuple[str, int]] = []
            if body is not None:
                out.append(body)
                expect.append(("dot", previous))
                self.unsent.remove(previous)
                self.inflight.append(previous)
                body = None
            if dirty:
                out.append(b"RSET\r\n")
                expect.append(("rset", -1))
                dirty = False
            current = None
            if queue:
                current = _Txn(queue.popleft())
                self.unsent.append(current.index)
                env = envelopes[current.index]
                dsn = ""
                if env.envelope_id and "dsn" in self.extensions:
                    dsn = f" RET=HDRS ENVID={xtext(env.envelope_id)}"
                out.append(f"MAIL FROM:<{env.sender}>{dsn}\r\n".encode("ascii"))
                out.append(f"RCPT TO:<{env.recipient}>\r\n".encode("ascii"))
                out.append(b"DATA\r\n")
                expect += [("mail", current.index), ("rcpt", current.index)]
                expect.append(("data", current.index))
            async with asyncio.timeout(timeout):
                if self.pipelining:
                    self._writer.write(b"".join(out))
                    await self._writer.drain()
                    answers = await self._replies(len(expect))
                else:
                    answers = [await self._command(chunk) for chunk in out]
            for (step, index), reply in zip(expect, answers, strict=True):
                if step == "dot":
                    replies[index] = reply
                    self.inflight.remove(index)
                elif step == "rset":
                    self._expect(reply, 250, "RSET")
                elif current is None:
                    continue
                elif step in ("mail", "rcpt"):
                    if reply.code // 100 != 2 and current.failure is None:
                        current.failure = reply
                elif reply.code == 354 and current.failure is None:
                    body = stuff(envelopes[index].data)
                    previous = index
                elif reply.code == 354:
                    raise SmtpError("server said 354 to DATA after refusing the recipient")
                else:
                    replies[index] = current.failure or reply
                    self.unsent.remove(index)
                    dirty = True
        self.last_used = time.monotonic()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()
        self._writer = self._reader = None

    async def quit(self) -> None:
        if self._writer is None:
            return
        try:
            async with asyncio.timeout(5):
                await self._command(b"QUIT\r\n")
        except (OSError, SmtpError, TimeoutError):
            pass
        self.abort()


class SmtpPool:
    """N persistent connections to one relay, shared by every batch a worker sends."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._slots: list[SmtpConnection | None] = [None] * config.connections
        self.connects = 0  # how many sessions were opened, for tests and metrics

    async def deliver(self, envelopes: Sequence[Envelope]) -> list[Reply]:
        """One reply per envelope, in order; never raises for the relay's sake."""
        replies: list[Reply | None] = [None] * len(envelopes)
        queue = deque(range(len(envelopes)))
        errors: list[str] = []
        workers = min(len(self._slots), len(envelopes))
        await asyncio.gather(
            *(self._work(slot, queue, envelopes, replies, errors) for slot in range(workers))
        )
        reason = errors[-1] if errors else "not sent"
        return [r if r is not None else Reply(0, f"relay unreachable: {reason}") for r in replies]

    async def _work(
        self,
        slot: int,
        queue: deque[int],
        envelopes: Sequence[Envelope],
        replies: list[Reply | None],
        errors: list[str],
    ) -> None:
        failures = 0
        while queue and failures < 2:
            conn = self._slots[slot]
            try:
                if conn is None or not await conn.usable():
                    if conn is not None:
                        conn.abort()
                    self._slots[slot] = None
                    conn = SmtpConnection(self.config)
                    self.connects += 1
                    await conn.connect()
                    self._slots[slot] = conn
                await conn.transact(queue, envelopes, replies)
                failures = 0
            except (OSError, SmtpError, TimeoutError, asyncio.IncompleteReadError) as exc:
                failures += 1
                message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                errors.append(message)
                if conn is not None:
                    # a body that went out unanswered may have been accepted: the
                    # ledger decides (RETRY); the others go again on a new connection
                    for index in conn.inflight:
                        replies[index] = Reply(0, f"connection lost: {message}")
                    queue.extendleft(reversed(conn.unsent))
                    conn.inflight, conn.unsent = [], []
                    conn.abort()
                self._slots[slot] = None

    async def close(self) -> None:
        await asyncio.gather(*(c.quit() for c in self._slots if c is not None))
        self._slots = [None] * len(self._slots)
