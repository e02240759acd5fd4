"""``amends user``: the people who may sign in to the console.

The first admin is made here (there is nobody yet to make them in the
console). A password is prompted for, or generated and printed once; only
its argon2 hash is stored.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

import typer
from rich.table import Table

from amends.cli.context import JsonOption, console, emit, err_console, state
from amends.users import admin, auditlog
from amends.users import service as user_service
from amends.users.models import Role

app = typer.Typer(no_args_is_help=True, help="Console users and their roles.")
ACTOR = "cli"


@app.command("create")
def create(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The address they sign in with."),
    role: Role = typer.Option(..., "--role", help="viewer, communicator, approver or admin."),
    name: str = typer.Option("", "--name", help="Shown in the audit log and the console."),
    generate: bool = typer.Option(
        False, "--generate", help="Generate a password and print it once instead of asking."
    ),
) -> None:
    """Add a user. Without a terminal (or with --generate) the password is generated."""
    password = _password(generate)
    with state(ctx).session() as session:
        user = user_service.create_user(
            session=session, email=email, role=role, password=password[0], name=name
        )
        auditlog.record(
            session=session, actor=ACTOR, action="user.create", target=user.email,
            detail=f"role={user.role.value}",
        )  # fmt: skip
        address, given = user.email, user.role.value
    err_console.print(f"[bold]user {address}[/] ({given}) created.")
    if password[1]:
        typer.echo(password[0])
        err_console.print(
            "[bold yellow]warning:[/] this password is shown once; only its hash is kept."
        )


def _password(generate: bool) -> tuple[str, bool]:
    """(password, generated?): asked twice on a terminal, else generated."""
    if generate or not sys.stdin.isatty():
        return user_service.generate_password(), True
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        err_console.print("[bold red]error[/]: the two passwords differ")
        raise typer.Exit(1)
    return first, False


@app.command("list")
def list_users(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every user with their role. Never a password or its hash."""
    with state(ctx).session() as session:
        rows = [
            {
                "email": u.email,
                "name": u.name,
                "role": u.role.value,
                "created_at": u.created_at.isoformat(),
                "disabled": u.disabled_at is not None,
            }
            for u in user_service.list_users(session=session)
        ]
    emit(rows, as_json=as_json, render=_render)


def _render(rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no users (create one with `amends user create EMAIL --role admin`)")
        return
    table = Table("email", "name", "role", "created", "disabled")
    for row in rows:
        table.add_row(
            row["email"], row["name"], row["role"], row["created_at"][:16], str(row["disabled"])
        )
    console.print(table)


@app.command("role")
def set_role(
    ctx: typer.Context,
    email: str = typer.Argument(...),
    role: Role = typer.Option(..., "--role"),
) -> None:
    """Change a user's role; their open sessions end. The last enabled admin stays admin."""
    with state(ctx).session() as session:
        found = user_service.get_user(session=session, email=email)
        user = admin.change_role(session=session, user_id=found.id, role=role)
        auditlog.record(
            session=session, actor=ACTOR, action="user.role", target=user.email,
            detail=f"role={user.role.value}",
        )  # fmt: skip
    console.print(f"{email}: now {role.value}")


@app.command("disable")
def disable(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """They can no longer sign in, and their sessions end now. Not the last enabled admin."""
    with state(ctx).session() as session:
        found = user_service.get_user(session=session, email=email)
        user = admin.disable(session=session, user_id=found.id)
        auditlog.record(session=session, actor=ACTOR, action="user.disable", target=user.email)
        address = user.email
    console.print(f"{address}: disabled; their sessions have ended")


@app.command("enable")
def enable(ctx: typer.Context, email: str = typer.Argument(...)) -> None:
    """They may sign in again, with the password they had."""
    with state(ctx).session() as session:
        found = user_service.get_user(session=session, email=email)
        user = admin.enable(session=session, user_id=found.id)
        auditlog.record(session=session, actor=ACTOR, action="user.enable", target=user.email)
        address = user.email
    console.print(f"{address}: enabled")
