"""The founding e-mail of 2012, through the auditor, the CLI and the API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from amends.api.app import create_app
from amends.apikeys.models import Scope
from amends.cli import app as cli
from amends.config import Settings
from amends.facts.kinds import CauseOwner, Exposure
from amends.messages.audit import AuditFacts, Verdict, audit
from tests.api_support import API, error_of, in_process, issue_key

DATA = Path(__file__).parent / "data"
FACTS = AuditFacts(CauseOwner.internal, Exposure.none, True, Decimal("99.9995"))


@pytest.mark.parametrize("lang", ["en", "es"])
def test_all_seven_steps_found_and_the_hedge_flagged(lang: str) -> None:
    report = audit((DATA / f"godaddy_2012_{lang}.txt").read_text(), lang, facts=FACTS)
    assert [s.present for s in report.steps] == [True] * 7
    assert [s.number for s in report.steps] == list(range(1, 8))
    hedge = report.finding("N2")
    assert hedge.verdict is Verdict.block
    assert ("may have impacted" if lang == "en" else "pueden haber afectado") in hedge.evidence
    others = {r: v for r, v in report.verdicts().items() if r != "N2"}
    assert set(others.values()) == {Verdict.passed}, others
    assert report.blocked


@pytest.mark.parametrize("lang", ["en", "es"])
def test_godaddy_without_the_hedge_and_with_true_facts_is_clean(lang: str) -> None:
    text = (DATA / f"godaddy_2012_{lang}.txt").read_text()
    fixed = text.replace("that may have impacted", "that took down").replace(
        "que pueden haber afectado", "que dejaron sin servicio"
    )
    assert not audit(fixed, lang, facts=FACTS).blocked
    # the same claims against other facts
    assert audit(fixed, lang).finding("N7").verdict is Verdict.block  # no sign-off given
    lower = AuditFacts(CauseOwner.internal, Exposure.none, True, Decimal("99.95"))
    assert audit(fixed, lang, facts=lower).finding("N8").verdict is Verdict.block


def test_steps_report_what_is_missing() -> None:
    text = (DATA / "godaddy_2012_en.txt").read_text()
    paragraphs = text.split("\n\n")
    without_credit_and_cause = "\n\n".join(p for i, p in enumerate(paragraphs) if i not in (3, 6))
    report = audit(without_credit_and_cause, "en", facts=FACTS)
    missing = {s.number for s in report.steps if not s.present}
    assert missing == {3, 6}
    assert report.finding("STEPS").verdict is Verdict.warn
    assert report.finding("A2").verdict is Verdict.block  # no credit, no corrective action
    assert report.finding("A4").verdict is Verdict.warn
    assert report.finding("A5").verdict is Verdict.warn


def _run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), input=stdin)
    result.flat = " ".join(result.output.split())  # Rich wraps long lines
    return result


def test_cli_exit_status_gates_on_blocking_findings() -> None:
    en = str(DATA / "godaddy_2012_en.txt")
    blocked = _run(
        "audit",
        en,
        "--lang",
        "en",
        "--json",
        "--exposure",
        "none",
        "--signed-off",
        "--availability",
        "99.9995",
    )
    assert blocked.exit_code == 1, blocked.output
    report = json.loads(blocked.output)
    assert report["blocked"] is True
    assert [f["rule"] for f in report["findings"] if f["verdict"] == "block"] == ["N2"]
    fixed = (DATA / "godaddy_2012_en.txt").read_text().replace("may have impacted", "took down")
    clean = _run(
        "audit",
        "-",
        "--lang",
        "en",
        "--exposure",
        "none",
        "--signed-off",
        "--availability",
        "99.9995%",
        stdin=fixed,
    )
    assert clean.exit_code == 0, clean.output
    assert "may be sent" in clean.output
    human = _run("audit", str(DATA / "godaddy_2012_es.txt"), "--lang", "es")
    assert human.exit_code == 1
    assert "N2 No conditional" in human.output
    assert "BLOCKED" in human.output


def test_cli_refuses_bad_input_clearly(tmp_path: Path) -> None:
    missing = _run("audit", str(tmp_path / "nope.txt"), "--lang", "en")
    assert missing.exit_code == 1 and "no such file" in missing.flat
    (tmp_path / "x.txt").write_text("We are sorry.")
    french = _run("audit", str(tmp_path / "x.txt"), "--lang", "fr")
    assert french.exit_code == 1 and "no audit lexicon" in french.flat
    figure = _run("audit", str(tmp_path / "x.txt"), "--lang", "en", "--availability", "lots")
    assert figure.exit_code == 1 and "not a percentage" in figure.flat
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert "not UTF-8" in _run("audit", str(binary), "--lang", "en").flat


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(app, key=issue_key(app, Scope.read)) as client:
        yield client


@pytest.mark.anyio
async def test_api_audit_with_a_read_key(app: FastAPI, client: httpx.AsyncClient) -> None:
    text = (DATA / "godaddy_2012_es.txt").read_text()
    body = {
        "text": text,
        "lang": "es",
        "exposure": "none",
        "exposure_signed_off": True,
        "measured_availability": "99.9995",
        "cause_owner": "internal",
    }
    response = await client.post(f"{API}/audit", json=body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["blocked"] is True
    assert len(report["steps"]) == 7 and all(s["present"] for s in report["steps"])
    assert {f["rule"] for f in report["findings"] if f["verdict"] == "block"} == {"N2"}
    assert [p["number"] for p in report["practices"]] == [1, 2, 3, 4, 5]
    s1 = next(f for f in report["findings"] if f["rule"] == "S1")
    assert s1["verdict"] == "pass" and "Scott Wagner" in s1["evidence"]
    assert "S4" not in {f["rule"] for f in report["findings"]}
    # The same message as an SMS that promises two months' worth: S4 names it.
    sms = "GoDaddy: lo sentimos. Su crédito: 2 meses, 19,98 US$."
    checked = (await client.post(f"{API}/audit", json={**body, "forms": {"sms": sms}})).json()
    s4 = next(f for f in checked["findings"] if f["rule"] == "S4")
    assert s4["verdict"] == "warn" and "19,98 US$" in s4["evidence"]
    error_of(
        await client.post(f"{API}/audit", json={**body, "kind": "poem"}), 422, "validation_failed"
    )
    error_of(await client.post(f"{API}/audit", json={**body, "incident_id": 999}), 404, "not_found")
    async with in_process(app) as anonymous:
        error_of(await anonymous.post(f"{API}/audit", json=body), 401, "unauthorized")
