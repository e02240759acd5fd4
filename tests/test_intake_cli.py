"""Drafts from the command line: list, show, publish (the first notice owed), discard,
and the rules in force; and replicas racing to file one alert group — on both databases."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from amends.cli import app
from amends.db import unit_of_work
from amends.delivery.models import Notice, NoticeKind
from amends.intake import payloads
from amends.intake import service as intake_service
from amends.intake.rules import RuleSet
from tests import factories
from tests.intake_support import alert, payload


@pytest.fixture
def amends(database_url: str):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def run(*args: str, ok: bool = True, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        result = runner.invoke(
            app, list(args), env={"AMENDS_DATABASE_URL": database_url, **(env or {})}
        )
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def _receive(sessions: sessionmaker[Session], body: dict[str, Any]) -> int:
    with unit_of_work(sessions) as session:
        received = intake_service.receive(
            session=session,
            alerts=payloads.from_alertmanager(payloads.AlertmanagerPayload.model_validate(body)),
            rules=RuleSet(),
        )
        return received.drafts[0].id


def test_drafts_listed_shown_published_and_discarded(
    amends: Any, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        factories.hosting_catalog(session)
        factories.site(session, factories.customer(session), ["email"])
    dns = _receive(
        sessions, payload(alert("a1", labels={"component": "dns", "severity": "critical"}))
    )
    other = _receive(sessions, payload(alert("b2", labels={"component": "domains"}), group="Other"))

    listed = json.loads(amends("incident", "list", "--drafts", "--json").output)
    assert {d["id"] for d in listed} == {dns, other}
    assert all(d["state"] == "draft" for d in listed)
    assert json.loads(amends("incident", "list", "--json").output) == [], "drafts are no incidents"
    table = amends("incident", "list", "--drafts", env={"COLUMNS": "200"}).output
    assert "ProbeFailure" in table and "dns (major_outage)" in table

    shown = json.loads(amends("intake", "show", str(dns), "--json").output)
    assert shown["alerts"][0]["fingerprint"] == "a1"
    assert shown["alerts"][0]["rule"] == "component-label"

    published = amends(
        "incident", "publish", str(dns), "--title", "Sites cannot be reached", "--json"
    )
    incident = json.loads(published.output)
    assert incident["title"] == "Sites cannot be reached"
    assert incident["components"][0]["key"] == "dns"
    with unit_of_work(sessions) as session:
        kinds = session.execute(select(Notice.incident_id, Notice.kind)).all()
    assert kinds == [(incident["id"], NoticeKind.first)]
    human = amends("incident", "publish", str(other)).output
    assert f"draft {other} published as incident" in human
    assert "deliveries owed" in human

    again = amends("incident", "publish", str(dns), ok=False)
    assert again.exit_code == 1
    assert "already published" in again.output
    missing = amends("incident", "publish", "999", ok=False)
    assert missing.exit_code == 1 and "no draft 999" in missing.output

    third = _receive(sessions, payload(alert("c3", labels={"component": "email"}), group="Third"))
    discarded = json.loads(
        amends("incident", "discard", str(third), "--reason", "test probe", "--json").output
    )
    assert discarded["state"] == "discarded"
    assert discarded["discard_reason"] == "test probe"
    assert json.loads(amends("incident", "list", "--drafts", "--json").output) == []


def test_rules_shown_and_checked(amends: Any, tmp_path: Path) -> None:
    builtin = json.loads(amends("intake", "rules", "--json").output)
    assert [r["component_label"] for r in builtin["rules"]] == ["component"]

    good = tmp_path / "intake.toml"
    good.write_text(
        '[[rules]]\nname = "dns"\nmatchers = [\'alertname="DNSDown"\']\n'
        'components = ["dns"]\npublish = ["critical"]\n',
        encoding="utf-8",
    )
    in_force = amends("intake", "rules", env={"AMENDS_INTAKE_RULES_FILE": str(good)}).output
    assert "dns" in in_force and 'alertname="DNSDown"' in in_force and "critical" in in_force

    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nname = "x"\nstatus = "operational"\ncomponents = ["dns"]\n')
    result = amends("intake", "rules", "--file", str(bad), ok=False)
    assert result.exit_code == 1
    assert "rules.0.status" in result.output and "bad.toml" in result.output


def test_replicas_sending_one_group_at_once_open_one_draft(
    sessions: sessionmaker[Session],
) -> None:
    """Alertmanager in HA: every replica sends the same group, at the same moment."""
    with unit_of_work(sessions) as session:
        factories.hosting_catalog(session)
    body = payload(
        alert("ha01", labels={"component": "dns"}), alert("ha02", labels={"component": "email"})
    )
    replicas = 6
    barrier = threading.Barrier(replicas)
    errors: list[BaseException] = []

    def send() -> None:
        try:
            barrier.wait()
            _receive(sessions, body)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with unit_of_work(sessions) as session:
        drafts = intake_service.list_drafts(session=session, state=None)
        assert len(drafts) == 1
        assert sorted((a.fingerprint, a.received) for a in drafts[0].alerts) == [
            ("ha01", replicas),
            ("ha02", replicas),
        ]
