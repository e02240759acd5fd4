"""``amends incident … --notify/--no-notify`` and ``amends deliveries``, as a user runs them."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from amends.cli import app
from amends.db import unit_of_work
from tests.factories import customer, hosting_catalog, site


def test_notices_are_owed_and_counted_from_the_command_line(
    database_url: str, engine: Engine, sessions: sessionmaker
) -> None:
    with unit_of_work(sessions) as session:
        hosting_catalog(session)
        for n in range(3):
            site(
                session,
                customer(session, channels=["email", "sms"], phone=f"+3460000000{n}"),
                ["dns"],
            )
        site(session, customer(session, opt_out=["email"]), ["email"])
    runner = CliRunner()

    def amends(*args: str) -> str:
        result = runner.invoke(app, list(args), env={"AMENDS_DATABASE_URL": database_url})
        assert result.exit_code == 0, result.output
        return result.output

    opened = amends("incident", "open", "DNS down", "-c", "dns=major_outage")
    assert "7 deliveries owed" in opened and "amends deliveries send 1" in opened
    amends("incident", "update", "1", "-s", "identified", "-m", "internal note", "--no-notify")
    amends("incident", "update", "1", "-s", "monitoring", "-m", "Fixed, watching")
    counts = json.loads(amends("deliveries", "1", "--json"))
    assert [n["kind"] for n in counts["notices"]] == ["first", "update"]
    assert counts["by_channel"] == {
        "email": {"pending": 6, "suppressed": 2},
        "sms": {"pending": 6},
    }
    assert counts["total"] == 14
    table = amends("deliveries", "1")
    assert "suppressed" in table and "email" in table
    bad = runner.invoke(app, ["deliveries", "x"], env={"AMENDS_DATABASE_URL": database_url})
    assert bad.exit_code == 1 and "not an incident id" in bad.output


def test_the_usage_line_names_both_arguments_as_a_user_types_them() -> None:
    """The second argument is the incident after send/pause/resume, not a bare
    internal name."""
    result = CliRunner().invoke(app, ["deliveries", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert "{INCIDENT|send|pause|resume} [INCIDENT]" in usage
    assert "second" not in result.output.lower()
