"""A real receiving end for delivery tests: an HTTP server on 127.0.0.1 and a
channel that POSTs each chunk of messages to it, as a provider's batch API.

The server answers per message from the address: one containing ``retry``
gets a temporary failure (with Retry-After), ``bad`` a permanent one; every
other message is accepted with a provider id. It keeps every key it
accepted, so tests (and the crash script) count losses and duplicates.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from amends.delivery.channels.base import Channel, Limits, Message, Outcome, SendResult


class Receiver:
    """The provider's endpoint. ``keys`` counts every accepted message key."""

    def __init__(self, *, log_path: str | None = None) -> None:
        self.keys: Counter[str] = Counter()
        self.bodies: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                try:
                    batch = json.loads(self.rfile.read(length))
                except ValueError:  # a sender killed mid-request: nothing was accepted
                    self.send_error(400)
                    return
                answers = []
                with receiver.lock:
                    for m in batch["messages"]:
                        if "retry" in m["address"]:
                            answers.append({"status": "retry", "retry_after": 60})
                        elif "bad" in m["address"]:
                            answers.append({"status": "failed", "error": "550 no such user"})
                        else:
                            receiver.keys[m["key"]] += 1
                            receiver.bodies[m["key"]] = m
                            answers.append({"status": "sent", "id": f"p-{m['key']}"})
                            if receiver.log:
                                receiver.log.write(m["key"] + "\n")
                    if receiver.log:
                        receiver.log.flush()
                data = json.dumps({"results": answers}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self.log:
            self.log.close()


class HttpChannel(Channel):
    """POSTs a chunk of messages as one JSON request; maps the answers back."""

    name = "test-http"
    limits = Limits(max_batch=1000)

    def __init__(self, url: str) -> None:
        self.url = url
        self.client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        self.client = httpx.AsyncClient(timeout=30)

    async def send(self, messages: Sequence[Message]) -> list[SendResult]:
        assert self.client is not None, "open() first"
        body = {
            "messages": [
                {"key": m.key, "address": m.address, "subject": m.subject, "text": m.text,
                 "html": m.html, "locale": m.locale, "payload": m.payload}
                for m in messages
            ]
        }  # fmt: skip
        response = await self.client.post(self.url, json=body)
        response.raise_for_status()
        results = []
        for m, answer in zip(messages, response.json()["results"], strict=True):
            if answer["status"] == "sent":
                results.append(SendResult(m.delivery_id, Outcome.SENT, provider_id=answer["id"]))
            elif answer["status"] == "retry":
                results.append(
                    SendResult(
                        m.delivery_id, Outcome.RETRY, error="429", retry_after=answer["retry_after"]
                    )
                )
            else:
                results.append(SendResult(m.delivery_id, Outcome.FAILED, error=answer["error"]))
        return results

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
