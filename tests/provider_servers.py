"""Small real HTTP servers on 127.0.0.1 standing in for providers.

Each checks the request the way the provider documents it and answers like the
provider would; a test can queue scripted answers (429 with Retry-After, 500,
400) for the next requests. Every request is recorded with its arrival time,
so rates are measured where the provider would measure them.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Received:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)


class StubServer:
    """A threaded HTTP server whose handler is a plain function of the request."""

    def __init__(
        self, handle: Callable[[Received], Answer], *, tls: ssl.SSLContext | None = None
    ) -> None:
        self.handle = handle
        self.received: list[Received] = []
        self.scripted: deque[Answer] = deque()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                request = Received(
                    at=time.perf_counter(),
                    method="POST",
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                if "form-urlencoded" in request.headers.get("content-type", ""):
                    parsed = parse_qs(body.decode(), keep_blank_values=True)
                    request.form = {k: v[-1] for k, v in parsed.items()}
                with stub._lock:
                    stub.received.append(request)
                    scripted = stub.scripted.popleft() if stub.scripted else None
                status, headers, payload = scripted or stub.handle(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def answer_next(self, *answers: Answer) -> None:
        with self._lock:
            self.scripted.extend(answers)

    @contextmanager
    def running(self) -> Iterator[StubServer]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
            thread.join()


def _json(status: int, body: dict[str, object], **headers: str) -> Answer:
    return status, {"content-type": "application/json", **headers}, json.dumps(body).encode()


E164 = re.compile(r"^\+[1-9]\d{6,14}$")
TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/(Messages|Calls)\.json$")


def twilio_error(status: int, code: int, message: str) -> Answer:
    """Twilio's error body (REST API "Errors" reference)."""
    return _json(status, {"code": code, "message": message, "more_info": "", "status": status})


def fake_twilio(account_sid: str, auth_token: str) -> StubServer:
    """Messages.json and Calls.json as Twilio documents them."""

    def handle(request: Received) -> Answer:
        match = TWILIO_PATH.match(request.path)
        if not match or match.group(1) != account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        expected = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return twilio_error(401, 20003, "Authenticate")
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return twilio_error(400, 20001, "form-encoded body expected")
        form = request.form
        if not E164.match(form.get("To", "")):
            return twilio_error(400, 21211, f"The 'To' number {form.get('To')} is not valid.")
        if match.group(2) == "Messages":
            if not (form.get("From") or form.get("MessagingServiceSid")):
                return twilio_error(400, 21603, "A 'From' phone number is required.")
            if not form.get("Body"):
                return twilio_error(400, 21602, "Message body is required.")
            sid = "SM" + uuid.uuid4().hex
        else:
            if not form.get("From"):
                return twilio_error(400, 21213, "No 'From' number is specified")
            if not (form.get("Twiml") or form.get("Url")):
                return twilio_error(400, 21205, "Url or Twiml is required")
            sid = "CA" + uuid.uuid4().hex
        return _json(201, {"sid": sid, "status": "queued", "to": form["To"]})

    return StubServer(handle)


def webhook_receiver(secret: str) -> StubServer:
    """A subscriber's endpoint that verifies Standard Webhooks signatures."""
    verifier = Webhook(secret)

    def handle(request: Received) -> Answer:
        try:
            verifier.verify(request.body, request.headers)
        except WebhookVerificationError as exc:
            return 400, {}, str(exc).encode()
        return 204, {}, b""

    return StubServer(handle)


def json_sink(*, tls: ssl.SSLContext | None = None) -> StubServer:
    """Accepts any JSON POST (Apprise's json:// target)."""

    def handle(request: Received) -> Answer:
        try:
            json.loads(request.body)
        except ValueError:
            return 400, {}, b"not json"
        return 200, {}, b"{}"

    return StubServer(handle, tls=tls)
