"""``amends apikey``: issue, list and revoke keys for the REST API.

The key is printed once, at creation; only its hash is stored, so it cannot
be shown again — lose it and revoke it. Listings show the prefix, which names
a key without opening anything.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from amends.apikeys import service as apikey_service
from amends.apikeys.models import Scope
from amends.apikeys.schemas import ApiKeyOut
from amends.cli.context import JsonOption, console, emit, err_console, state

app = typer.Typer(no_args_is_help=True, help="API keys for the REST API.")


@app.command("create")
def create(
    ctx: typer.Context,
    scope: Scope = typer.Option(..., "--scope", help="read, write (includes read) or admin."),
    name: str = typer.Option("", "--name", help="Who or what uses it, e.g. 'alertmanager'."),
    as_json: bool = JsonOption,
) -> None:
    """Issue a key and print it — the only time it is ever shown."""
    with state(ctx).session() as session:
        key, plaintext = apikey_service.create(session=session, scope=scope, name=name)
        data = {**ApiKeyOut.of(key).model_dump(mode="json"), "key": plaintext}
    if as_json:
        emit(data, as_json=True)
        return
    # The key alone on stdout, so `KEY=$(amends apikey create ...)` captures just it.
    err_console.print(
        f"[bold]API key {data['prefix']}[/] ({data['scope']}"
        f"{', ' + data['name'] if data['name'] else ''}) created."
    )
    typer.echo(plaintext)
    err_console.print(
        "[bold yellow]warning:[/] store this key now; it will not be shown again "
        "(only its hash is kept)."
    )


@app.command("list")
def list_keys(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every key by prefix, with its scope and when it was last used. Never the key."""
    with state(ctx).session() as session:
        rows = [
            ApiKeyOut.of(k).model_dump(mode="json")
            for k in apikey_service.list_keys(session=session)
        ]
    emit(rows, as_json=as_json, render=_render)


def _render(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no API keys (create one with `amends apikey create --scope read`)")
        return
    table = Table("prefix", "scope", "name", "created", "last used", "revoked")
    for row in rows:
        table.add_row(
            row["prefix"],
            row["scope"],
            row["name"],
            _when(row["created_at"]),
            _when(row["last_used_at"]),
            _when(row["revoked_at"]),
        )
    console.print(table)


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "—"


@app.command("revoke")
def revoke(ctx: typer.Context, prefix: str = typer.Argument(..., help="The key's prefix.")) -> None:
    """Refuse a key from now on. It stays listed, marked revoked."""
    with state(ctx).session() as session:
        key = apikey_service.revoke(session=session, prefix=prefix)
        when = key.revoked_at
    console.print(f"API key [bold]{key.prefix}[/] revoked at {when:%Y-%m-%d %H:%M} UTC")
