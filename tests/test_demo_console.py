"""``amends demo --console``: the replay, then the console served with a demo admin
whose one-time password is printed — and that password signs in."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from amends.users.service import MIN_PASSWORD


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_console_prints_a_password_that_signs_in(tmp_path: Path) -> None:
    port = _free_port()
    command = [
        sys.executable, "-c", "from amends.cli import main; main()", "demo", "--customers", "60",
        "--db", str(tmp_path / "demo.db"), "--console", "--port", str(port),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
    )
    try:
        output = ""
        deadline = time.monotonic() + 240
        assert process.stdout is not None
        while "password:" not in output:
            assert time.monotonic() < deadline, output
            line = process.stdout.readline()
            assert line or process.poll() is None, output
            output += line
        found = re.search(r"^password: (\S+)$", output, re.MULTILINE)
        assert found and len(found.group(1)) >= MIN_PASSWORD, output
        assert f"console: http://127.0.0.1:{port}/console/" in output
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            while True:
                try:
                    form = client.get("/console/login")
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "the console did not start"
                    time.sleep(0.2)
            token = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert token
            signed = client.post(
                "/console/login",
                data={"email": "admin@demo.example", "password": found.group(1),
                      "csrf": token.group(1)},
            )  # fmt: skip
            assert signed.status_code == 303, signed.text
            home = client.get("/console/")
            assert home.status_code == 200
            assert "Name servers" in home.text or "DNS" in home.text  # the replayed incident
    finally:
        process.terminate()
        process.wait(20)
        if process.stdout is not None:
            process.stdout.close()
