"""What every browser test needs: Debian's Chromium driven by Playwright, and the
real app served by Uvicorn on a free port of 127.0.0.1.

Import ``require_chromium()`` at module level first: without Chromium a test
module is skipped on a developer's machine and fails in CI (where `.ci/run`
installs it).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = Path(os.environ.get("AMENDS_TEST_CHROMIUM", "/usr/bin/chromium"))
#: Never `playwright install`: Debian's Chromium, with nothing reaching the network.
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> Any:
    """Skip the calling module without Chromium (fail in CI); Playwright's sync API."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Chromium at {CHROMIUM} (.ci/run installs it)")
        pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


def web_first_expect() -> Any:
    """Playwright's ``expect`` (after :func:`require_chromium`): its assertions
    retry until the page that a click loads shows what they expect, where
    ``count()`` or ``all_inner_texts()`` would read the page mid-load."""
    return require_chromium().expect


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(app: Any, port: int) -> Iterator[uvicorn.Server]:
    """The app under Uvicorn in a thread, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium for the block."""
    sync_api = require_chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
