"""``amends credits webhook …``: the billing endpoints that receive credit events."""

from __future__ import annotations

import typer

from amends.cli.context import JsonOption, console, emit, state
from amends.credits import webhooks
from amends.credits.schemas import BillingEndpointCreated, BillingEndpointOut

app = typer.Typer(
    no_args_is_help=True,
    help="Billing endpoints: credit.issued / credit.redeemed events, signed (Standard Webhooks).",
)


@app.command("add")
def add(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="The billing system's http(s) URL."),
    description: str = typer.Option("", "--description", "-d"),
    as_json: bool = JsonOption,
) -> None:
    """Register URL; prints its signing secret, once (it is never shown again)."""
    with state(ctx).session() as session:
        row = webhooks.add_endpoint(session=session, url=url, description=description)
        created = BillingEndpointCreated(
            **BillingEndpointOut.of(row).model_dump(), secret=row.secret
        )
    emit(
        created.model_dump(mode="json"),
        as_json=as_json,
        render=lambda d: console.print(
            f"billing endpoint {d['id']}: {d['url']}\n"
            f"signing secret (shown once, keep it): {d['secret']}",
            highlight=False,
            soft_wrap=True,
        ),
    )


@app.command("list")
def list_cmd(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every billing endpoint (never its secret)."""
    with state(ctx).reading() as session:
        rows = [
            BillingEndpointOut.of(e).model_dump(mode="json")
            for e in webhooks.list_endpoints(session=session)
        ]
    emit(
        rows,
        as_json=as_json,
        render=lambda data: [
            console.print(
                f"{r['id']}  {r['url']}  "
                + (f"disabled since {r['disabled_at']}" if r["disabled_at"] else "active"),
                highlight=False,
                soft_wrap=True,
            )
            for r in data
        ],
    )


@app.command("enable")
def enable(ctx: typer.Context, endpoint_id: int) -> None:
    """Switch a disabled endpoint back on."""
    with state(ctx).session() as session:
        row = webhooks.enable_endpoint(session=session, endpoint_id=endpoint_id)
    console.print(f"billing endpoint {row.id} is active again", highlight=False)


@app.command("remove")
def remove(ctx: typer.Context, endpoint_id: int) -> None:
    """Stop sending credit events to this endpoint."""
    with state(ctx).session() as session:
        row = webhooks.remove_endpoint(session=session, endpoint_id=endpoint_id)
    console.print(f"billing endpoint {row.id} removed", highlight=False)
