"""The CLI over the demo's provider: availability, outage import, credits end to end;
the composer's credit summary and the webhook payloads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from amends.catalog.models import Customer
from amends.cli import app
from amends.credits import events, redemption
from amends.credits.models import Credit
from amends.db import make_engine, session_factory, unit_of_work


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(
        app, ["demo", "--customers", "300", "--seed", "7", "--db", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "Compensation" in result.output and "issued" in result.output
    assert "availability over the last 12 months" in result.output
    assert "redemption link, as their apology carries it: http://127.0.0.1:8000/r/" in (
        result.output.replace("\n", "")
    )
    return f"sqlite:///{path}"


def run(url: str, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, ["--database-url", url, *args])
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def test_demo_issues_the_2012_credits_once(demo_db: str) -> None:
    report = json.loads(run(demo_db, "credits", "report", "1", "--json"))
    issued = sum(c["credits"] for c in report["issued"].values())
    assert issued > 0 and report["customers"] > 0
    assert set(report["issued"]) <= {"EUR", "USD"}
    again = json.loads(run(demo_db, "credits", "issue", "1", "--policy", "godaddy-2012", "--json"))
    assert again["created"] == 0  # the demo already issued them
    preview = json.loads(
        run(demo_db, "credits", "preview", "1", "--policy", "godaddy-2012", "--json")
    )
    assert preview["already_issued"] == issued and preview["warnings"] == []
    shares = {row["share_of_fee"] for row in preview["distribution"]}
    assert shares == {"100 %"}
    aws = json.loads(run(demo_db, "credits", "preview", "1", "--policy", "aws-ec2", "--json"))
    assert {w["rule"] for w in aws["warnings"]} == {"C2"}  # 10 % of the fee for a critical outage


def test_a_policy_file_and_its_block(demo_db: str, tmp_path: Path) -> None:
    mean = tmp_path / "mean.toml"
    mean.write_text('key = "mean"\nkind = "pro_rata"\ncontract_percent = 5\nfloor = false\n')
    out = run(demo_db, "credits", "issue", "1", "--policy", str(mean), ok=False)
    assert "C1" in out
    assert "mean" not in run(demo_db, "credits", "policy", "list")  # refused: nothing saved


def test_availability_command_and_outage_import(demo_db: str, tmp_path: Path) -> None:
    sept = json.loads(run(demo_db, "availability", "dns", "--period", "2012-09", "--json"))
    row = next(iter(sept["views"].values()))
    assert row["percent"].startswith("99.")
    outages = tmp_path / "o.csv"
    outages.write_text(
        "component,starts_at,ends_at\ndns,2012-08-01T00:00:00Z,2012-08-01T01:00:00Z\n"
    )
    assert "1 added" in run(demo_db, "import", "outages", str(outages))
    august = json.loads(run(demo_db, "availability", "dns", "--period", "2012-08", "--json"))
    assert next(iter(august["views"].values()))["down_seconds"] == "3600"
    outages.write_text("component,starts_at,ends_at\nnope,2012-08-01T00:00:00Z,x\n")
    bad = run(demo_db, "import", "outages", str(outages), ok=False)
    assert "line 2, field component" in bad and "field ends_at" in bad
    summary = json.loads(run(demo_db, "availability", "web-hosting", "--json"))
    assert set(summary["views"]) == {"day", "month", "90d", "all"}


def test_credit_summary_for_the_composer_and_webhook_payloads(demo_db: str) -> None:
    engine = make_engine(demo_db)
    with unit_of_work(session_factory(engine)) as session:
        credit = session.query(Credit).order_by(Credit.id).first()
        assert credit is not None
        summary = redemption.credit_summary(
            session=session,
            customer_id=credit.customer_id,
            incident_id=1,
            base_url="https://amends.test/",
        )
        assert summary is not None
        assert summary.redeem_url and summary.redeem_url.startswith("https://amends.test/r/")
        assert len(summary.redeem_url.rsplit("/", 1)[1]) >= 43  # 256 bits, urlsafe
        assert all(type(v) is int for v in summary.amounts.values())
        assert not summary.auto_apply and summary.sites  # the demo's policy: redeem by click
        assert summary.available_at == dt.datetime(2012, 9, 19, 16, tzinfo=dt.UTC)
        payload = events.credit_event(
            "credit.issued", session=session, credit_id=credit.id, at=credit.issued_at
        )
        assert payload["type"] == "credit.issued"
        assert payload["data"]["amount_minor"] == credit.amount_minor
        assert "email" not in json.dumps(payload) and "name" not in payload["data"]
        assert (
            redemption.credit_summary(
                session=session, customer_id=10**9, incident_id=1, base_url="x"
            )
            is None
        )
        external = session.get_one(Customer, credit.customer_id).external_id
    engine.dispose()
    url = run(demo_db, "credits", "link", "1", external).strip()
    assert url.startswith("http://127.0.0.1:8000/r/")
    assert url == summary.redeem_url.replace("https://amends.test", "http://127.0.0.1:8000")
    assert run(demo_db, "credits", "link", "1", external).strip() == url  # reproducible
    rotated = run(demo_db, "credits", "link", "1", external, "--rotate").strip()
    assert rotated != url and rotated.startswith("http://127.0.0.1:8000/r/")
