"""``amends credits …``: policies, preview, issue, the ledger and its reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from amends.availability.service import rules_from
from amends.catalog import service as catalog_service
from amends.cli.context import JsonOption, console, emit, state
from amends.cli.credit_webhooks import app as webhook_app
from amends.credits import issuance, policies, preview, redemption
from amends.credits import service as ledger
from amends.credits.models import CreditPolicy, CreditState
from amends.credits.money import money
from amends.incidents import service as incident_service

app = typer.Typer(no_args_is_help=True, help="Credit policies, issuance, the ledger, reports.")
policy_app = typer.Typer(no_args_is_help=True, help="Declarative credit policies (TOML).")
app.add_typer(policy_app, name="policy")
app.add_typer(webhook_app, name="webhook")

PolicyOption = typer.Option(
    ..., "--policy", "-p", help="Stored policy (key or key@version), built-in name, or TOML file."
)


def _policy(session: Session, name: str) -> CreditPolicy:
    path = Path(name)
    if path.suffix == ".toml" and path.is_file():
        return policies.save(session=session, document=path.read_text(), source=str(path))
    return policies.choose(session=session, name=name)


def _money(minor: int, currency: str) -> str:
    return money(minor, currency, "en")


@policy_app.command("add")
def policy_add(
    ctx: typer.Context, file: Path = typer.Argument(..., exists=True, dir_okay=False)
) -> None:
    """Store FILE as the next version of its policy (unchanged files keep their version)."""
    with state(ctx).session() as session:
        row = policies.save(session=session, document=file.read_text(), source=str(file))
        console.print(f"policy {row.key}@{row.version} ({row.kind})", highlight=False)


@policy_app.command("list")
def policy_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    with state(ctx).reading() as session:
        rows = [
            {
                "key": r.key,
                "version": r.version,
                "kind": r.kind,
                "created_at": r.created_at.isoformat(),
            }
            for r in policies.list_policies(session=session)
        ]
    emit(
        rows,
        as_json=as_json,
        render=lambda data: [
            console.print(f"{r['key']}@{r['version']}  {r['kind']}") for r in data
        ],
    )


@policy_app.command("show")
def policy_show(ctx: typer.Context, name: str) -> None:
    """Print a policy's TOML document."""
    with state(ctx).session() as session:
        typer.echo(_policy(session, name).document)


@app.command("preview")
def preview_cmd(
    ctx: typer.Context, incident_id: int, policy: str = PolicyOption, as_json: bool = JsonOption
) -> None:
    """What POLICY would credit for the incident — totals, distribution, examples, warnings."""
    app_state = state(ctx)
    with app_state.session() as session:
        if Path(policy).suffix == ".toml" and Path(policy).is_file():
            parsed, label = policies.parse(Path(policy).read_text(), source=policy), policy
        else:
            parsed, label = policies.peek(session=session, name=policy)
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        seen = preview.preview(
            session=session,
            incident=incident,
            policy=parsed,
            name=label,
            rules=rules_from(app_state.settings),
        )
    emit(seen.as_dict(), as_json=as_json, render=_render_preview)


def _render_preview(data: dict[str, Any]) -> None:
    console.print(
        f"[bold]incident #{data['incident_id']}[/], policy {data['policy']}: "
        f"{data['credits']:,} credits for {data['customers']:,} customers"
        + (f" ({data['already_issued']:,} already issued)" if data["already_issued"] else ""),
        highlight=False,
    )
    table = Table("currency", "credits", "total", "affected fees")
    for currency, got in data["by_currency"].items():
        table.add_row(
            currency,
            f"{got['credits']:,}",
            _money(got["amount_minor"], currency),
            _money(got["fees_minor"], currency),
        )
    console.print(table)
    shares = Table("share of fee", "credits")
    for row in data["distribution"]:
        shares.add_row(row["share_of_fee"], f"{row['credits']:,}")
    console.print(shares)
    examples = Table("site", "monthly price", "credit")
    for row in data["examples"]:
        examples.add_row(
            row["site"],
            _money(row["monthly_price_minor"], row["currency"]),
            _money(row["amount_minor"], row["currency"]),
        )
    console.print(examples)
    for warning in data["warnings"]:
        colour = {"block": "bold red", "warn": "yellow", "info": "cyan"}[warning["severity"]]
        console.print(
            f"[{colour}]{warning['severity']} {warning['rule']}[/]: {warning['message']}",
            highlight=False,
        )


@app.command("issue")
def issue_cmd(
    ctx: typer.Context, incident_id: int, policy: str = PolicyOption, as_json: bool = JsonOption
) -> None:
    """Issue the incident's credits (one per affected site; re-running adds nothing)."""
    app_state = state(ctx)
    with app_state.session() as session:
        row = _policy(session, policy)
        incident = incident_service.get_incident(session=session, incident_id=incident_id)
        parsed = policies.load(row)
        blocked = preview.blocking(
            session=session,
            incident=incident,
            policy=parsed,
            name=row.key,
            rules=rules_from(app_state.settings),
        )
        if blocked:
            raise typer.BadParameter(
                f"{blocked[0].rule}: {blocked[0].message}", param_hint="--policy"
            )
        result = issuance.issue(
            session=session,
            incident=incident,
            policy_row=row,
            policy=parsed,
            actor="cli",
            rules=rules_from(app_state.settings),
        )
        report = ledger.report(session=session, incident_id=incident_id)
    emit(
        {"created": result.created, "policy": result.policy, "report": report},
        as_json=as_json,
        render=lambda d: (
            console.print(f"{d['created']:,} credits issued under {d['policy']}"),
            render_report(d["report"]),
        ),
    )


@app.command("report")
def report_cmd(ctx: typer.Context, incident_id: int, as_json: bool = JsonOption) -> None:
    """Issued, available, redeemed, applied, expired: count and value by currency."""
    with state(ctx).reading() as session:
        incident_service.get_incident(session=session, incident_id=incident_id)
        data = ledger.report(session=session, incident_id=incident_id)
    emit(data, as_json=as_json, render=render_report)


def render_report(data: dict[str, Any]) -> None:
    table = Table("state", "currency", "credits", "value")
    for currency, got in data["issued"].items():
        table.add_row(
            "[bold]issued (all)[/]",
            currency,
            f"{got['credits']:,}",
            _money(got["amount_minor"], currency),
        )
    for name, by_currency in data["by_state"].items():
        for currency, got in by_currency.items():
            table.add_row(
                name, currency, f"{got['credits']:,}", _money(got["amount_minor"], currency)
            )
    console.print(f"incident #{data['incident_id']}: {data['customers']:,} customers credited")
    console.print(table)


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    incident_id: int,
    credit_state: CreditState = typer.Option(None, "--state"),
    limit: int = typer.Option(50, min=1, max=100_000),
    as_json: bool = JsonOption,
) -> None:
    """The incident's credits, oldest first (see `export` for all of them)."""
    with state(ctx).reading() as session:
        rows, _ = ledger.billing_page(
            session=session, state=credit_state, incident_id=incident_id, limit=limit
        )

    def render(data: list[dict[str, Any]]) -> None:
        table = Table("id", "customer", "site", "credit", "state", "available")
        for r in data:
            table.add_row(
                str(r["id"]), r["customer_external_id"], r["site_external_id"],
                _money(r["amount_minor"], r["currency"]), r["state"], r["available_at"][:10],
            )  # fmt: skip
        console.print(table)

    emit(rows, as_json=as_json, render=render)


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    output: Path = typer.Option(Path("-"), "--output", "-o", help="CSV file ('-' for stdout)."),
    incident_id: int = typer.Option(None, "--incident"),
    credit_state: CreditState = typer.Option(None, "--state"),
) -> None:
    """Every matching credit as CSV, for billing systems that take files."""
    with state(ctx).reading() as session:
        if str(output) == "-":
            ledger.export_csv(
                session=session, out=sys.stdout, state=credit_state, incident_id=incident_id
            )
            return
        with output.open("w", newline="", encoding="utf-8") as out:
            count = ledger.export_csv(
                session=session, out=out, state=credit_state, incident_id=incident_id
            )
    console.print(f"{count:,} credits written to {output}", highlight=False)


@app.command("advance")
def advance_cmd(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Run the clock: credits due become available (or applied, if automatic); old ones expire."""
    with state(ctx).session() as session:
        moved = ledger.advance(session=session, actor="cli")
    emit(
        moved,
        as_json=as_json,
        render=lambda d: console.print(", ".join(f"{k} {v:,}" for k, v in d.items())),
    )


@app.command("link")
def link_cmd(
    ctx: typer.Context,
    incident_id: int,
    customer: str = typer.Argument(..., help="Customer external id."),
    rotate: bool = typer.Option(
        False, "--rotate", help="A new URL for a link that leaked (the previous one stops working)."
    ),
) -> None:
    """One customer's redemption link: the same URL their apology carries."""
    app_state = state(ctx)
    with app_state.session() as session:
        found = catalog_service.get_customer(session=session, external_id=customer)
        if rotate:
            redemption.rotate(session=session, incident_id=incident_id, customer_id=found.id)
        summary = redemption.credit_summary(
            session=session,
            customer_id=found.id,
            incident_id=incident_id,
            base_url=app_state.settings.public_url,
        )
    if summary is None:
        raise typer.BadParameter(f"customer {customer!r} has no credit in incident {incident_id}")
    typer.echo(summary.redeem_url)
