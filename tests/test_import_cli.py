"""``amends import customers|sites`` driven as an operator drives it, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from amends.cli import app
from tests.factories import read_csv, snapshot, stored_customers, stored_sites, write_text

Amends = Callable[..., Result]

CUSTOMERS = (
    "external_id,name,email,phone,channels,opt_out\n"
    "C1,Lucía Núñez,lucia@example.es,+34612345678,email;sms,sms\n"
    'C2,"Bo, ""the"" Builder",bo@example.com,,email,\n'
)
BAD_CUSTOMERS = CUSTOMERS + "C3,Cy,cy.example.com,,email,\n"
SITES = (
    "external_id,customer,domain,plan,monthly_price,currency,components,started_at\n"
    "S1,C1,lucia.example.es,deluxe,7.99,EUR,dns;email,2011-03-01T00:00:00+01:00\n"
)


@pytest.fixture
def amends(database_url: str) -> Amends:
    runner = CliRunner()

    def run(*args: str | Path, code: int = 0) -> Result:
        result = runner.invoke(
            app,
            [str(a) for a in args],
            env={"AMENDS_DATABASE_URL": database_url, "AMENDS_AUTO_MIGRATE": "false"},
        )
        assert result.exit_code == code, result.output
        return result

    run("component", "add", "dns")
    run("component", "add", "email", "--depends-on", "dns")
    return run


def test_import_customers_then_sites_and_again(
    amends: Amends, engine: Engine, tmp_path: Path
) -> None:
    customers = write_text(tmp_path / "customers.csv", CUSTOMERS)
    sites = write_text(tmp_path / "sites.csv.gz", SITES, gz=True)
    first = json.loads(amends("import", "customers", customers, "--json").stdout)
    assert first == {
        "kind": "customers", "file": str(customers), "read": 2, "inserted": 2, "updated": 0,
        "unchanged": 0, "rejected": 0, "rejects_file": None, "seconds": first["seconds"],
    }  # fmt: skip
    assert json.loads(amends("import", "sites", sites, "--json").stdout)["inserted"] == 1
    assert stored_sites(engine)["S1"]["monthly_price_minor"] == 799
    before = snapshot(engine)
    again = amends("import", "customers", customers).stdout
    assert f"{customers}: 2 rows read, 0 inserted, 0 updated, 2 unchanged, 0 rejected" in again
    assert json.loads(amends("import", "sites", sites, "--json").stdout)["unchanged"] == 1
    assert snapshot(engine) == before


def test_a_bad_row_fails_the_command_naming_file_line_and_field(
    amends: Amends, engine: Engine, tmp_path: Path
) -> None:
    path = write_text(tmp_path / "customers.csv", BAD_CUSTOMERS)
    before = snapshot(engine)
    refused = amends("import", "customers", path, "--json", code=1)
    assert refused.stdout == ""  # nothing for a script to mistake for a result
    assert refused.stderr.splitlines() == [
        f"error {path} line 4, field email: not a valid e-mail address: "
        "An email address must have an @-sign.",
        "nothing was imported",
    ]
    assert snapshot(engine) == before


def test_skip_invalid_writes_the_rejects_where_asked(
    amends: Amends, engine: Engine, tmp_path: Path
) -> None:
    path = write_text(tmp_path / "customers.csv", BAD_CUSTOMERS)
    report = tmp_path / "out" / "rejects.csv"
    report.parent.mkdir()
    result = json.loads(
        amends("import", "customers", path, "--skip-invalid", "--rejects", report, "--json").stdout
    )
    assert (result["inserted"], result["rejected"], result["rejects_file"]) == (2, 1, str(report))
    assert read_csv(report) == [
        ["line", "field", "reason", "external_id", "name", "email", "phone", "channels", "opt_out"],
        ["4", "email", "email: not a valid e-mail address: An email address must have an @-sign.",
         "C3", "Cy", "cy.example.com", "", "email", ""],
    ]  # fmt: skip
    assert sorted(stored_customers(engine)) == ["C1", "C2"]
    default = amends("import", "customers", path, "--skip-invalid").stdout
    assert f"rejects written to {path}.rejects.csv" in default
    assert read_csv(Path(f"{path}.rejects.csv")) == read_csv(report)


def test_the_format_option_reads_a_file_of_any_name(
    amends: Amends, engine: Engine, tmp_path: Path
) -> None:
    line = {"external_id": "C1", "name": "Ana", "email": "ana@example.com", "channels": ["email"]}
    path = write_text(tmp_path / "export.txt", json.dumps(line) + "\n")
    refused = amends("import", "customers", path, code=1)
    assert "cannot tell the format from the file name" in refused.stderr
    amends("import", "customers", path, "--format", "JSONL")
    assert stored_customers(engine)["C1"]["email"] == "ana@example.com"


def test_the_files_own_text_is_never_read_as_markup(
    amends: Amends, engine: Engine, tmp_path: Path
) -> None:
    """Rich markup in a value or a file name is printed as it is, not obeyed
    (``[/x]`` used to crash the command)."""
    path = write_text(tmp_path / "c[bold].csv", "external_id,name,email,locale\nC1,A,a@x.es,[/x]\n")
    refused = amends("import", "customers", path, code=1)
    assert f"error {path} line 2, field locale: unknown locale '[/x]'" in refused.stderr
    fixed = write_text(path, "external_id,name,email\nC1,A,a@example.es\n")
    assert f"{fixed}: 1 rows read, 1 inserted" in amends("import", "customers", fixed).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["customers", "missing.csv"], "does not exist"),
        (["customers"], "Missing argument"),
        (["sites", "x.csv", "--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_usage_errors_exit_with_code_2(
    amends: Amends, tmp_path: Path, args: list[str], message: str
) -> None:
    write_text(tmp_path / "x.csv", SITES)
    args = [str(tmp_path / a) if a.endswith(".csv") else a for a in args]
    assert message in amends("import", *args, code=2).stderr


def test_an_unknown_customer_in_a_sites_file_is_named(
    amends: Amends, engine: Engine, tmp_path: Path
) -> None:
    path = write_text(tmp_path / "sites.csv", SITES)
    refused = amends("import", "sites", path, code=1)
    assert f"error {path} line 2, field customer: no customer 'C1'" in refused.stderr
    assert stored_sites(engine) == {}
