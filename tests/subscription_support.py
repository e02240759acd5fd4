"""What the subscription tests share: an aiosmtpd sink on 127.0.0.1, settings
that send to it, reading the links out of what arrived, and the dispatcher."""

from __future__ import annotations

import asyncio
import concurrent.futures
import email
import email.policy
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import Engine

from amends.config import Settings
from amends.delivery import dispatch
from amends.delivery.channels.base import channel_class


class Sink:
    """Keeps every message that arrives, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} message(s) to {address} did not arrive")
            time.sleep(0.02)
        return self.to(address)


@contextmanager
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def mail_settings(database_url: str, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "auto_migrate": False,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": "off",
        "smtp_connections": 1,
        "smtp_timeout": 10,
        "mail_from": "status@hosting.example",
        "mail_from_name": "Hosting status",
        "message_id_domain": "hosting.example",
        "public_url": "http://amends.test",
        "notice_sender": "Hosting",
        "statuspage_cache_seconds": 0,
    }
    values.update(overrides)
    return Settings(**values)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def link(message: EmailMessage, path: str) -> str:
    """The first link in the text part whose path starts with ``path``."""
    found = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"[^\s>]+)", text_of(message))
    assert found, text_of(message)
    return found.group(1)


def one_click(message: EmailMessage) -> str:
    """The https/http target of ``List-Unsubscribe``, as a path."""
    found = re.search(r"<https?://[^/>]+(/u/[^>]+)>", str(message["List-Unsubscribe"]))
    assert found, message["List-Unsubscribe"]
    return found.group(1)


def run_dispatch(engine: Engine, settings: Settings) -> dispatch.Tally:
    """Send what the ledger owes through the real e-mail channel, until nothing is due."""
    channel = channel_class("email").from_settings(settings)
    dispatcher = dispatch.Dispatcher(engine=engine, settings=settings, channels={"email": channel})

    async def go() -> dispatch.Tally:
        try:
            return await dispatcher.drain()
        finally:
            await dispatcher.close()

    # In its own thread: Playwright's sync API keeps an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()
