"""The command line, driven as a user drives it, on both databases."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from amends.cli import app
from amends.cli.context import AppState
from amends.config import Settings


@pytest.fixture
def amends(database_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), env={"AMENDS_DATABASE_URL": database_url})
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_components_with_dependencies(amends) -> None:  # type: ignore[no-untyped-def]
    amends("component", "add", "dns", "--name", "DNS", "--group", "Core")
    amends("component", "add", "web-hosting", "--depends-on", "dns")
    rows = json.loads(amends("component", "list", "--json").output)
    assert {r["key"]: r["depends_on"] for r in rows} == {"dns": [], "web-hosting": ["dns"]}
    assert {r["status"] for r in rows} == {"operational"}
    bad = amends("component", "add", "dns", "--depends-on", "web-hosting", ok=False)
    assert bad.exit_code == 1
    assert "cycle" in bad.output


def test_incident_lifecycle_from_the_command_line(amends) -> None:  # type: ignore[no-untyped-def]
    amends("component", "add", "dns")
    opened = json.loads(
        amends(
            "incident",
            "open",
            "DNS down",
            "-c",
            "dns=major_outage",
            "--started-at",
            "2012-09-10T10:25:00-07:00",
            "--json",
        ).output
    )
    assert opened["started_at"] == "2012-09-10T17:25:00Z"
    assert opened["impact"] == "critical"
    incident_id = str(opened["id"])
    listed = json.loads(amends("component", "list", "--json").output)
    assert listed[0]["status"] == "major_outage"
    amends("incident", "update", incident_id, "-s", "identified", "-m", "router tables")
    refused = amends("incident", "update", incident_id, "-s", "investigating", "-m", "x", ok=False)
    assert refused.exit_code == 1
    assert "invalid_transition" in refused.output
    early = amends(
        "incident",
        "resolve",
        incident_id,
        "-m",
        "ok",
        "--resolved-at",
        "2012-09-10T17:00:00Z",
        ok=False,
    )
    assert "invalid_time" in early.output
    amends("incident", "resolve", incident_id, "-m", "restored")
    shown = json.loads(amends("incident", "show", incident_id, "--json").output)
    assert [u["status"] for u in shown["updates"]] == ["investigating", "identified", "resolved"]
    human = amends("incident", "show", incident_id).output
    assert "router tables" in human and "resolved" in human
    assert json.loads(amends("incident", "list", "--open", "--json").output) == []


def test_naive_times_and_unknown_statuses_get_clear_errors(amends) -> None:  # type: ignore[no-untyped-def]
    amends("component", "add", "dns")
    naive = amends(
        "incident", "open", "x", "-c", "dns", "--started-at", "2012-09-10 17:00", ok=False
    )
    assert naive.exit_code == 1 and "offset" in naive.output
    bad = amends("incident", "open", "x", "-c", "dns=broken", ok=False)
    assert bad.exit_code == 1 and "unknown status" in bad.output
    missing = amends("incident", "show", "999", ok=False)
    assert missing.exit_code == 1 and "no incident 999" in missing.output


def test_demo_is_deterministic_and_tells_what_to_run_next(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    outputs = []
    for name in ("a.db", "b.db"):
        result = runner.invoke(
            app, ["demo", "--customers", "300", "--seed", "7", "--db", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "Next:" in outputs[0] and "amends impact 1" in outputs[0]
    assert "http://127.0.0.1:8000/en/incidents/1.html" in outputs[0]
    env = {"AMENDS_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}
    summary_a = json.loads(runner.invoke(app, ["impact", "1", "--json"], env=env).output)
    env_b = {"AMENDS_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    summary_b = json.loads(runner.invoke(app, ["impact", "1", "--json"], env=env_b).output)
    assert summary_a == summary_b
    assert summary_a["customers"] > 0
    # It sent its e-mail notices (first, two updates, resolution, the apology) to
    # its own SMTP sink, and the auditor passed the apology in both languages.
    sent = json.loads(runner.invoke(app, ["deliveries", "1", "--json"], env=env).output)
    kinds = [n["kind"] for n in sent["notices"]]
    assert kinds == ["first", "update", "update", "resolution", "apology"]
    for lang in ("en", "es"):
        assert (
            f"apology ({lang}): the auditor found 7 of 7 steps; worst finding: pass" in outputs[0]
        )
    assert "blocked" not in outputs[0]
    assert set(sent["by_channel"]["email"]) == {"sent"}
    assert f"accepted {sent['by_channel']['email']['sent']:,} e-mails" in outputs[0]
    # 60 % of sites are on the provider's DNS: the affected share is near it.
    total = json.loads(
        runner.invoke(app, ["customer", "list", "--limit", "10000", "--json"], env=env).output
    )
    assert len(total) == 300
    shown = json.loads(runner.invoke(app, ["incident", "show", "1", "--json"], env=env).output)
    assert shown["status"] == "resolved"
    assert "corrupted router data tables" in shown["updates"][1]["message"]


def test_errors_print_user_text_literally(amends) -> None:  # type: ignore[no-untyped-def]
    """Text from the user is not Rich markup: ``[/x]`` is shown, not parsed."""
    bad = amends("incident", "show", "404", ok=False)
    assert bad.exit_code == 1
    assert "[incident]" in bad.output and "no incident 404" in bad.output
    odd = amends("component", "add", "[/x]", ok=False)
    assert odd.exit_code == 1
    assert "[key]" in odd.output


def test_a_reading_command_leaves_sqlite_writable(sqlite_url: str) -> None:
    """``amends impact --export`` reads for as long as its pipe takes; meanwhile
    an incident update (another process) must still get the write lock."""
    app_state = AppState(Settings(database_url=sqlite_url, auto_migrate=False))
    try:
        with app_state.reading() as session:
            session.execute(text("SELECT count(*) FROM components")).scalar_one()
            writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=1)
            try:
                writer.execute("BEGIN IMMEDIATE")  # would time out under a held write lock
                writer.execute(
                    "INSERT INTO components (key, name, description, position, "
                    "created_at) VALUES ('x', 'X', '', 0, '2012-09-10 00:00:00')"
                )
                writer.commit()
            finally:
                writer.close()
    finally:
        app_state.close()


def test_apologise_from_the_command_line(amends, database_url: str) -> None:  # type: ignore[no-untyped-def]
    from amends.db import make_engine, session_factory, unit_of_work
    from tests.factories import customer, hosting_catalog, site

    engine = make_engine(database_url)
    with unit_of_work(session_factory(engine)) as session:
        hosting_catalog(session)
        site(session, customer(session, locale="es"), ["dns"])
        site(session, customer(session, locale="en"), ["web-hosting"])
    engine.dispose()
    amends("incident", "open", "DNS down", "-c", "dns=major_outage", "--no-notify")
    amends("incident", "resolve", "1", "-m", "Fixed.", "--no-notify")
    not_yet = amends("incident", "apologise", "2", ok=False)
    assert not_yet.exit_code == 1 and "not_found" in not_yet.output
    amends(
        "incident", "facts", "1", "--cause-owner", "internal",
        "--cause", "hackers attacked our DNS", "--taken", "we restored DNS",
    )  # fmt: skip
    amends("incident", "facts", "1", "--exposure", "none", "--signed-off-by", "CISO")
    refused = amends("incident", "apologise", "1", ok=False)
    assert refused.exit_code == 1 and "N4" in refused.output
    owed = json.loads(amends("deliveries", "1", "--json").output)
    assert owed["total"] == 0  # nothing of the refused apology was written
    sent = amends(
        "incident", "apologise", "1", "--override-by", "Ana", "--reason", "legal approved",
    )  # fmt: skip
    # Sent over the block, which stays on record; no credit here, so six steps.
    assert "audit (en): 6 of 7 steps; worst finding: block" in sent.output
    assert "audit (es): 6 of 7 steps; worst finding: block" in sent.output
    owed = json.loads(amends("deliveries", "1", "--json").output)
    assert [n["kind"] for n in owed["notices"]] == ["apology"] and owed["total"] == 2
