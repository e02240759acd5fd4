"""``amends draft …`` through the command line's entry point, on a temporary
database (both kinds): start, show, edit from a file and from standard input,
ask, preview, the two-person rule by name, the override a blocking finding
needs, one send only, discard; and once through the installed ``amends``
script in a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from amends.cli import app
from amends.db import make_engine, session_factory, unit_of_work
from amends.delivery.models import Delivery, Notice
from amends.facts.models import AuditOverride
from amends.users.models import AuditEntry
from tests import factories

BLOCKING = "We are sorry for any inconvenience this may have caused."  # N2 blocks


@pytest.fixture
def url(database_url: str) -> str:
    """A database with two affected customers (Spanish, English) and incident 1."""
    engine = make_engine(database_url)
    with unit_of_work(session_factory(engine)) as session:
        factories.dns_down_for_ana_and_bob(session)
    engine.dispose()
    return database_url


def amends(url: str, *args: str, ok: bool = True, stdin: str | None = None, **env: str) -> Result:
    result = CliRunner().invoke(
        app, ["--database-url", url, *args], input=stdin, env={"AMENDS_DATABASE_URL": url, **env}
    )
    assert (result.exit_code == 0) == ok, result.output
    return result


def _said(result: Result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def _rows(url: str, model: type) -> list[Any]:
    engine = make_engine(url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            rows = list(session.scalars(select(model)).all())
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


def test_draft_edit_ask_preview_and_send(url: str, tmp_path: Path) -> None:
    two = {"AMENDS_CONSOLE_TWO_PERSON_RULE": "true"}
    made = _json(amends(url, "draft", "new", "1", "--kind", "correction", "--by", "ana", "--json"))
    draft = str(made["id"])
    assert (made["state"], made["created_by"], made["blocked"]) == ("draft", "ana", False)
    assert made["versions"][0]["texts"]["es"]["subject"] == "Corrección: DNS down"
    shown = amends(url, "draft", "show", draft).stdout
    assert "Correction: DNS down" in shown and "auditor (es)" in shown
    listed = _json(amends(url, "draft", "list", "1", "--json"))
    assert [d["id"] for d in listed] == [made["id"]]

    text = tmp_path / "email.txt"
    text.write_text("Hola {{ name }}: la cifra que dimos sobre {{ sites }} era errónea.\n")
    edited = _json(
        amends(url, "draft", "edit", draft, "--lang", "es", "--field", "email", "--file",
               str(text), "--by", "ana", "--json")
    )  # fmt: skip
    assert edited["version"] == 2
    assert edited["versions"][-1]["texts"]["es"]["email"].startswith("Hola {{ name }}: la cifra")
    assert edited["versions"][-1]["texts"]["en"] == made["versions"][0]["texts"]["en"]
    bad = amends(url, "draft", "edit", draft, "--lang", "en", "--field", "sms",
                 "--by", "ana", stdin="Hi {{ name.__class__ }}", ok=False)  # fmt: skip
    assert "[en.sms]" in _said(bad) and "getattr is not allowed" in _said(bad)
    piped = amends(url, "draft", "edit", draft, "--lang", "en", "--field", "sms", "--by", "ana",
                   "--json", stdin="Correction for {{ name }}: see your e-mail.")  # fmt: skip
    assert _json(piped)["version"] == 3
    wrong = amends(url, "draft", "edit", draft, "--lang", "fr", "--field", "sms", stdin="x",
                   ok=False)  # fmt: skip
    assert "[lang]" in _said(wrong)

    preview = _json(amends(url, "draft", "preview", draft, "--customer", "ana", "--channel",
                           "sms", "--lang", "en", "--json"))  # fmt: skip
    assert preview["sms"]["text"] == "Correction for Ana Ruiz: see your e-mail."
    assert (preview["sms"]["segments"], preview["sms"]["encoding"]) == (1, "GSM-7")
    mail = amends(url, "draft", "preview", draft, "--customer", "ana").stdout
    assert "Hola Ana Ruiz: la cifra que dimos sobre" in mail and "/u/c." in mail

    refused = amends(url, "draft", "send", draft, "--by", "bob", ok=False, **two)
    assert "someone must ask" in _said(refused)
    assert _json(amends(url, "draft", "ask", draft, "--by", "ana", "--json"))["state"] == (
        "requested"
    )
    mine = amends(url, "draft", "send", draft, "--by", "ana", ok=False, **two)
    assert "ana wrote or asked for this draft" in _said(mine)
    assert _rows(url, Notice) == []
    sent = _json(amends(url, "draft", "send", draft, "--by", "bob", "--json", **two))
    assert (sent["draft"]["state"], sent["draft"]["approved_by"]) == ("sent", "bob")
    assert sent["deliveries"] == 3 and sent["overridden"] == []
    again = amends(url, "draft", "send", draft, "--by", "bob", ok=False, **two)
    assert "already sent" in _said(again)
    assert len(_rows(url, Notice)) == 1 and len(_rows(url, Delivery)) == 3
    actions = [(e.actor, e.action) for e in _rows(url, AuditEntry)]
    assert actions == [
        ("ana", "draft.create"),
        ("ana", "draft.edit"),
        ("ana", "draft.edit"),
        ("ana", "draft.request"),
        ("bob", "draft.send"),
    ]


def test_a_blocking_finding_needs_a_reason_and_discarding(url: str) -> None:
    draft = str(_json(amends(url, "draft", "new", "1", "--kind", "update", "--json"))["id"])
    blocked = _json(amends(url, "draft", "edit", draft, "--lang", "en", "--field", "email",
                           "--json", stdin=BLOCKING))  # fmt: skip
    assert blocked["blocked"] is True and blocked["versions"][-1]["written_by"] == "cli"
    assert "the auditor blocks this draft" in amends(url, "draft", "show", draft).stdout
    refused = amends(url, "draft", "send", draft, "--by", "Ana Pérez", ok=False)
    assert "[override]" in _said(refused) and "N2" in _said(refused)
    assert _rows(url, Notice) == [] and _rows(url, AuditOverride) == []
    sent = _json(amends(url, "draft", "send", draft, "--by", "Ana Pérez", "--override-reason",
                        "Legal approved the wording", "--json"))  # fmt: skip
    assert sent["overridden"] == ["en"]
    (override,) = _rows(url, AuditOverride)
    assert (override.who, override.why) == ("Ana Pérez", "Legal approved the wording")

    other = str(_json(amends(url, "draft", "new", "1", "--kind", "first_notice", "--json"))["id"])
    gone = _json(amends(url, "draft", "discard", other, "--by", "ana", "--json"))
    assert (gone["state"], gone["discarded_by"]) == ("discarded", "ana")
    late = amends(url, "draft", "edit", other, "--lang", "en", "--field", "sms", stdin="x",
                  ok=False)  # fmt: skip
    assert "discarded" in _said(late)
    assert "no draft 99" in amends(url, "draft", "show", "99", ok=False).output
    bad_kind = amends(url, "draft", "new", "1", "--kind", "haiku", ok=False)
    assert bad_kind.exit_code == 2 and "haiku" in _said(bad_kind)


def test_the_installed_script(url: str) -> None:
    """The ``amends`` console script itself, in its own process."""
    script = shutil.which("amends", path=str(Path(sys.executable).parent))
    assert script is not None
    env = {**os.environ, "AMENDS_DATABASE_URL": url}
    made = subprocess.run(
        [script, "draft", "new", "1", "--kind", "update", "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    draft = json.loads(made.stdout)
    listed = subprocess.run(
        [script, "draft", "list", "1"], capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )  # fmt: skip
    assert (
        listed.returncode == 0 and f"{draft['id']}" in listed.stdout and "update" in listed.stdout
    )
