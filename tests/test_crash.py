"""The crash test at reduced size: senders killed with SIGKILL mid-send lose
nothing, and resend no more than the in-flight window per kill."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "crash_send.py"


@pytest.mark.parametrize("channel", ["http", "smtp"])
def test_killed_senders_lose_nothing_and_duplicate_at_most_the_window(
    tmp_path: Path, channel: str
) -> None:
    """``smtp``: through the real e-mail channel to aiosmtpd, counting Message-IDs."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--messages", "3000", "--kills", "3", "--max-run", "0.8",
         "--seed", "7", "--database-url", f"sqlite:///{tmp_path / 'crash.db'}",
         *(["--smtp"] if channel == "smtp" else [])],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["states"] == {"sent": 3000}
    assert summary["unfinished"] == 0 and summary["lost"] == 0
    assert summary["received_unique"] == 3000
    assert summary["duplicates"] <= summary["kills"] * summary["window_per_kill"]
