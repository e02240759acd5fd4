"""docs/messages.md shows the messages as the composer produces them today."""

from __future__ import annotations

import contextlib
import io
import runpy
from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs"


def test_the_examples_in_the_messages_doc_are_what_the_composer_writes() -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        runpy.run_path(str(DOCS / "messages_examples.py"), run_name="__main__")
    generated = printed.getvalue().strip()
    assert generated.startswith("### Apology e-mail")
    assert generated in (DOCS / "messages.md").read_text(encoding="utf-8"), (
        "docs/messages.md is stale: run `python docs/messages_examples.py` and paste its output"
    )
